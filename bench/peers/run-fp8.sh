#!/usr/bin/env bash
# Issue 18's FP8 layers (W8A8) on the GPU machine, in one device call: the FP8 kernels, FP8 vs bf16 teacher-forced on
# the tiny checkpoints, on an FP8 checkpoint against its dequantized twin and on the random 8B shape, then the engine
# on the 8B shape with bf16 and with FP8 layers on the same request lists. Staged by bench/peers/stage-gpu.sh (which
# copies this file to .gpu/run-fp8.sh); run from the repo root: bash .gpu/run-fp8.sh  with carry [".gpu"].
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-570}; S=$SECONDS; R=/tmp/res; mkdir -p $R; LOG="$OUT/log-fp8.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } | tee -a "$LOG" > "$R/machine-fp8.txt" 2>&1
M=/tmp/m8b; W=.gpu/wl; D="bash .gpu/on-device.sh dotnet"; T=tests/PagedAttention.Tests/Data
TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
step checks 150 $D .gpu/app/GpuCheck.dll --fp8-kernels --fp8-models $T/models/llama,$T/models/llama-bf16,$T/models/mistral,$T/models/qwen2,$T/models/qwen3,$T/fp8/llama-fp8-channel=$T/fp8/llama-fp8-channel-dequant
[ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
step fp8_8b 150 $D .gpu/app/GpuCheck.dll --fp8-models $M --continuation 32
for q in none fp8; do
  step engine_${q}_1000 110 $TP --weight-quantization $q --max-num-seqs 512 --requests $W/sharegpt-1000.json --output "$R/engine_8b_${q}_sharegpt1000.json"
done
for q in none fp8; do
  step engine_${q}_fixed 70 $TP --weight-quantization $q --max-num-seqs 256 --requests $W/fixed-512-256.json --output "$R/engine_8b_${q}_fixed512.json"
done
echo "run-fp8 finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-fp8.tgz" .
