#!/usr/bin/env bash
# Second GPU run: a few regularisation / schedule settings, one after another (so each wall time is
# a clean single-job number), then ship the one with the lowest *dev* perplexity (valid stays untouched).
set -uo pipefail
export PYTHONUNBUFFERED=1
declare -A CFG=(
  [a]="--epochs 12 --dropout 0.1"
  [b]="--epochs 16 --dropout 0.2"
  [c]="--epochs 20 --dropout 0.3"
  [d]="--epochs 24 --dropout 0.3 --wd 0.2 --lr 1.5e-3"
)
for k in a b c d; do
  echo "=== config $k: ${CFG[$k]}" | tee -a "$OUT/sweep.log"
  s=$SECONDS; python3 train.py --data data --out /tmp/cfg_$k ${CFG[$k]} 2>&1 \
    | grep -v 'Loading weights\|Writing model' | tee -a "$OUT/sweep.log"
  echo "config $k wall $((SECONDS - s)) s" | tee -a "$OUT/sweep.log"
done
best=$(python3 - <<'PY'
import json
r = {}
for k in "abcd":
    try:
        m = json.load(open(f"/tmp/cfg_{k}/metrics.json"))
        r[k] = m["valid"]["dev_ppl"]
        print(k, m["valid"], file=__import__("sys").stderr)
    except Exception as e:
        print(k, "failed", e, file=__import__("sys").stderr)
print(min(r, key=r.get))
PY
)
echo "BEST config: $best" | tee -a "$OUT/sweep.log"
cp /tmp/cfg_$best/golden.json /tmp/cfg_$best/samples.txt /tmp/cfg_$best/metrics.json "$OUT/"
tar cf /tmp/result.tar -C /tmp/cfg_$best model
split -b 15M -d /tmp/result.tar "$OUT/model.tar.part"
