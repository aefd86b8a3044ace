#!/usr/bin/env bash
# Issue 18 item 4, prefill attention: the wide kernel (prefill_attention_wide[_precise], 128-row CTAs, two m16 tiles per
# warp; CudaKernels.WidePrefill, PAGEDATTENTION_PREFILL_WIDE=1) against the 64-row kernel. Written 2026-12-04 without a
# GPU; this script is its first run. Staged by bench/peers/stage-gpu.sh (copied to .gpu/run-prefill.sh); from the repo
# root, carry [".gpu"]:
#   PART=1 bash .gpu/run-prefill.sh   GpuCheck --prefill (both kernels against CpuOps.PagedAttention on every shape, the
#                                     wide kernel bit for bit against the 64-row one, timing of both at 8B 4 x 4096 and
#                                     1B 64 x 1024), the model-level prefill bench on the 1B shape with both kernels,
#                                     and the engine checks with the wide kernel on (~5 min with the checkpoint)
#   PART=2 bash .gpu/run-prefill.sh   the context sweep of run-scaling.sh (16 requests of 512 ... 32k prompt tokens,
#                                     bf16) with the wide kernel off and on (~6 min)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-580}; S=$SECONDS; R=/tmp/res-prefill; mkdir -p $R; PART=${PART:-1}; LOG="$OUT/log-prefill-$PART.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } | tee -a "$LOG" > "$R/machine.txt" 2>&1
T=tests/PagedAttention.Tests/Data/models; D="bash .gpu/on-device.sh dotnet"; G="$D .gpu/app/GpuCheck.dll"
if [ "$PART" = 1 ]; then
  step prefill 200 $G --prefill
  M1=/tmp/m1b; [ -f $M1/config.json ] || step ckpt1b 90 python3 .gpu/make_checkpoint.py 1b $M1
  step prefill_bench_1b 120 $G --prefill-bench $M1 --batches 1,16,64 --prompt 1024
  step engine_wide 150 env PAGEDATTENTION_PREFILL_WIDE=1 $G --models $T --engine $T
else
  # The context sweep's workload and the 131k-position config, as run-scaling.sh makes them.
  M=/tmp/m8b; ML=/tmp/m8b-131k; W=/tmp/wl-scaling
  [ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
  if [ ! -f $ML/config.json ]; then
    mkdir -p $ML && for f in $M/*; do [ "$(basename $f)" = config.json ] || ln -sf $f $ML/; done
    python3 - "$M/config.json" "$ML/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(max_position_embeddings=131072, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
  fi
  mkdir -p $W; xl=""
  for l in 512 2048 8192 32768; do f=$W/ctx-$l.json; xl="$xl,$f"
    [ -f $f ] || $D .gpu/app/Throughput.dll --vocab 128256 --max-model-len 33024 --seed $((7 + l)) --workload fixed --input-len $l --output-len 128 --num-requests 16 --write-requests $f > /dev/null; done
  TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --no-prefix-cache"
  for w in 0 1; do
    step context_wide$w 170 env PAGEDATTENTION_PREFILL_WIDE=$w $TP --model $ML --weight-quantization none --max-num-seqs 16 --max-model-len 33024 --requests ${xl#,} --output "$R/context_8b_bf16_wide$w.json"
  done
fi
echo "run-prefill part $PART finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-prefill-$PART.tgz" .
