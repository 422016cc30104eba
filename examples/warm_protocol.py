"""batchlab's warm-probe protocol (docs/protocol.md, "Warm probes"), with no framework in it: the request
loop, the answer lines and the ordinary trial the same command runs for a fresh-process verification.
examples/pytorch/warm_probe.py and examples/jax/warm_probe.py add their framework's memory readings and
out-of-memory checks; copy this file next to the one you use.
"""
import ctypes
import json
import os
import sys
import time

PREFIX = 'batchlab-warm: '
PROTOCOL = 1
MESSAGE_CHARS = 4000  # an OOM message with all its figures fits; a long traceback is not needed


def warm_requested():
    """batchlab sets BATCHLAB_WARM=1 for a warm prober; without it the command is an ordinary trial."""
    return os.environ.get('BATCHLAB_WARM') == '1'


def answer(fields, out=None):
    out = out or sys.stdout
    out.write(PREFIX + json.dumps(fields) + '\n')
    out.flush()


def status_bytes(field):
    """A memory figure of this process from /proc/self/status, in bytes: 'VmRSS' (now) or 'VmHWM' (the peak)."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ':'))


def reset_host_peak():
    """Before a probe on a CPU: returns glibc's free heap and starts a new VmHWM, so the peak is the probe's own."""
    try:  # glibc keeps freed blocks of up to 32 MiB in its heap: give them back, or RSS stays high
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:  # "5" resets VmHWM to the current VmRSS (Linux 4.0+)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass


def timed_steps(train_step, batch, steps, sync, step_ms):
    """Runs the steps, appending each one's wall time in ms to step_ms (sync waits for the device first)."""
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        train_step(batch)
        sync()
        step_ms.append((time.perf_counter() - t0) * 1000)


def failure(exc, oom):
    """The fields of a probe that raised: an OOM, or any other error (never read as "too big")."""
    return {'ok': False, 'oom' if oom else 'error': True, 'message': f'{type(exc).__name__}: {exc}'[:MESSAGE_CHARS]}


def serve_requests(ready, run_probe, requests=None):
    """Says ready, then answers each request line with run_probe(batch, steps) until {"exit": true} or EOF."""
    answer({'ready': True, 'protocol': PROTOCOL, **ready})
    for line in requests or sys.stdin:
        try:
            req = json.loads(line)
            if req.get('exit'):
                return
            batch, steps = int(req['probe']), int(req.get('steps', 3))
            if batch < 1 or steps < 1:
                raise ValueError('probe and steps must be positive integers')
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            answer({'error': f'bad request {line.strip()!r}: {exc}'})
            continue
        answer({'probe': batch, **run_probe(batch, steps)})


def run_fresh(train_step, peak, sync, stated=None):
    """One ordinary trial: BATCHLAB_MAX_STEPS steps at BATCHLAB_BATCH_SIZE, a metrics line per step; an OOM propagates.

    stated() adds what the process knows of its memory to each line (memory_limit_bytes: a cap its allocator
    runs under; peak_reserved_bytes: what the allocator held at most), so a search learns the cap without
    an out-of-memory first (docs/protocol.md, section 2).
    """
    batch = int(os.environ.get('BATCHLAB_BATCH_SIZE', '64'))
    steps = int(os.environ.get('BATCHLAB_MAX_STEPS', '3'))
    path = os.environ.get('BATCHLAB_METRICS')
    out = open(path, 'a', buffering=1) if path else None
    for step in range(1, steps + 1):
        step_ms = []
        timed_steps(train_step, batch, 1, sync, step_ms)
        fields = {'step': step, 'samples': step * batch, 'peak_mem_bytes': peak(), 'step_ms': step_ms[0]}
        line = json.dumps({**fields, **(stated() if stated else {})})
        out.write(line + '\n') if out else print('batchlab: ' + line, flush=True)
