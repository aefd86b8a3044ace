#!/usr/bin/env bash
# Issue 14 item 10 and issue 18 item 1 on the GPU machine, one device call (staged by bench/peers/stage-gpu.sh, which
# also copies the Llama-3 tokenizer test fixture into .gpu/tok):
#   1. the 8B shape (random bf16 weights, Llama-3 vocabulary) with the Llama-3 tokenizer beside it;
#   2. 256 ShareGPT-like requests, unconstrained vs all constrained to a tool-call schema, alternating rounds;
#   3. the engine workloads and the single stream again, judged against the corrected per-device roofline.
# Usage on the device: [PARTS=constrained,engine,single] bash .gpu/run-constrained.sh   (results in $OUT/results-constrained.tgz and the log)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-570}; S=$SECONDS; R=/tmp/res; mkdir -p $R; LOG="$OUT/log-constrained.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory,clocks.max.sm --format=csv; } > "$R/machine.txt" 2>&1
cat "$R/machine.txt" | tee -a "$LOG"
M=/tmp/m8b; W=.gpu/wl; D="bash .gpu/on-device.sh dotnet"
TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
[ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
(cd .gpu/tok && gunzip -kf tokenizer.json.gz); cp .gpu/tok/tokenizer.json .gpu/tok/tokenizer_config.json $M/
PARTS=${PARTS:-constrained,engine,single}
[[ $PARTS == *constrained* ]] && step constrained 300 $TP --max-num-seqs 256 --requests $W/sharegpt.json --constrain .gpu/tool-call.json --ab-rounds 2 --output "$R/engine_8b_constrained.json"
[[ $PARTS == *engine* ]] && step engine 150 $TP --max-num-seqs 256 --requests $W/sharegpt.json,$W/fixed-512-256.json,$W/fixed-1024-128.json --output "$R/engine_8b_roofline.json"
[[ $PARTS == *single* ]] && step single_stream 60 $D .gpu/app/GpuCheck.dll --bench $M --batches 1,64,256 --steps 64 --prompt 1024
echo "run-constrained finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-constrained.tgz" .
