#!/usr/bin/env bash
# A/B of two engine builds on the GPU machine, in one device call per part, runs interleaved B A A B so that drift
# cancels: .gpu/app (this build, "A") against .gpu/app-before (the build before a change, "B", staged from another
# checkout with bench/peers/stage-gpu.sh and copied in). Both read the same request lists (.gpu/wl).
#   PART=1 bash .gpu/ab.sh   1B checkpoint, GPU checks of build A (kernels, models, engine), 1B A/B
#   PART=2 bash .gpu/ab.sh   8B checkpoint, 8B A/B
# Workloads: ShareGPT-like 256 and fixed 512/256 (WL to change). Logs and JSON land in $OUT.
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; PART=${PART:-1}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
LOG="$OUT/ab-$PART.txt"; S=$SECONDS
say() { echo "== $* (t=$((SECONDS - S))s)" | tee -a "$LOG"; }
(cd .gpu/wl && gunzip -kf *.json.gz)
D="bash .gpu/on-device.sh dotnet"; W=.gpu/wl
WL=${WL:-$W/sharegpt.json,$W/fixed-512-256.json}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$LOG" 2>&1
run() { # build shape tag
  local app=$1 shape=$2 tag=$3 kc=/tmp/kc-$1
  say "$tag $shape ($app)"
  PAGEDATTENTION_KERNEL_CACHE=$kc timeout 200 $D .gpu/$app/Throughput.dll --device cuda --max-num-batched-tokens 8192 \
    --gpu-memory-utilization 0.9 --model /tmp/m$shape --max-num-seqs 256 --requests $WL --output "$OUT/$tag-$shape.json" 2>&1 \
    | grep -E "loaded|offline|TTFT" | tee -a "$LOG"
}
if [ "$PART" = 1 ]; then
  [ -f /tmp/m1b/config.json ] || { say ckpt1b; python3 .gpu/make_checkpoint.py 1b /tmp/m1b 2>&1 | tail -1 | tee -a "$LOG"; }
  say checks
  PAGEDATTENTION_KERNEL_CACHE=/tmp/kc-app timeout 200 $D .gpu/app/GpuCheck.dll --kernels --models tests/PagedAttention.Tests/Data/models \
    --engine tests/PagedAttention.Tests/Data/models > "$OUT/checks.txt" 2>&1; echo "checks rc=$?" | tee -a "$LOG"
  grep -E "SUMMARY|FAIL" "$OUT/checks.txt" | head -20 | tee -a "$LOG"
  run app-before 1b B1; run app 1b A1; run app 1b A2; run app-before 1b B2
else
  [ -f /tmp/m8b/config.json ] || { say ckpt8b; python3 .gpu/make_checkpoint.py 8b /tmp/m8b 2>&1 | tail -1 | tee -a "$LOG"; }
  run app-before 8b B1; run app 8b A1; run app 8b A2; run app-before 8b B2
fi
say done
