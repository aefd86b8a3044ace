#!/usr/bin/env bash
# On the GPU machine (staged by bench/ServerBench/stage-gpu.sh): the Llama-3-8B shape (random bf16 weights, built once
# into /tmp/m8b by make_checkpoint.py, with the Llama-3 tokenizer and chat template copied in), then ServerBench:
# 256 requests x 256 output tokens, directly through the IChatClient vs through the server (SSE over loopback),
# two alternating rounds. Results: $OUT/server-bench-8b.json and the log.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; G=$(cd "$(dirname "$0")" && pwd); M=/tmp/m8b; LOG="$OUT/server-bench-8b.log"
APP=$G/app; [ -f "$G/server/ServerBench.dll" ] && APP=$G/server   # staged by stage-gpu.sh here, or by bench/peers/stage-gpu.sh (SERVER=1)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } | tee "$LOG"
[ -f $M/config.json ] || timeout 150 python3 "$G/make_checkpoint.py" 8b $M 2>&1 | tail -3 | tee -a "$LOG"
gunzip -c "$G/tok/tokenizer.json.gz" > $M/tokenizer.json && cp "$G/tok/tokenizer_config.json" $M/
timeout 420 bash "$G/on-device.sh" dotnet "$APP/ServerBench.dll" --model $M --device cuda --requests 256 --max-tokens 256 --rounds 2 \
  --max-num-seqs 256 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --output "$OUT/server-bench-8b.json" 2>&1 | tee -a "$LOG"
echo "rc=${PIPESTATUS[0]}" | tee -a "$LOG"
