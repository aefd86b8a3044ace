#!/usr/bin/env bash
# Lead's final GPU run (main with the tensor-core prefill kernel): teacher-forced top-1 vs transformers bf16 (1B shape),
# the IChatClient on CUDA (models/default, serving mode through --api chat), and the engine benchmarks again.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-480}; S=$SECONDS; LOG="$OUT/final.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } >> $LOG 2>&1
TP="bash .gpu/on-device.sh dotnet .gpu/app/Throughput/Throughput.dll --device cuda --max-num-seqs 256 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9"
step ckpt1b 60 python3 .gpu/make_checkpoint.py 1b /tmp/m1b
step tf_prepare 90 python3 tools/fidelity/teacher_forced.py prepare /tmp/m1b /tmp/tf_tokens.json $OUT/tf_ref.json --seqs 4 --len 80
step tf_engine 90 bash .gpu/on-device.sh dotnet .gpu/app/GpuFidelity/GpuFidelity.dll --model /tmp/m1b --tokens /tmp/tf_tokens.json --out $OUT/tf_engine.json
step tf_compare 20 python3 tools/fidelity/teacher_forced.py compare $OUT/tf_ref.json $OUT/tf_engine.json $OUT/tf_result.json
step chat_cuda 90 bash .gpu/on-device.sh dotnet .gpu/app/Throughput/Throughput.dll --device cuda --model models/default --api chat --workload alpaca --num-requests 128 --rate 32 --seed 0 --output $OUT/chat_default_cuda.json
step eng1b_prefix 60 $TP --model /tmp/m1b --requests .gpu/wl/shared-prefix.json,.gpu/wl/fixed-1024-128.json --output $OUT/engine_1b.json
step eng1b_noprefix 40 $TP --model /tmp/m1b --requests .gpu/wl/shared-prefix.json --no-prefix-cache --output $OUT/engine_1b_noprefix.json
step ckpt8b 80 python3 .gpu/make_checkpoint.py 8b /tmp/m8b
step eng8b 90 $TP --model /tmp/m8b --requests .gpu/wl/sharegpt.json,.gpu/wl/fixed-512-256.json,.gpu/wl/fixed-1024-128.json --output $OUT/engine_8b.json
echo "final finished t=$((SECONDS - S))s" | tee -a $LOG
