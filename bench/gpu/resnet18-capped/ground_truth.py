#!/usr/bin/env python3
"""The ground truth of the largest batch that fits: each probe a fresh process (BATCHLAB_MAX_STEPS steps at
BATCHLAB_BATCH_SIZE; passed = exit 0, too big = an out-of-memory message on stderr, anything else stops the
search), k probes at a time, until the bracket [lo passes, hi fails) is within --precision of lo or the
time cap is reached. One JSON object on stdout.

    python3 ground_truth.py --lo 1024 --hi 16384 --parallel 4 --time-cap 110 -- python3 resnet18.py

k-section: each round probes `parallel` batches spread evenly inside the bracket, which shrinks it by
parallel + 1. The probes of a round run at the same time on one GPU: each process's caching allocator is
capped by set_per_process_memory_fraction on its own, so where one fails does not depend on the others
while parallel x (cap + the CUDA context) fits the card (run.sh picks `parallel` so that it does).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

OOM_MARKERS = ('out of memory', "DefaultCPUAllocator: can't allocate memory", 'CUDNN_STATUS_ALLOC_FAILED')


def probe(cmd, batch, steps, timeout):
    env = {**os.environ, 'BATCHLAB_BATCH_SIZE': str(batch), 'BATCHLAB_MAX_STEPS': str(steps)}
    env.pop('BATCHLAB_WARM', None)
    env.pop('BATCHLAB_METRICS', None)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {'batch': batch, 'result': 'timeout', 'seconds': round(time.perf_counter() - t0, 1)}
    seconds = round(time.perf_counter() - t0, 1)
    steps_seen = [json.loads(line[len('batchlab:'):]) for line in r.stdout.splitlines() if line.startswith('batchlab:')]
    if r.returncode == 0:
        last = steps_seen[-1] if steps_seen else {}
        return {'batch': batch, 'result': 'ok', 'seconds': seconds, 'peak_bytes': last.get('peak_mem_bytes'),
                'step_ms': [s.get('step_ms') for s in steps_seen]}
    oom = next((line for line in r.stderr.splitlines() if any(m in line for m in OOM_MARKERS)), None)
    if oom is not None:
        return {'batch': batch, 'result': 'oom', 'seconds': seconds, 'message': oom[:600]}
    return {'batch': batch, 'result': 'error', 'seconds': seconds, 'stderr': r.stderr[-2000:]}


def inside(lo, hi, k):
    """k distinct batches spread evenly strictly between lo and hi."""
    return sorted({lo + (hi - lo) * i // (k + 1) for i in range(1, k + 1)} - {lo, hi})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--lo', type=int, required=True, help='a batch expected to fit (checked)')
    p.add_argument('--hi', type=int, required=True, help='a batch expected not to fit (checked)')
    p.add_argument('--steps', type=int, default=3, help='steps per probe (batchlab probes run 3)')
    p.add_argument('--parallel', type=int, default=4)
    p.add_argument('--precision', type=float, default=0.002, help='stop when hi - lo <= precision x lo')
    p.add_argument('--time-cap', type=float, default=110, help='seconds; the bracket so far is reported')
    p.add_argument('--probe-timeout', type=float, default=120)
    p.add_argument('cmd', nargs=argparse.REMAINDER, help='-- the command of one probe')
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ['--'] else a.cmd
    t0 = time.perf_counter()
    probes = []
    lo, hi = a.lo, a.hi
    outcome = 'found'
    with ThreadPoolExecutor(max_workers=max(2, a.parallel)) as pool:
        batches = [lo, hi]
        while True:
            results = list(pool.map(lambda b: probe(cmd, b, a.steps, a.probe_timeout), batches))
            probes += results
            bad = [r for r in results if r['result'] in ('error', 'timeout')]
            if bad:
                outcome = 'error'
                break
            passed = [r['batch'] for r in results if r['result'] == 'ok']
            failed = [r['batch'] for r in results if r['result'] == 'oom']
            if lo in failed or hi in passed:
                outcome = 'bad-bracket'
                break
            lo = max([lo] + [b for b in passed if b < hi])
            hi = min([hi] + [b for b in failed if b > lo])
            if hi - lo <= max(1, a.precision * lo):
                break
            if time.perf_counter() - t0 > a.time_cap:
                outcome = 'time-cap'
                break
            batches = inside(lo, hi, a.parallel)
    print(json.dumps({'outcome': outcome, 'lo': lo, 'hi': hi, 'seconds': round(time.perf_counter() - t0, 1),
                      'parallel': a.parallel, 'probes': probes}))
    return 0 if outcome in ('found', 'time-cap') else 1


if __name__ == '__main__':
    sys.exit(main())
