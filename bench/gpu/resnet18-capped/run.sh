#!/usr/bin/env bash
# The GPU check of issue 17, in one script: find-max on a capped-memory ResNet-18 (batches in the
# thousands) against the ground truth and Lightning's batch-size finder. Run from the repository root:
#
#   NODE=/path/to/node bash bench/gpu/resnet18-capped/run.sh [OUT_DIR]    (default bench/results/resnet18-capped)
#
# Needs an NVIDIA GPU with nvidia-smi, python3 with CUDA torch (the PYTHON variable, default python3 on
# PATH: batchlab's probes run it too), pytorch-lightning 2.6 (lightning.pytorch) for step 3, and for the
# batchlab rows a Node >= 20 binary (the NODE variable, default node on PATH) and a built checkout
# (dist/ and node_modules/, as `npm ci && npm run build` leaves them). Each step has its own time limit,
# so that one failure cannot eat the others' time; together at most 5 + 90 + 40 + 70 + 70 + 110 s =
# 6.4 minutes of GPU time, about 4.5 when every step takes what it should:
#   1. the ground truth: k-section with a fresh process per probe, k at a time (ground_truth.py);
#   2. one warm process (warm_sweep.py): its start time, samples/s at B = 256..4096, and whether it
#      agrees with the fresh ground truth at the bracket's ends, an OOM survived in between;
#   3. Lightning's Tuner.scale_batch_size(mode='binsearch') on the same model (lightning_finder.py);
#   4. batchlab find-max with warm probes (--warm: one process serves every probe over stdin, the
#      answer verified in a fresh process), 5. with fresh probes (each probe a process of its own):
#        $NODE bin/batchlab.js find-max --cmd "$PYTHON bench/gpu/resnet18-capped/resnet18.py" [--warm] \
#          --budget-on gpu --memory-budget ${TOTAL_MIB}MiB --max-batch 65536 --timeout 120 \
#          --target-batch 16384 --json --db $OUT/{warm,fresh}.db
#      (the budget is the whole card, so the 24 GiB cap of resnet18.py is the limit that binds, as in
#      issue 17; --target-batch shows the accumulation plan joined to the batch worth using). The
#      environment variables BATCHLAB_FIND_MAX_WARM / BATCHLAB_FIND_MAX_FRESH replace a row's command;
#      set to "skip", the row is skipped. Each row's JSON report is batchlab-NAME.report.json, its
#      progress lines batchlab-NAME.log.
# 6. A summary table (summary.txt) and every number in results.json.
#
# Environment: NODE (node), PYTHON (python3), CAP_GIB (24: the per-process memory cap of resnet18.py),
# the time limits of the steps: GT_LIMIT_S (90), SWEEP_LIMIT_S (40), LIGHTNING_LIMIT_S (70), WARM_LIMIT_S (70)
# and FRESH_LIMIT_S (110).
set -u
HERE=bench/gpu/resnet18-capped
OUT=${1:-bench/results/resnet18-capped}
PY=${PYTHON:-python3}
NODE=${NODE:-node}
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
echo "node $("$NODE" --version 2>&1)" | tee -a "$OUT/versions.txt"
[ -f dist/cli/main.js ] || echo "WARNING: dist/cli/main.js is missing: build batchlab (npm run build) for rows 4 and 5"
# Processes of the ground truth at a time: each holds the cap plus a CUDA context (~1 GiB); 4 GiB spare; at most 5.
PARALLEL=$(( (TOTAL_MIB / 1024 - 4) / (CAP_GIB + 1) ))
[ "$PARALLEL" -gt 5 ] && PARALLEL=5
[ "$PARALLEL" -lt 1 ] && PARALLEL=1
echo "cap ${CAP_GIB} GiB per process; ground truth ${PARALLEL} probes at a time"

say "1. ground truth: fresh process per probe, ${PARALLEL} at a time, 3 steps each"
# [2048, 16384): the check round confirms both ends; 4 rounds of k-section bring it within 0.5% of lo
# (30 samples at ~6,000), a sixth of batchlab's 3% goal.
timeout -k 5 "${GT_LIMIT_S:-90}" "$PY" "$HERE/ground_truth.py" --lo 2048 --hi 16384 --parallel "$PARALLEL" --steps 3 \
  --precision 0.005 --time-cap $(( ${GT_LIMIT_S:-90} - 20 )) --probe-timeout 45 -- "$PY" "$HERE/resnet18.py" \
  > "$OUT/ground-truth.json" 2> "$OUT/ground-truth.log"
echo "exit $?"
json() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; }
LO=$(json "$OUT/ground-truth.json" lo)
HI=$(json "$OUT/ground-truth.json" hi)
echo "largest batch that fits: in [${LO:-?}, ${HI:-?})"

say "2. one warm process: start, samples/s at B = 256..4096, agreement with the ground truth"
timeout -k 5 "${SWEEP_LIMIT_S:-40}" "$PY" "$HERE/warm_sweep.py" --batches 256,512,1024,2048,4096 --steps 5 ${LO:+--lo "$LO"} ${HI:+--hi "$HI"} \
  -- "$PY" "$HERE/resnet18.py" > "$OUT/warm-sweep.json" 2> "$OUT/warm-sweep.log"
echo "exit $?"

say "3. Lightning Tuner.scale_batch_size (binsearch)"
timeout -k 5 "${LIGHTNING_LIMIT_S:-70}" "$PY" "$HERE/lightning_finder.py" > "$OUT/lightning.json" 2> "$OUT/lightning.log"
echo "exit $?"; grep -iE "batch size|succeeded|failed" "$OUT/lightning.log" | tail -12

# One batchlab row: runs find-max with its time limit (SIGTERM first: batchlab then ends its probes'
# process groups), keeps its JSON report and progress lines, and writes batchlab-NAME.json.
batchlab_row() {
  local name=$1 cmd=$2 limit=$3
  if [ "$cmd" = skip ]; then
    echo "{\"finder\": \"batchlab-$name\", \"skipped\": true}" > "$OUT/batchlab-$name.json"
    echo "skipped"
    return
  fi
  echo "$cmd"
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout -k 10 "$limit" bash -c "$cmd" > "$OUT/batchlab-$name.report.json" 2> "$OUT/batchlab-$name.log"
  rc=$?
  t1=$(date +%s.%N)
  "$PY" - "$OUT/batchlab-$name.report.json" "$name" "$rc" "$t0" "$t1" "$cmd" > "$OUT/batchlab-$name.json" <<'PYEOF'
import json, sys
path, name, rc, t0, t1, cmd = sys.argv[1:7]
row = {'finder': 'batchlab-' + name, 'exit': int(rc), 'seconds': round(float(t1) - float(t0), 1), 'command': cmd}
try:
    r = json.load(open(path))
except (OSError, ValueError) as exc:
    row['error'] = f'no JSON report ({exc}); see batchlab-{name}.log'
else:
    w = r.get('throughput') or {}
    t = r.get('target') or {}
    row.update({
        'answer': r['answer']['batch'], 'peak_bytes': r['answer']['peakBytes'], 'probes': r['counts']['total'],
        'counts': r['counts'], 'batchlab_seconds': round(r['wallMs'] / 1000, 1), 'strategy': r['search']['strategy'],
        'bracket': [r['search'].get('lo'), r['search'].get('hi')], 'prediction_note': r['prediction']['note'],
        'worth_from': w.get('worthFrom'), 'worth_basis': w.get('basis'), 'throughput_outcome': w.get('outcome'),
        'best_samples_per_sec': (w.get('best') or {}).get('samplesPerSec'),
        'best_batch': (w.get('best') or {}).get('batchSize'),
        'throughput_points': [[p['batchSize'], round(p['samplesPerSec'], 1)] for p in w.get('points', [])],
        'target_plan': (t.get('plan') or {}).get('text'), 'target_same_speed': (t.get('sameSpeed') or {}).get('text'),
        'trials': [{'phase': p['phase'], 'batch': p['batch'], 'kind': p['kind'], 'seconds': round(p['ms'] / 1000, 1),
                    'peak_bytes': p.get('peakBytes'), 'why': p.get('why')} for p in r['probes']],
    })
print(json.dumps(row))
PYEOF
  echo "exit $rc"; tail -3 "$OUT/batchlab-$name.log"
}

FIND_MAX="\"$NODE\" bin/batchlab.js find-max --cmd \"$PY $HERE/resnet18.py\" --budget-on gpu --memory-budget ${TOTAL_MIB}MiB --max-batch 65536 --timeout 120 --target-batch 16384 --json"
say "4. batchlab find-max, warm probes"
batchlab_row warm "${BATCHLAB_FIND_MAX_WARM:-$FIND_MAX --warm --db $OUT/warm.db}" "${WARM_LIMIT_S:-70}"
say "5. batchlab find-max, fresh probes"
batchlab_row fresh "${BATCHLAB_FIND_MAX_FRESH:-$FIND_MAX --db $OUT/fresh.db}" "${FRESH_LIMIT_S:-110}"

say "6. summary ($(( $(date +%s) - T0 )) s in all)"
"$PY" "$HERE/summary.py" "$OUT" | tee "$OUT/summary.txt"
