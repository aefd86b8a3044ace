#!/usr/bin/env bash
# One GPU run per model, engine and peers together (issue 8's "measured in one run per model"), after the GPU checks
# (issue 6). Staged by bench/peers/stage-gpu.sh; run from the repo root on the GPU machine, in two parts per model
# (a device call is limited to 10 minutes; part b follows part a on the same warm machine):
#   SHAPE=1b PART=a bash .gpu/run-all.sh   checks, fidelity, engine (all workloads), single stream, generate_batch
#   SHAPE=1b PART=b bash .gpu/run-all.sh   transformers generate (static batches) on the same request lists
#   SHAPE=8b PART=a / PART=b               the same for the Llama-3-8B shape (no checks, no fidelity)
# Everything lands in $OUT/results-$SHAPE-$PART.tgz (the device returns at most 8 files) plus the log.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; SHAPE=${SHAPE:-1b}; PART=${PART:-a}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-570}; S=$SECONDS; R=/tmp/res; mkdir -p $R; LOG="$OUT/log-$SHAPE-$PART.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } > "$R/machine-$SHAPE-$PART.txt" 2>&1
M=/tmp/m$SHAPE; W=.gpu/wl; D="bash .gpu/on-device.sh dotnet"
TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
if [ "$PART" = a ]; then
  [ -f $M/config.json ] || step ckpt 120 python3 .gpu/make_checkpoint.py $SHAPE $M   # the peers build the same model in memory
  if [ "$SHAPE" = 1b ]; then
    step checks 120 $D .gpu/app/GpuCheck.dll --kernels --models tests/PagedAttention.Tests/Data/models --engine tests/PagedAttention.Tests/Data/models
    step fidelity 150 bash -c "python3 tools/fidelity/teacher_forced.py prepare $M /tmp/tf.json $R/tf_ref.json --seqs 4 --len 80 && $D .gpu/app/GpuFidelity.dll --model $M --tokens /tmp/tf.json --out $R/tf_engine.json && python3 tools/fidelity/teacher_forced.py compare $R/tf_ref.json $R/tf_engine.json $R/tf_result.json"
  fi
  step engine 150 $TP --max-num-seqs 256 --requests $W/sharegpt.json,$W/fixed-512-256.json,$W/fixed-1024-128.json,$W/shared-prefix.json --output "$R/engine_$SHAPE.json"
  step engine_1000 100 $TP --max-num-seqs 512 --requests $W/sharegpt-1000.json --output "$R/engine_${SHAPE}_sharegpt1000.json"
  step engine_noprefix 60 $TP --max-num-seqs 256 --requests $W/shared-prefix.json --no-prefix-cache --output "$R/engine_${SHAPE}_noprefix.json"
  step single_stream 60 $D .gpu/app/GpuCheck.dll --bench $M --batches 1,64 --steps 64 --prompt 1024
else
  # Static batches: 256 for fixed lengths (the best in the earlier sweeps); ShareGPT-like at 256 (1B) or 128 (8B: a
  # padded batch of 256 x (1024 + 1481) tokens does not fit). generate_batch with its default config (the tuned
  # max_batch_tokens / async settings tried before were slower or did not finish); reported partial past 200 s.
  [ "$SHAPE" = 8b ] && BS=128 || BS=256
  step peer_generate_fixed 110 python3 .gpu/hf_peers.py --shape $SHAPE --requests $W/fixed-512-256.json --out "$R/peers_$SHAPE.jsonl" --peers generate --batch-sizes 256 --budget-s 100 --job-limit-s 90
  step peer_generate_sharegpt 200 python3 .gpu/hf_peers.py --shape $SHAPE --requests $W/sharegpt.json --out "$R/peers_$SHAPE.jsonl" --peers generate --batch-sizes $BS --budget-s 190 --job-limit-s 170
  step peer_generate_batch 240 python3 .gpu/hf_peers.py --shape $SHAPE --requests $W/sharegpt.json --out "$R/peers_$SHAPE.jsonl" --peers generate_batch --cb-configs '[{}]' --budget-s 10 --job-limit-s 200
fi
echo "run-all $SHAPE $PART finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-$SHAPE-$PART.tgz" .
