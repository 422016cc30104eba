#!/usr/bin/env bash
# On a GPU device machine (no Node there): issue 17's check, bench/gpu/resnet18-capped/run.sh, with the
# bundled batchlab that bench/gpu/prepare-device.sh packs into .gpu/ (it copies this file to .gpu/go.sh).
# The device tool runs it as "bash .gpu/go.sh" with carry [".gpu"]; the results come back as
# $OUT/results.tgz (the raw outputs, summary.txt among them). The steps' time limits fit the whole run in
# 330 s, inside a 15-minute device budget with room to run it twice.
set -u
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
export NODE=/tmp/node
R=$OUT/r; mkdir -p "$R"
TOTAL_MIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits | head -1)
FM="/tmp/node .gpu/batchlab.mjs find-max --cmd \"python3 bench/gpu/resnet18-capped/resnet18.py\" --budget-on gpu --memory-budget ${TOTAL_MIB}MiB --max-batch 65536 --timeout 120 --target-batch 16384 --json"
export BATCHLAB_FIND_MAX_WARM="$FM --warm --db /tmp/warm.db"
export BATCHLAB_FIND_MAX_FRESH="$FM --db /tmp/fresh.db"
# The steps' limits total 280 s; with each step's kill grace and the start-ups the run fits the 330 s below.
export GT_LIMIT_S=70 SWEEP_LIMIT_S=25 LIGHTNING_LIMIT_S=45 WARM_LIMIT_S=55 FRESH_LIMIT_S=85
set -m  # the run gets a process group of its own (its id is $P), so one kill ends all of it
bash bench/gpu/resnet18-capped/run.sh "$R" > "$R/run-log.txt" 2>&1 &
P=$!
set +m
T0=$(date +%s)
while kill -0 $P 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 330 ]; do sleep 2; done
kill -- -$P 2>/dev/null
sleep 1
cd "$OUT" && tar czf results.tgz r && rm -rf r
tar xzf results.tgz -O r/summary.txt 2>/dev/null; tar xzf results.tgz -O r/run-log.txt | tail -40
