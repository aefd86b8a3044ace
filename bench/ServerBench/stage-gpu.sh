#!/usr/bin/env bash
# Stages the server-overhead benchmark (issue 15, item 10) for the GPU machine into <repo>/.gpu-server (git-ignored):
# the .NET runtime WITH ASP.NET Core (~35 MB xz), ServerBench published framework-dependent, the Llama-3 tokenizer and
# chat template (the 8B-shape checkpoint that bench/peers/make_checkpoint.py builds on the GPU has none; the template
# and tokenizer only shape the prompts, the weights are random either way), and the run script.
# Usage, from the repo root:  bash bench/ServerBench/stage-gpu.sh   then on the GPU:  bash .gpu-server/run.sh  (carry [".gpu-server"])
set -euo pipefail
top=$(git rev-parse --show-toplevel); cd "$top"
grep -qx '/.gpu-server/' .git/info/exclude 2>/dev/null || echo '/.gpu-server/' >> "$(git rev-parse --git-path info/exclude)"
rm -rf .gpu-server && mkdir -p .gpu-server/app .gpu-server/tok
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
tar -C "$root" -cJf .gpu-server/dotnet-runtime.tar.xz dotnet host shared/Microsoft.NETCore.App shared/Microsoft.AspNetCore.App
cp /work/shared/gpu/on-device.sh .gpu-server/on-device.sh
dotnet publish bench/ServerBench/ServerBench.csproj -c Release -o .gpu-server/app --no-self-contained -p:UseAppHost=false -v quiet
rm -rf .gpu-server/app/PagedAttention.DefaultModel    # not used on the GPU (the 8B shape is given with --model)
tok=${LLAMA3_TOKENIZER_DIR:-$HOME/.cache/pagedattention/tokenizers/llama3}   # tools/tokenizer-goldens/fetch-fixtures.sh puts it there
gzip -9c "$tok/tokenizer.json" > .gpu-server/tok/tokenizer.json.gz
cp "$tok/tokenizer_config.json" .gpu-server/tok/
cp bench/peers/make_checkpoint.py bench/ServerBench/run-gpu.sh .gpu-server/
mv .gpu-server/run-gpu.sh .gpu-server/run.sh
du -sh .gpu-server
