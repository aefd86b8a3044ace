#!/usr/bin/env bash
# Run 1: HF transformers peers on the random Llama-3.2-1B shape (no .NET engine in this run).
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv; nproc; free -g | head -2; } > "$OUT/machine.txt" 2>&1
timeout 165 python3 peers/hf_peers.py --shape 1b --requests wl/sharegpt.json --out "$OUT/peers_1b.jsonl" \
  --peers generate,generate_batch --batch-sizes 64 --job-limit-s 1 \
  --cb-configs '[{}, {"max_memory_percent": 0.9, "max_batch_tokens": 8192}]' --budget-s 120 --help-out "$OUT/api.txt" 2>&1 | tee "$OUT/log_1b_sharegpt.txt" || true
timeout 60 python3 peers/hf_peers.py --shape 1b --requests wl/fixed-512-256.json --out "$OUT/peers_1b.jsonl" \
  --peers generate --batch-sizes 256 --budget-s 50 2>&1 | tee "$OUT/log_1b_fixed.txt" || true
echo run1 finished
