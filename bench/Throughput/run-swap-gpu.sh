#!/usr/bin/env bash
# Issue 21, item 10, on the GPU machine: swap preemption vs recompute, and the prefix cache's host tier, on the
# Llama-3-8B shape (random bf16 weights built into /tmp/m8b by make_checkpoint.py). Staged by bench/peers/stage-gpu.sh
# (copied to .gpu/run-swap.sh); run from the repo root with carry [".gpu"]:   bash .gpu/run-swap.sh
# One device call (< 560 s wall, every step under its own timeout, cut to what is left of LIMIT):
#  (a) ShareGPT-like 1,000 (.gpu/wl/sharegpt-1000.json) with a 4 GiB KV cache (8B: 128 KiB of KV per token, so
#      2,048 blocks = 32,768 tokens, ~1/8 of what 512 running sequences of this list reach), so decoding preempts all
#      the time; recompute (no swap space) vs swap vs the cost model (auto), --swap-space-gib 16, one process.
#      Estimate: ~35-60 s per mode at ~6-10k output tok/s (the big-KV run does 10.2k on this list in 33 s) + ~10 s
#      load each -> ~150-210 s.
#  (b) agents-rounds: 32 distinct 4,096-token preambles x 16 rounds (512 requests, 64-token questions, 64 output
#      tokens), generated in-process (seed 0, identical to --write-requests); a 7 GiB KV cache (3,584 blocks: ~13
#      requests of 4,224 tokens, 40 % of the preambles), so the cyclic rounds evict every preamble before its next use;
#      --host-cache-gib 0,24 (24 GiB holds all 32 preambles' 16.5 GiB). Estimate: without the tier every round
#      prefills 133k tokens (~3.5-4 s at ~39k tok/s) + ~3 waves of 64 decode steps -> ~5-6 s x 16 = ~80-95 s; with
#      the tier ~16 GiB copied back per round (~0.5-1 s) -> ~30-40 s; + 2 loads -> ~130-160 s.
# Results in $OUT: swap-sharegpt1000-{recompute,swap,auto}.json, agents-rounds-host{0,24}.json, swap-gpu.log, machine.txt.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; G=$(cd "$(dirname "$0")" && pwd); M=/tmp/m8b
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PAGEDATTENTION_KERNEL_CACHE=/tmp/kc
LIMIT=${LIMIT:-555}; S=$SECONDS; LOG="$OUT/swap-gpu.log"
step() { local name=$1 t=$2; shift 2; local l=$((LIMIT - (SECONDS - S))); if [ $l -lt 20 ]; then echo "SKIP $name" | tee -a "$LOG"; return; fi
  [ $t -gt $l ] && t=$l; echo "== $name (timeout ${t}s, t=$((SECONDS - S))s)" | tee -a "$LOG"; timeout $t "$@" 2>&1 | grep -v "Loading weights\|Writing model" | tee -a "$LOG"; echo "== $name rc=${PIPESTATUS[0]} t=$((SECONDS - S))s" | tee -a "$LOG"; }
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; free -g | head -2; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt" | tee -a "$LOG"
[ -f "$G/wl/sharegpt-1000.json" ] || gunzip -kf "$G/wl/sharegpt-1000.json.gz"
[ -f $M/config.json ] || step ckpt 150 python3 "$G/make_checkpoint.py" 8b $M
TP="bash $G/on-device.sh dotnet $G/app/Throughput.dll --device cuda --model $M --max-num-batched-tokens 8192"
# one process per mode (same request list, same machine, back to back): a mode cut off by its timeout loses only itself
# auto last: recompute vs swap and the host tier come first when the call's time runs short
# MODES / HOSTS / AUTO pick a subset (e.g. after a change that only touches the swap copies): MODES="" HOSTS="0 24" AUTO=0
for mode in ${MODES-recompute swap}; do
  sw=""; [ $mode = recompute ] || sw="--swap-space-gib 16"
  step swap_sharegpt1000_$mode 90 $TP --max-num-seqs 512 --requests "$G/wl/sharegpt-1000.json" --kv-cache-gib 4 \
    --preemption $mode $sw --output "$OUT/swap-sharegpt1000-$mode.json"
done
# host 24 takes ~15 s longer to load (the 24 GiB of pinned host memory)
for host in ${HOSTS:-0 24}; do
  t=115; [ $host = 0 ] || t=170
  step agents_rounds_host$host $t $TP --max-num-seqs 256 --workload agents-rounds --preambles 32 --rounds 16 --preamble-len 4096 \
    --question-len 64 --answer-len 64 --kv-cache-gib 7 --host-cache-gib $host --output "$OUT/agents-rounds-host$host.json"
done
mode=auto
[ "${AUTO:-1}" = 1 ] && step swap_sharegpt1000_$mode 90 $TP --max-num-seqs 512 --requests "$G/wl/sharegpt-1000.json" --kv-cache-gib 4 \
  --preemption $mode --swap-space-gib 16 --output "$OUT/swap-sharegpt1000-$mode.json"
echo "run-swap finished t=$((SECONDS - S))s" | tee -a "$LOG"
