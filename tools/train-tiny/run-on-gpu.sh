#!/usr/bin/env bash
# What the GPU run executed (from a staging folder holding train.py and data/ made by prep_brown.py):
#   smoke test (12 steps, full pipeline) then the real training; results tarred into $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1
python3 train.py --data data --out /tmp/smoke --smoke 2>&1 | tee "$OUT/smoke.log"
python3 train.py --data data --out /tmp/final 2>&1 | tee "$OUT/train.log"
cp /tmp/final/golden.json /tmp/final/samples.txt /tmp/final/metrics.json "$OUT/"
tar cf /tmp/result.tar -C /tmp/final model
split -b 15M -d /tmp/result.tar "$OUT/model.tar.part"
