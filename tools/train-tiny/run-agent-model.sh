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
#
# Two chained device calls (one call is limited to 600 s; the machine's /tmp survives between them):
#   AGENT_PHASE=1 bash tools/train-tiny/run-agent-model.sh   (<= 560 s: corpus -> /tmp/agent-data, training
#       AGENT_PHASE1_TRAIN_SECONDS (400) or until 70 s before its deadline, checkpoint -> /tmp/agent-ckpt, then a
#       usable model, perplexity and goldens in $OUT as above, so a failed phase 2 still leaves a model)
#   AGENT_PHASE=2 bash tools/train-tiny/run-agent-model.sh   (<= 480 s: resumes from /tmp/agent-data and
#       /tmp/agent-ckpt, trains the rest of AGENT_TOTAL_TRAIN_SECONDS (700) or until 130 s before its deadline, then
#       perplexity, the held-out eval with transformers, goldens, export to $OUT)
# A phase-2 call that cannot finish AGENT_TOTAL_TRAIN_SECONDS before its deadline checkpoints to /tmp/agent-ckpt
# instead of running the held-out eval, and another AGENT_PHASE=2 call (the next one, same machine) continues: e.g.
# AGENT_TOTAL_TRAIN_SECONDS=1050 with phase 1 at 360 s takes phase 1 + two phase-2 calls.
# All phases must get the same AGENT_TOTAL_TRAIN_SECONDS (the LR cosine spans it) and the same extra arguments.
# AGENT_RUN_SECONDS overrides the deadline (default 560 for one call and phase 1, 480 for phase 2).
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
cd "$(dirname "$0")/../.."
: "${OUT:?set OUT to the output folder}"
PHASE=${AGENT_PHASE:-0}
case "$PHASE" in
  0) RUN=/tmp/agent-final; DEFAULT_SECONDS=560; PHASE_ARGS=() ;;
  1|2) RUN=/tmp/agent-p$PHASE; DEFAULT_SECONDS=$([ "$PHASE" = 1 ] && echo 560 || echo 480)
       PHASE_ARGS=(--phase "$PHASE" --total-train-seconds "${AGENT_TOTAL_TRAIN_SECONDS:-700}"
                   --phase1-train-seconds "${AGENT_PHASE1_TRAIN_SECONDS:-400}"
                   --data-cache /tmp/agent-data --ckpt /tmp/agent-ckpt) ;;
  *) echo "AGENT_PHASE must be 0, 1 or 2" >&2; exit 2 ;;
esac
S=$SECONDS
# everything must end inside the device call's 600 s: the real run shrinks its training budget to fit
DEADLINE=$(( $(date +%s) + ${AGENT_RUN_SECONDS:-$DEFAULT_SECONDS} ))
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
rm -rf "$RUN"  # never export a model left by an earlier attempt
echo "phase $PHASE: output $RUN, deadline in $((DEADLINE - $(date +%s))) s" | tee "$OUT/train.log"
python3 tools/train-tiny/train_agent.py --out "$RUN" --deadline "$DEADLINE" --export "$OUT" "${PHASE_ARGS[@]}" "$@" 2>&1 | tee -a "$OUT/train.log"
echo "real run (phase $PHASE): rc ${PIPESTATUS[0]}, $((SECONDS - S)) s since start" | tee -a "$OUT/train.log"
cp "$RUN/golden.json" "$RUN/metrics.json" "$OUT/" 2>/dev/null
if [ -f "$RUN/model/model.safetensors" ]; then
  (cd "$RUN" && sha256sum model/* | tee -a "$OUT/train.log")
  rm -f "$OUT"/agent-model.tar.part*
  tar cf /tmp/agent-model.tar -C "$RUN" model $(cd "$RUN" && ls samples.txt 2>/dev/null)
  split -b 15M -d /tmp/agent-model.tar "$OUT/agent-model.tar.part"
  [ "$PHASE" = 1 ] && ls -l /tmp/agent-data /tmp/agent-ckpt 2>&1 | tee -a "$OUT/train.log"
  ls -l "$OUT" | tee -a "$OUT/train.log"
else
  echo "REAL RUN FAILED: no model saved" | tee -a "$OUT/train.log"
  exit 1
fi
