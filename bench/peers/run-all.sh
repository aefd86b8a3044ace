#!/usr/bin/env bash
# One GPU run per model, engine and peers together (issue 8's "measured in one run per model"), after the GPU checks
# (issue 6). Staged by bench/peers/stage-gpu.sh; run from the repo root on the GPU machine:
#   SHAPE=1b bash .gpu/run-all.sh      (about 6 min)        SHAPE=8b bash .gpu/run-all.sh   (about 9 min)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; SHAPE=${SHAPE:-1b}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-560}; S=$SECONDS; LOG="$OUT/log-$SHAPE.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$OUT/machine.txt" 2>&1
M=/tmp/m$SHAPE; W=.gpu/wl
TP="bash .gpu/on-device.sh dotnet .gpu/app/Throughput.dll --device cuda --max-num-seqs 256 --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9"
if [ "$SHAPE" = 1b ]; then
  step checks 90 bash .gpu/on-device.sh dotnet .gpu/app/GpuCheck.dll --kernels --models tests/PagedAttention.Tests/Data/models --engine tests/PagedAttention.Tests/Data/models
fi
step ckpt 90 python3 .gpu/make_checkpoint.py $SHAPE $M
[ "$SHAPE" = 1b ] && step fidelity 120 bash -c "python3 tools/fidelity/teacher_forced.py prepare $M /tmp/tf.json $OUT/tf_ref.json --seqs 4 --len 80 && bash .gpu/on-device.sh dotnet .gpu/app/GpuFidelity.dll --model $M --tokens /tmp/tf.json --out $OUT/tf_engine.json && python3 tools/fidelity/teacher_forced.py compare $OUT/tf_ref.json $OUT/tf_engine.json $OUT/tf_result.json"
step engine 120 $TP --model $M --requests $W/sharegpt.json,$W/fixed-512-256.json,$W/fixed-1024-128.json,$W/shared-prefix.json --output "$OUT/engine_$SHAPE.json"
step engine_noprefix 60 $TP --model $M --requests $W/shared-prefix.json --no-prefix-cache --output "$OUT/engine_${SHAPE}_noprefix.json"
step peer_generate 150 python3 .gpu/hf_peers.py --shape $SHAPE --requests $W/fixed-512-256.json --out "$OUT/peers_$SHAPE.jsonl" --peers generate --batch-sizes 256 --budget-s 140 --job-limit-s 120
step peer_generate_batch 220 python3 .gpu/hf_peers.py --shape $SHAPE --requests $W/sharegpt.json --out "$OUT/peers_$SHAPE.jsonl" --peers generate_batch --cb-configs '[{"max_memory_percent": 0.9, "max_batch_tokens": 4096}]' --budget-s 10
echo "run-all $SHAPE finished t=$((SECONDS - S))s" | tee -a "$LOG"
