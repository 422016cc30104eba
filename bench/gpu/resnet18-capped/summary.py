#!/usr/bin/env python3
"""The table of run.sh: each finder's answer against the ground truth, its trials and seconds (for the
batchlab rows the whole process, Node start included, and batchlab's own report: its search, its
trials in order, where it says samples/s stops improving and its --target-batch plan), and the warm
process's throughput curve with the batch where samples/s stops improving (the smallest batch within 5%
of the best measured samples/s). Prints the table; writes OUT/results.json with every number.

    python3 summary.py OUT_DIR
"""
import json
import os
import sys

SATURATION = 0.05  # within 5% of the best samples/s: more batch buys no more throughput
GOAL_WITHIN = 0.03  # the goal: within 3% below the true maximum, never above


def load(out, name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        return {'missing': f'{name}: {exc}'}


def verdict(answer, lo, hi):
    """'ok' when lo / (1 + 3%) <= answer <= lo (answer < hi: never above what fails); else why not."""
    if answer is None or lo is None:
        return '-'
    if hi is not None and answer >= hi:
        return 'ABOVE the maximum'
    if answer > lo:
        return 'inside the bracket'
    return 'ok' if answer >= lo / (1 + GOAL_WITHIN) else f'{(1 - answer / lo) * 100:.1f}% below'


def saturation(curve):
    ok = [c for c in curve if c.get('samples_per_sec')]
    if not ok:
        return None
    best = max(c['samples_per_sec'] for c in ok)
    return min(c['probe'] for c in ok if c['samples_per_sec'] >= (1 - SATURATION) * best)


def main():
    out = sys.argv[1]
    truth, warm, lightning = load(out, 'ground-truth.json'), load(out, 'warm-sweep.json'), load(out, 'lightning.json')
    rows = [load(out, 'batchlab-warm.json'), load(out, 'batchlab-fresh.json')]
    lo, hi = truth.get('lo'), truth.get('hi')
    print(f"ground truth: largest batch in [{lo}, {hi}) ({truth.get('outcome')}, {len(truth.get('probes', []))} fresh "
          f"probes, {truth.get('parallel')} at a time, {truth.get('seconds')} s)")
    print(f"{'finder':<22}{'answer':>9}  {'vs truth':<20}{'trials':>7}{'seconds':>9}  notes")
    lt = lightning.get('found')
    print(f"{'lightning binsearch':<22}{lt if lt is not None else '-':>9}  {verdict(lt, lo, hi):<20}"
          f"{lightning.get('trials', '-'):>7}{lightning.get('search_seconds', '-'):>9}  "
          f"process {lightning.get('process_seconds', '-')} s, {lightning.get('failed', '-')} OOM trials"
          f"{'; ' + lightning['missing'] if 'missing' in lightning else ''}")
    for r in rows:
        name = r.get('finder', '?')
        if r.get('skipped') or 'missing' in r:
            print(f"{name:<22}{'-':>9}  {'skipped':<20}{'-':>7}{'-':>9}  {r.get('missing', 'skipped')}")
            continue
        a = r.get('answer')
        worth = r.get('worth_from')
        note = (f"exit {r.get('exit')}; {r.get('strategy', '-')} search, {r.get('batchlab_seconds', '-')} s inside batchlab; "
                f"samples/s {r.get('throughput_outcome', '-')}, worth from {'~' if r.get('worth_basis') == 'fitted' else ''}"
                f"{worth if worth is not None else '-'}" + (f"; {r['error']}" if 'error' in r else ''))
        print(f"{name:<22}{a if a is not None else '-':>9}  {verdict(a, lo, hi):<20}{r.get('probes') or '-':>7}"
              f"{r.get('seconds', '-'):>9}  {note}")
    for r in rows:
        if r.get('trials'):
            trials = ', '.join(f"{t['batch']}{'' if t['kind'] == 'ok' else ' ' + t['kind']} ({t['seconds']} s)"
                               for t in r['trials'])
            print(f"  {r['finder']} trials: {trials}")
        if r.get('target_plan'):
            print(f"  {r['finder']} --target-batch 16384: {r['target_plan']}"
                  + (f"; as fast with less memory: {r['target_same_speed']}" if r.get('target_same_speed') else ''))
    curve = warm.get('curve', [])
    print(f"warm process: ready in {warm.get('ready_seconds')} s; agrees with the fresh ground truth: "
          f"{warm.get('agrees_with_fresh')}; {warm.get('missing', '')}")
    for c in curve:
        peak = c.get('peak_bytes')
        print(f"  B={c.get('probe'):>6}  {c.get('samples_per_sec', '-'):>10} samples/s  "
              f"peak {peak / 2**30 if peak else 0:.2f} GiB  {'ok' if c.get('ok') else 'OOM' if c.get('oom') else c.get('message', '')}")
    sat = saturation(curve)
    print(f"samples/s stops improving (within {SATURATION:.0%} of the best) at B = {sat}")
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump({'ground_truth': truth, 'warm_sweep': warm, 'lightning': lightning, 'batchlab': rows,
                   'saturation_batch': sat}, f, indent=1)


if __name__ == '__main__':
    main()
