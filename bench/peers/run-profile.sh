#!/usr/bin/env bash
# Issue 18 item 5: kernel profile of the 8B shape on the GPU machine (staged by bench/peers/stage-gpu.sh; carry .gpu).
# One decode step at batch 256 (256 x fixed 512/64, in the decode phase), one mixed prefill+decode step (the same
# workload during its prefill phase) and one 8,192-token prefill chunk (fixed 8192/1) -- eager launches (no CUDA
# graphs) so ncu sees every kernel; summarised per step by tools/profile/ncu_steps.py.
# EXTRA adds Throughput options to every run and TAG names the outputs, e.g. the FP8 end state of issue 18:
#   TAG=fp8 EXTRA="--weight-quantization fp8 --kv-cache-dtype fp8" bash .gpu/run-profile.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
M=/tmp/m8b; D="bash .gpu/on-device.sh"; TAG=${TAG:+-$TAG}; LOG=$OUT/log-profile$TAG.txt
[ -f $M/config.json ] || python3 .gpu/make_checkpoint.py 8b $M 2>&1 | tail -1 | tee -a $LOG
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1); echo "ncu: $NCU" | tee -a $LOG
# One-pass metrics only: a metric needing kernel replay makes ncu save and restore the whole KV cache per kernel.
MET=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum
TP=".gpu/app/Throughput.dll --device cuda --enforce-eager --max-num-batched-tokens 8192 --gpu-memory-utilization 0.5 --model $M --max-num-seqs 256 ${EXTRA:-}"
prof() { # name skip count workload-args...
  local name=$1 skip=$2 count=$3; shift 3
  echo "== $name" | tee -a $LOG
  timeout 150 $D $NCU --csv --clock-control none --launch-skip $skip --launch-count $count --metrics $MET dotnet $TP "$@" > /tmp/$name.csv 2>>$LOG
  echo "rc=$?" | tee -a $LOG
  pkill -f Throughput.dll; sleep 3   # a timed-out run must not keep its device memory
}
prof decode 12000 700 --workload fixed --input-len 512 --output-len 64 --num-requests 256
prof mixed 1200 700 --workload fixed --input-len 512 --output-len 64 --num-requests 256
prof prefill 0 900 --workload fixed --input-len 8192 --output-len 1 --num-requests 2 --max-model-len 8200
S=tools/profile/ncu_steps.py; P=4.8
{ python3 $S /tmp/decode.csv --peak-tbs $P --title "8B decode step, batch 256, context ~545"
  python3 $S /tmp/mixed.csv --peak-tbs $P --title "8B mixed step (prefill chunks + decodes), fixed 512/64, prefill phase"
  python3 $S /tmp/prefill.csv --peak-tbs $P --step 0 --title "8B 8,192-token prefill chunk"; } > $OUT/profile$TAG.md 2>>$LOG
cat $OUT/profile$TAG.md
for n in decode mixed prefill; do gzip -c /tmp/$n.csv > $OUT/$n$TAG.csv.gz; done
