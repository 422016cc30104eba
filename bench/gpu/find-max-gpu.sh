#!/usr/bin/env bash
# batchlab find-max --cmd against Lightning's batch-size finder, on a CUDA GPU with PyTorch and
# Lightning installed (the GPU check of the find-max/--cmd work). Run from the repository root:
#
#   bash bench/gpu/find-max-gpu.sh [OUT_DIR]        (default bench/results/gpu)
#
# Needs node (>= 20) with batchlab built (npm ci), python3 with torch and lightning, nvidia-smi.
# Steps, each with its own time limit so that one failure does not eat the others' time:
#   1. Lightning: Tuner.scale_batch_size(mode='binsearch'), its defaults (init 2, 25 trials, 3 steps each,
#      max_val 8192), then again with max_val 2^25.
#   2. batchlab find-max --cmd on examples/pytorch/train.py, budget = the card's memory through nvidia-smi.
#   3. Longer runs (50 steps) at each answer: does it survive?
# The model is the MNIST MLP 784-256-10 of the example; batches may exceed the 60k training samples
# (they then repeat samples), so the card's memory, not the dataset, sets the limit.
set -u
OUT_DIR=${1:-bench/results/gpu}
mkdir -p "$OUT_DIR"
PY=${PYTHON:-python3}
STEPS=${LONG_STEPS:-50}
say() { echo "== $(date +%T) $*"; }
json_field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; }

say "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT_DIR/gpu.csv"
"$PY" -c 'import torch, lightning; print("torch", torch.__version__, "lightning", lightning.__version__, "cuda", torch.cuda.is_available())'
node --version
TOTAL_MIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)

say "1. Lightning Tuner.scale_batch_size (binsearch)"
timeout 240 "$PY" bench/gpu/lightning_batch_finder.py find > "$OUT_DIR/lightning-find.json" 2> "$OUT_DIR/lightning-find.log"
echo "exit $?"; cat "$OUT_DIR/lightning-find.json"; grep -iE "batch size|succeeded|failed" "$OUT_DIR/lightning-find.log" | tail -40
LB0=$(json_field "$OUT_DIR/lightning-find.json" found)

say "1b. the same with max_val raised to 2^25 (Lightning's default max_val 8192 stops it at 8192)"
timeout 240 "$PY" bench/gpu/lightning_batch_finder.py find --max-val 33554432 > "$OUT_DIR/lightning-find-max-val.json" 2> "$OUT_DIR/lightning-find-max-val.log"
echo "exit $?"; cat "$OUT_DIR/lightning-find-max-val.json"; grep -iE "batch size|margin" "$OUT_DIR/lightning-find-max-val.log" | tail -8
LB=$(json_field "$OUT_DIR/lightning-find-max-val.json" found)

say "2. batchlab find-max --cmd, budget ${TOTAL_MIB} MiB (the card) measured by nvidia-smi"
timeout 330 node bin/batchlab.js find-max \
  --cmd "$PY examples/pytorch/train.py --batch-size {batch} --max-steps {max_steps}" \
  --budget-on gpu --memory-budget "${TOTAL_MIB}MiB" --max-batch 33554432 --max-trials 40 --timeout 120 \
  --db "$OUT_DIR/gpu.db" > "$OUT_DIR/batchlab-find.txt" 2> "$OUT_DIR/batchlab-find.log"
echo "exit $?"; cat "$OUT_DIR/batchlab-find.txt"; tail -5 "$OUT_DIR/batchlab-find.log"
BB=$(grep -oE '^answer +[0-9,]+' "$OUT_DIR/batchlab-find.txt" | grep -oE '[0-9,]+$' | tr -d ,)

say "3. longer runs (${STEPS} steps): Lightning B=${LB:-?}, example B=${LB:-?}, example B=${BB:-?}"
if [ -n "${LB:-}" ]; then
  timeout 120 "$PY" bench/gpu/lightning_batch_finder.py fit --batch-size "$LB" --steps "$STEPS" 2>&1 | grep -E '^\{|Error' | tail -3
  timeout 120 "$PY" examples/pytorch/train.py --batch-size "$LB" --max-steps "$STEPS" 2>&1 | tail -2 | cut -c1-400
fi
if [ -n "${BB:-}" ]; then
  timeout 120 "$PY" examples/pytorch/train.py --batch-size "$BB" --max-steps "$STEPS" 2>&1 | tail -2 | cut -c1-400
fi
say "done"
