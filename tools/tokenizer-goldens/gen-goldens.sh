#!/usr/bin/env bash
# Regenerates tests/PagedAttention.Tests/Data/tokenizers/*.golden.jsonl with the official Rust tokenizer (npm tokenizers@0.23.2).
# usage: tools/tokenizer-goldens/gen-goldens.sh     (needs node + npm and the npm registry)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fixtures="${FIXTURES:-$HOME/.cache/pagedattention/tokenizers}"
"$here/fetch-fixtures.sh" "$fixtures"
oracle="$(mktemp -d)"; trap 'rm -rf "$oracle"' EXIT
(cd "$oracle" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund tokenizers@0.23.2 >/dev/null)
cp "$here/gen-golden.js" "$oracle/"
node "$here/make-texts.js" > "$here/texts.json"
out="$repo/tests/PagedAttention.Tests/Data/tokenizers"; mkdir -p "$out"
for p in llama3 qwen3 gemma3 llama2 gpt2 llama2-real; do
  node "$oracle/gen-golden.js" "$fixtures/$p/tokenizer.json" "$here/texts.json" > "$out/$p.golden.jsonl"
  echo "$p: $(wc -l < "$out/$p.golden.jsonl") cases"
done
