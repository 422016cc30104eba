#!/usr/bin/env bash
# The GPU check of issue 17, in one script: find-max on a capped-memory ResNet-18 (batches in the
# thousands) against the ground truth and Lightning's batch-size finder. Run from the repository root:
#
#   bash bench/gpu/resnet18-capped/run.sh [OUT_DIR]          (default bench/results/resnet18-capped)
#
# Needs an NVIDIA GPU with nvidia-smi, python3 with CUDA torch, pytorch-lightning 2.6 (lightning.pytorch)
# for step 3, and for the batchlab rows node >= 20 with batchlab built (npm ci && npm run build).
# Each step has its own time limit, so that one failure cannot eat the others' time; together at most
# 125 + 45 + 80 + 75 + 110 + a few seconds of checks = about 7.5 minutes of GPU time:
#   1. the ground truth: k-section with a fresh process per probe, k at a time (ground_truth.py);
#   2. one warm process (warm_sweep.py): its start time, samples/s at B = 256..4096, and whether it
#      agrees with the fresh ground truth at the bracket's ends, an OOM survived in between;
#   3. Lightning's Tuner.scale_batch_size(mode='binsearch') on the same model (lightning_finder.py);
#   4. batchlab find-max with warm probes, 5. with fresh probes: the commands are the environment
#      variables BATCHLAB_FIND_MAX_WARM and BATCHLAB_FIND_MAX_FRESH, filled in once find-max has its
#      warm probes and its limit search (the wiring round); empty, the row is skipped. Today's
#      fresh-process search runs with
#        BATCHLAB_FIND_MAX_FRESH="node bin/batchlab.js find-max --cmd 'python3 bench/gpu/resnet18-capped/resnet18.py' \
#          --budget-on gpu --memory-budget \${TOTAL_MIB}MiB --max-batch 65536 --timeout 120 --db \$OUT/fresh.db"
#      (it took 3 min 25 s in issue 17: past this row's 110 s). A warm row would add the flag the
#      wiring round gives warm probes. The answer is read from the "answer  N fits" line.
# 6. A summary table (summary.txt) and every number in results.json.
#
# Environment: PYTHON (python3), CAP_GIB (24: the per-process memory cap of resnet18.py).
set -u
HERE=bench/gpu/resnet18-capped
OUT=${1:-bench/results/resnet18-capped}
PY=${PYTHON:-python3}
export CAP_GIB=${CAP_GIB:-24}
mkdir -p "$OUT"
say() { echo "== $(date +%T) $*"; }
T0=$(date +%s)

say "0. machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
TOTAL_MIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
export TOTAL_MIB
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())' | tee "$OUT/versions.txt"
"$PY" -c 'import lightning; print("lightning", lightning.__version__)' 2>&1 | tail -1 | tee -a "$OUT/versions.txt"
node --version 2>&1 | tee -a "$OUT/versions.txt"
# Processes of the ground truth at a time: each holds the cap plus a CUDA context (~1 GiB); 4 GiB spare; at most 5.
PARALLEL=$(( (TOTAL_MIB / 1024 - 4) / (CAP_GIB + 1) ))
[ "$PARALLEL" -gt 5 ] && PARALLEL=5
[ "$PARALLEL" -lt 1 ] && PARALLEL=1
echo "cap ${CAP_GIB} GiB per process; ground truth ${PARALLEL} probes at a time"

say "1. ground truth: fresh process per probe, ${PARALLEL} at a time, 3 steps each"
timeout 125 "$PY" "$HERE/ground_truth.py" --lo 1024 --hi 16384 --parallel "$PARALLEL" --steps 3 \
  --precision 0.002 --time-cap 95 --probe-timeout 60 -- "$PY" "$HERE/resnet18.py" \
  > "$OUT/ground-truth.json" 2> "$OUT/ground-truth.log"
echo "exit $?"
json() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
LO=$(json "$OUT/ground-truth.json" lo)
HI=$(json "$OUT/ground-truth.json" hi)
echo "largest batch that fits: in [${LO:-?}, ${HI:-?})"

say "2. one warm process: start, samples/s at B = 256..4096, agreement with the ground truth"
timeout 45 "$PY" "$HERE/warm_sweep.py" --batches 256,512,1024,2048,4096 --steps 5 ${LO:+--lo "$LO"} ${HI:+--hi "$HI"} \
  -- "$PY" "$HERE/resnet18.py" > "$OUT/warm-sweep.json" 2> "$OUT/warm-sweep.log"
echo "exit $?"

say "3. Lightning Tuner.scale_batch_size (binsearch)"
timeout 80 "$PY" "$HERE/lightning_finder.py" > "$OUT/lightning.json" 2> "$OUT/lightning.log"
echo "exit $?"; grep -iE "batch size|succeeded|failed" "$OUT/lightning.log" | tail -12

# One batchlab row: runs the command with its time limit and writes batchlab-NAME.json.
batchlab_row() {
  local name=$1 cmd=$2 limit=$3
  if [ -z "$cmd" ]; then
    echo "{\"finder\": \"batchlab-$name\", \"skipped\": true}" > "$OUT/batchlab-$name.json"
    echo "skipped: BATCHLAB_FIND_MAX_${name^^} is not set"
    return
  fi
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout "$limit" bash -c "$cmd" > "$OUT/batchlab-$name.txt" 2> "$OUT/batchlab-$name.log"
  rc=$?
  t1=$(date +%s.%N)
  "$PY" - "$OUT/batchlab-$name.txt" "$name" "$rc" "$t0" "$t1" "$cmd" > "$OUT/batchlab-$name.json" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read()
answer = re.search(r'^answer\s+([\d,]+)', text, re.M)
probes = re.search(r'(\d+) probes \(', text)
print(json.dumps({'finder': 'batchlab-' + sys.argv[2], 'exit': int(sys.argv[3]),
                  'seconds': round(float(sys.argv[5]) - float(sys.argv[4]), 1), 'command': sys.argv[6],
                  'answer': int(answer.group(1).replace(',', '')) if answer else None,
                  'probes': int(probes.group(1)) if probes else None}))
PYEOF
  echo "exit $rc"; tail -4 "$OUT/batchlab-$name.txt"
}

say "4. batchlab find-max, warm probes"
batchlab_row warm "${BATCHLAB_FIND_MAX_WARM:-}" 75
say "5. batchlab find-max, fresh probes"
batchlab_row fresh "${BATCHLAB_FIND_MAX_FRESH:-}" 110

say "6. summary ($(( $(date +%s) - T0 )) s in all)"
"$PY" "$HERE/summary.py" "$OUT" | tee "$OUT/summary.txt"
