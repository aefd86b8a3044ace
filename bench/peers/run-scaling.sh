#!/usr/bin/env bash
# Issue 18 item 6: scaling curves for the 8B shape on the GPU machine — output tok/s and TPOT p50/p99 against
# concurrency (1 … 1,024 requests of 512 prompt + 256 output tokens, all at once) and against context length
# (16 requests of 512 … 32k prompt tokens, 128 output tokens each), bf16 and FP8 layers (W8A8) on the same checkpoint
# and request lists. Staged by bench/peers/stage-gpu.sh (copied to .gpu/run-scaling.sh); from the repo root on the
# device, carry [".gpu"]:
#   QUANTS="none fp8" bash .gpu/run-scaling.sh        (default both; one device call fits ~600 s, or split:
#   QUANTS=none … then QUANTS=fp8 … on the same warm machine — the checkpoint in /tmp is reused)
# Results: $OUT/results-scaling-<quants>.tgz (one Throughput JSON per sweep and dtype) and $OUT/log-scaling.txt;
# the plots: python3 tools/plots/make_scaling_plots.py (dev box, matplotlib from apt) from the committed results.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-575}; S=$SECONDS; R=/tmp/res-scaling; mkdir -p $R; LOG="$OUT/log-scaling.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory,clocks.max.sm --format=csv; } > "$R/machine.txt" 2>&1
cat "$R/machine.txt" | tee -a "$LOG"
M=/tmp/m8b; ML=/tmp/m8b-131k; W=/tmp/wl-scaling; D="bash .gpu/on-device.sh dotnet"
[ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
# The context sweep needs 32k positions: the same weights under Llama-3.1-8B's config (131,072 positions, llama3 RoPE
# scaling — the model SGLang's and vLLM's published 8B numbers use); links to the same safetensors.
if [ ! -f $ML/config.json ]; then
  mkdir -p $ML && for f in $M/*; do [ "$(basename $f)" = config.json ] || ln -sf $f $ML/; done
  python3 - "$M/config.json" "$ML/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c.update(max_position_embeddings=131072, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
fi
# Request lists: random token ids (seeded, a seed per point so no two lists share a prompt), written by the same program.
mkdir -p $W; CONC="1 4 16 64 256 1024"; CTX="512 1024 2048 4096 8192 16384 32768"; cl=""; xl=""
for n in $CONC; do f=$W/conc-$n.json; cl="$cl,$f"
  [ -f $f ] || $D .gpu/app/Throughput.dll --vocab 128256 --seed $((100 + n)) --workload fixed --input-len 512 --output-len 256 --num-requests $n --write-requests $f > /dev/null; done
for l in $CTX; do f=$W/ctx-$l.json; xl="$xl,$f"
  [ -f $f ] || $D .gpu/app/Throughput.dll --vocab 128256 --max-model-len 33024 --seed $((7 + l)) --workload fixed --input-len $l --output-len 128 --num-requests 16 --write-requests $f > /dev/null; done
TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --no-prefix-cache"
QUANTS=${QUANTS:-none fp8}
for q in $QUANTS; do
  step concurrency_$q 150 $TP --model $M --weight-quantization $q --max-num-seqs 1024 --requests ${cl#,} --output "$R/scaling_8b_${q}_concurrency.json"
  step context_$q 170 $TP --model $ML --weight-quantization $q --max-num-seqs 16 --max-model-len 33024 --requests ${xl#,} --output "$R/scaling_8b_${q}_context.json"
done
echo "run-scaling finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-scaling-${QUANTS// /-}.tgz" .
