#!/usr/bin/env bash
# Run 3 (lead): engine-on-CUDA checks with the GEMV kernel off, then the engine side of run 2 on main's build,
# the 8B `generate` static-batch peer and a tuned 1B `generate_batch` peer.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-540}; S=$SECONDS; LOG="$OUT/log.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 25 ]; then echo "SKIP $name (${l}s left)" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc; } > "$OUT/machine.txt" 2>&1
step check 80 bash .gpu/on-device.sh dotnet .gpu/app/GpuCheck/GpuCheck.dll --engine ../tests/PagedAttention.Tests/Data/models
TP="bash .gpu/on-device.sh dotnet .gpu/app/Throughput/Throughput.dll --device cuda --max-num-seqs 256 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9"
step ckpt1b 60 python3 peers/make_checkpoint.py 1b /tmp/m1b
step eng1b 90 $TP --model /tmp/m1b --requests wl/sharegpt.json,wl/fixed-512-256.json,wl/fixed-1024-128.json,wl/shared-prefix.json --output "$OUT/engine_1b.json"
step eng1b_noprefix 40 $TP --model /tmp/m1b --requests wl/shared-prefix.json --no-prefix-cache --output "$OUT/engine_1b_noprefix.json"
step eng1b_serving 60 $TP --model /tmp/m1b --requests wl/sharegpt.json --rate 16,64 --output "$OUT/engine_1b_serving.json"
step ckpt8b 80 python3 peers/make_checkpoint.py 8b /tmp/m8b
step eng8b 80 $TP --model /tmp/m8b --requests wl/sharegpt.json,wl/fixed-512-256.json,wl/fixed-1024-128.json --output "$OUT/engine_8b.json"
step peers8b_gen 110 python3 peers/hf_peers.py --shape 8b --requests wl/fixed-512-256.json --out "$OUT/peers.jsonl" --peers generate --batch-sizes 256 --budget-s 100 --job-limit-s 90
echo "run3 finished t=$((SECONDS - S))s" | tee -a "$LOG"
