#!/usr/bin/env bash
# Stages everything the one-command GPU run (bench/peers/run-all.sh) needs into <repo>/.gpu (git-ignored), from the
# main checkout (../shared/gpu/stage.sh does not work inside a git worktree). Keeps the travelling tree < 64 MiB:
# the .NET runtime (~26 MB), three published programs (~7 MB) and the gzipped request lists (~1.5 MB).
# Usage, from the repo root:  [SERVER=1] bash bench/peers/stage-gpu.sh    then run:  bash .gpu/run-all.sh  with carry [".gpu"]
# (or bash .gpu/run-swap.sh: swap preemption and the host tier, issue 21)
set -euo pipefail
top=$(git rev-parse --show-toplevel); cd "$top"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/app .gpu/wl
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
# SERVER=1 also stages ServerBench (issue 15's HTTP overhead run) with the ASP.NET Core runtime (~9 MB more).
if [ "${SERVER:-0}" = 1 ]; then
  tar -C "$root" -cJf .gpu/dotnet-runtime.tar.xz dotnet host shared/Microsoft.NETCore.App shared/Microsoft.AspNetCore.App
  dotnet publish bench/ServerBench/ServerBench.csproj -c Release -o .gpu/server --no-self-contained -p:UseAppHost=false -v quiet
  rm -rf .gpu/server/PagedAttention.DefaultModel .gpu/server/*.xml .gpu/server/*.pdb
  cp bench/ServerBench/run-gpu.sh .gpu/run-server.sh
else
  tar -C "$root" -cJf .gpu/dotnet-runtime.tar.xz dotnet host shared/Microsoft.NETCore.App
fi
cp ../shared/gpu/on-device.sh .gpu/on-device.sh 2>/dev/null || cp /work/shared/gpu/on-device.sh .gpu/on-device.sh
for p in bench/GpuCheck/GpuCheck.csproj bench/Throughput/Throughput.csproj bench/GpuFidelity/GpuFidelity.csproj; do
  dotnet publish "$p" -c Release -o .gpu/app --no-self-contained -p:UseAppHost=false -v quiet   # one folder: shared DLLs once
done
rm -rf .gpu/app/PagedAttention.DefaultModel .gpu/app/*.xml .gpu/app/*.pdb   # not used on the GPU; keeps the tree small
tp="dotnet .gpu/app/Throughput.dll --vocab 128256 --seed 0"
$tp --workload sharegpt --num-requests 256 --write-requests .gpu/wl/sharegpt.json
$tp --workload sharegpt --num-requests 1000 --write-requests .gpu/wl/sharegpt-1000.json
$tp --workload fixed --input-len 512 --output-len 256 --num-requests 256 --write-requests .gpu/wl/fixed-512-256.json
$tp --workload fixed --input-len 1024 --output-len 128 --num-requests 256 --write-requests .gpu/wl/fixed-1024-128.json
$tp --workload shared-prefix --num-requests 128 --write-requests .gpu/wl/shared-prefix.json
gzip -9 .gpu/wl/*.json
# The Llama-3 tokenizer (a test fixture, fetched by the tokenizer tests) for constrained runs on the 8B shape.
if [ -f "$HOME/.cache/pagedattention/tokenizers/llama3/tokenizer.json" ]; then
  mkdir -p .gpu/tok && cp "$HOME"/.cache/pagedattention/tokenizers/llama3/tokenizer*.json .gpu/tok/ && gzip -9f .gpu/tok/tokenizer.json
fi
cp bench/Throughput/schemas/tool-call.json .gpu/
cp bench/Throughput/run-swap-gpu.sh .gpu/run-swap.sh   # issue 21's swap / host-tier benchmark: bash .gpu/run-swap.sh
cp bench/peers/run-fp8.sh .gpu/run-fp8.sh   # issue 18's FP8 layers (W8A8): bash .gpu/run-fp8.sh
cp bench/peers/run-scaling.sh .gpu/run-scaling.sh   # issue 18 item 6, scaling curves: bash .gpu/run-scaling.sh
cp bench/peers/run-fp8kv.sh .gpu/run-fp8kv.sh   # issue 18 items 3 and 7, FP8 KV cache: PART=1 (checks) / PART=2 (throughput) bash .gpu/run-fp8kv.sh
cp bench/peers/run-profile.sh .gpu/run-profile.sh   # issue 18 item 5, ncu kernel profile: [TAG=fp8 EXTRA="..."] bash .gpu/run-profile.sh
cp bench/peers/run-mma.sh .gpu/run-mma.sh   # issue 18 item 4, tensor-core GQA decode: PART=1 (checks, bench) / PART=2 (throughput A/B) bash .gpu/run-mma.sh
cp bench/peers/run-prefill.sh .gpu/run-prefill.sh   # issue 18 item 4, wide prefill kernel (first GPU run): PART=1 (checks, timing) / PART=2 (context sweep A/B) bash .gpu/run-prefill.sh
cp bench/peers/run-all.sh bench/peers/run-constrained.sh bench/peers/ab.sh bench/peers/make_checkpoint.py bench/peers/hf_peers.py bench/GpuCheck/cublaslt_layout.c .gpu/
du -sh .gpu
