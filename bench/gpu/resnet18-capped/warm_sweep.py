#!/usr/bin/env python3
"""One warm process of resnet18.py (BATCHLAB_WARM=1, docs/protocol.md section 8) driven over its stdin:
the time to its ready line, a throughput curve (samples/s per batch from the steps after the first), and,
given the fresh-process ground truth's bracket, whether the warm process agrees with it (lo passes, hi
fails, lo passes again after that OOM: the process survives its OOM and its memory falls back). One
JSON object on stdout.

    python3 warm_sweep.py --batches 256,512,1024,2048,4096 --steps 5 --lo 6139 --hi 6177 -- python3 resnet18.py
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PREFIX = 'batchlab-warm: '


class Warm:
    def __init__(self, cmd):
        env = {**os.environ, 'BATCHLAB_WARM': '1', 'PYTHONUNBUFFERED': '1'}
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.ready = self.read()
        self.ready_seconds = round(time.perf_counter() - self.t0, 1)

    def read(self):
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX):])
        raise RuntimeError(f'the warm process ended (status {self.proc.wait()})')

    def probe(self, batch, steps):
        t0 = time.perf_counter()
        self.proc.stdin.write(json.dumps({'probe': batch, 'steps': steps}) + '\n')
        self.proc.stdin.flush()
        r = self.read()
        r['seconds'] = round(time.perf_counter() - t0, 2)
        ms = r.get('step_ms') or []
        if r.get('ok') and len(ms) >= 2:
            r['samples_per_sec'] = round(batch / (statistics.median(ms[1:]) / 1000), 1)
        return r

    def close(self):
        self.proc.stdin.write(json.dumps({'exit': True}) + '\n')
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--batches', default='256,512,1024,2048,4096')
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--lo', type=int, help="the ground truth's largest passing batch")
    p.add_argument('--hi', type=int, help="the ground truth's smallest failing batch")
    p.add_argument('cmd', nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ['--'] else a.cmd
    w = Warm(cmd)
    curve = [w.probe(int(b), a.steps) for b in a.batches.split(',')]
    check = []
    if a.lo and a.hi:
        check = [w.probe(a.lo, 3), w.probe(a.hi, 3), w.probe(a.lo, 3)]
    status = w.close()
    for r in curve + check:
        if 'message' in r:
            r['message'] = r['message'][:600]
    agrees = None if not check else bool(check[0].get('ok') and check[1].get('oom') and check[2].get('ok'))
    print(json.dumps({'ready': w.ready, 'ready_seconds': w.ready_seconds, 'curve': curve, 'check': check,
                      'agrees_with_fresh': agrees, 'exit_status': status,
                      'seconds': round(time.perf_counter() - w.t0, 1)}))


if __name__ == '__main__':
    sys.exit(main())
