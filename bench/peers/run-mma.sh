#!/usr/bin/env bash
# Issue 18 item 4 on the GPU machine: the tensor-core GQA decode kernels (paged_attention_mma.cu; AttentionVariant 0, the
# default since 2026-12-04, and 8-10).
# Staged by bench/peers/stage-gpu.sh (copied to .gpu/run-mma.sh); from the repo root, carry [".gpu"]:
#   PART=1 bash .gpu/run-mma.sh   every kernel check (all variants, bf16 and FP8 KV), the attention microbenchmark, and
#                                 the engine-level checks with variant 8 (~6 min)
#   PART=2 bash .gpu/run-mma.sh   8B ShareGPT-1000, the CUDA-core kernel (variant 1) against VARIANT (default 8;
#                                 VARIANT_BF16 for the bf16 KV pair), alternated, for FP8 KV (two pairs), bf16 KV and FP8
#                                 weights + FP8 KV (~9 min with the checkpoint). The 2026-12-04 19:23Z run predates the
#                                 renumbering: the CUDA-core kernel was variant 0 then.
#   PART=3 bash .gpu/run-mma.sh   with the tensor-core kernels as the default: the FP8 KV checks (kernels, engine level,
#                                 agreement with bf16 KV on the trained default model and the tiny models), FP8 layers on
#                                 the default model, and the regression checks (kernels, prefill, FP8 kernels, models
#                                 against transformers, engine) (~6 min)
#   PART=4 bash .gpu/run-mma.sh   8B throughput with the new default: ShareGPT-1000 and fixed 512/256 for bf16, FP8 KV and
#                                 FP8 weights + FP8 KV (~6 min with the checkpoint)
#   PART=5 bash .gpu/run-mma.sh   after the FP8 encoder change (cvt.rn.satfinite.e4m3x2.f32): the FP8 kernel checks (codes
#                                 bit for bit against Fp8Quantizer), the FP8 kernel profile (TAG=fp8cvt), and 8B
#                                 ShareGPT-1000 FP8 / FP8 with cuBLASLt's timed algorithm search off and on (~5 min)
#   PART=6 bash .gpu/run-mma.sh   FP8 GEMMs in cuBLASLt's fast-accumulation mode (PAGEDATTENTION_FP8_FAST_ACCUM=1): FP8
#                                 layers against bf16 on the trained default model, then 8B ShareGPT-1000 FP8 / FP8 with
#                                 the mode off and on (~4 min with the checkpoint)
# The trained default model (40 MB) and .gpu do not fit the 64 MiB that travels together: a first call without carry
# copies it to the machine's /tmp (cp -r models/default /tmp/defmodel), and DEF points at it (default /tmp/defmodel).
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-580}; S=$SECONDS; R=/tmp/res-mma; mkdir -p $R; PART=${PART:-1}; LOG="$OUT/log-mma-$PART.txt"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } | tee -a "$LOG" > "$R/machine.txt" 2>&1
M=/tmp/m8b; DEF=${DEF:-/tmp/defmodel}; T=tests/PagedAttention.Tests/Data/models; D="bash .gpu/on-device.sh dotnet"; G="$D .gpu/app/GpuCheck.dll"
if [ "$PART" = 1 ]; then
  step checks 300 $G --kernels --kv-fp8 --attn-bench
  step engine_v8 150 env PAGEDATTENTION_ATTN_VARIANT=8 $G --models $T --engine $T --kv-fp8-engine $T/llama,$T/qwen3 --kv-fp8-models $T/llama=0,$T/qwen3=0
elif [ "$PART" = 3 ]; then
  [ -f $DEF/model.safetensors ] || { echo "no trained default model at $DEF: its checks are skipped" | tee -a "$LOG"; DEF=""; }
  step kv_fp8 200 $G --kv-fp8 --kv-fp8-engine ${DEF:+$DEF,}$T/llama,$T/qwen3 --kv-fp8-models ${DEF:+$DEF=0.98,}$T/llama=0,$T/qwen2=0,$T/qwen3=0
  [ -n "$DEF" ] && step fp8_weights_default 90 $G --fp8-models $DEF --continuation 48
  step regress 240 $G --kernels --prefill --fp8-kernels --models $T --engine $T
elif [ "$PART" = 4 ]; then
  [ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
  (cd .gpu/wl && gunzip -kf sharegpt-1000.json.gz fixed-512-256.json.gz)
  TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
  for c in "none bf16" "none fp8" "fp8 fp8"; do set -- $c
    step sharegpt1000_w${1}_kv$2 80 $TP --weight-quantization $1 --kv-cache-dtype $2 --max-num-seqs 512 --requests .gpu/wl/sharegpt-1000.json --output "$R/engine_8b_w${1}_kv${2}_sharegpt1000.json"
    step fixed512_w${1}_kv$2 60 $TP --weight-quantization $1 --kv-cache-dtype $2 --max-num-seqs 256 --requests .gpu/wl/fixed-512-256.json --output "$R/engine_8b_w${1}_kv${2}_fixed512.json"
  done
elif [ "$PART" = 5 ]; then
  step fp8_kernels 120 $G --fp8-kernels
  [ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
  step profile_fp8cvt 200 env TAG=fp8cvt EXTRA="--weight-quantization fp8 --kv-cache-dtype fp8" bash .gpu/run-profile.sh
  (cd .gpu/wl && gunzip -kf sharegpt-1000.json.gz)
  TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
  for g in 0 1; do
    step sharegpt1000_wfp8_kvfp8_search$g 70 env PAGEDATTENTION_GEMM_SEARCH=$g $TP --weight-quantization fp8 --kv-cache-dtype fp8 --max-num-seqs 512 --requests .gpu/wl/sharegpt-1000.json --output "$R/engine_8b_wfp8_kvfp8_search${g}_sharegpt1000.json"
  done
elif [ "$PART" = 6 ]; then
  [ -f $DEF/model.safetensors ] && step fp8_fast_accum_default 90 env PAGEDATTENTION_FP8_FAST_ACCUM=1 $G --fp8-models $DEF --continuation 48
  [ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
  (cd .gpu/wl && gunzip -kf sharegpt-1000.json.gz)
  TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
  for f in 1 0; do
    step sharegpt1000_wfp8_kvfp8_fastacc$f 70 env PAGEDATTENTION_FP8_FAST_ACCUM=$f $TP --weight-quantization fp8 --kv-cache-dtype fp8 --max-num-seqs 512 --requests .gpu/wl/sharegpt-1000.json --output "$R/engine_8b_wfp8_kvfp8_fastacc${f}_sharegpt1000.json"
  done
else
  [ -f $M/config.json ] || step ckpt 150 python3 .gpu/make_checkpoint.py 8b $M
  (cd .gpu/wl && gunzip -kf sharegpt-1000.json.gz fixed-512-256.json.gz)
  TP="$D .gpu/app/Throughput.dll --device cuda --max-num-batched-tokens 8192 --gpu-memory-utilization 0.9 --model $M"
  V=${VARIANT:-8}; VB=${VARIANT_BF16:-$V}
  for c in "none fp8 1 $V $V 1" "none bf16 1 $VB" "fp8 fp8 $V 1"; do set -- $c; w=$1 kv=$2; shift 2
    for v in "$@"; do set -- $w $kv
      step sharegpt1000_w${1}_kv${2}_v$v 70 env PAGEDATTENTION_ATTN_VARIANT=$v $TP --weight-quantization $1 --kv-cache-dtype $2 --max-num-seqs 512 --requests .gpu/wl/sharegpt-1000.json --output "$R/engine_8b_w${1}_kv${2}_v${v}_sharegpt1000_$SECONDS.json"
    done
  done
fi
echo "run-mma part $PART finished t=$((SECONDS - S))s" | tee -a "$LOG"
tar -C $R -czf "$OUT/results-mma-$PART.tgz" .
