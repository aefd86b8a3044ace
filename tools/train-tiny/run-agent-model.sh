#!/usr/bin/env bash
# The GPU run of issue 19: trains the agent default model and writes everything that comes back into $OUT.
#   bash tools/train-tiny/run-agent-model.sh            (from the repository root, on the GPU machine; $OUT set)
# 1. (only with AGENT_SMOKE=1) a smoke run of the whole pipeline on tiny data; stops there if it saved no model;
# 2. the real run (~9 min: corpus ~60 s, training until ~130 s before the deadline, perplexity, held-out eval,
#    CPU goldens); the deadline is 560 s after the start, so the whole command fits the device call's 600 s;
# 3. $OUT/: train.log, smoke.log, golden.json, metrics.json and agent-model.tar.partNN (15 MiB pieces of a tar of
#    model/ + samples.txt); reassemble with  cat agent-model.tar.part* | tar x  (gives model/ and samples.txt).
# Extra arguments go to the real run (e.g. --time-budget 200). The model parts are written to $OUT as soon as the
# model is saved, so a run cut short afterwards still returns it.
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the output folder}"
S=$SECONDS
# everything must end inside the device call's 600 s: the real run shrinks its training budget to fit
DEADLINE=$(( $(date +%s) + ${AGENT_RUN_SECONDS:-560} ))
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1 | tee "$OUT/smoke.log"
if [ "${AGENT_SMOKE:-0}" = 1 ]; then
  # optional (AGENT_SMOKE=1): the whole pipeline on tiny data first (~60 s, taken from the training budget)
  python3 tools/train-tiny/train_agent.py --out /tmp/agent-smoke --smoke 2>&1 | tee -a "$OUT/smoke.log" | tail -n 4
  echo "smoke run: rc ${PIPESTATUS[0]}, $((SECONDS - S)) s" | tee -a "$OUT/smoke.log"
  if [ ! -f /tmp/agent-smoke/model/model.safetensors ]; then
    echo "SMOKE RUN FAILED: no model saved; see smoke.log" | tee -a "$OUT/smoke.log"
    exit 1
  fi
fi
python3 tools/train-tiny/train_agent.py --out /tmp/agent-final --deadline "$DEADLINE" --export "$OUT" "$@" 2>&1 | tee "$OUT/train.log"
echo "real run: rc ${PIPESTATUS[0]}, $((SECONDS - S)) s since start" | tee -a "$OUT/train.log"
cp /tmp/agent-final/golden.json /tmp/agent-final/metrics.json "$OUT/" 2>/dev/null
if [ -f /tmp/agent-final/model/model.safetensors ]; then
  (cd /tmp/agent-final && sha256sum model/* | tee -a "$OUT/train.log")
  rm -f "$OUT"/agent-model.tar.part*
  tar cf /tmp/agent-model.tar -C /tmp/agent-final model $(cd /tmp/agent-final && ls samples.txt 2>/dev/null)
  split -b 15M -d /tmp/agent-model.tar "$OUT/agent-model.tar.part"
  ls -l "$OUT" | tee -a "$OUT/train.log"
else
  echo "REAL RUN FAILED: no model saved" | tee -a "$OUT/train.log"
  exit 1
fi
