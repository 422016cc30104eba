"""Warm probes for batchlab in JAX (docs/protocol.md, "Warm probes"); the PyTorch helper's twin.

    from warm_probe import serve
    serve(train_step)      # train_step(batch_size) runs ONE step and blocks until it is done

train_step must block (jax.block_until_ready on its result, or float(loss)), or the step times measure
only the dispatch. Run with XLA_PYTHON_CLIENT_PREALLOCATE=false, or JAX holds 75% of the GPU from the
start and every probe looks the same from outside.

JAX cannot reset its peak (memory_stats()['peak_bytes_in_use'] is the high-water mark since the process
started), so a probe reports peak_bytes only when it raised that mark (then the mark is its own);
otherwise it reports peak_at_most_bytes, the old mark. Between probes: gc.collect and jax.clear_caches.
On a CPU device (memory_stats() is None) it measures the process's resident memory instead, as the
PyTorch helper does there: VmHWM reset before each probe, so each peak is the probe's own.
Needs ../warm_protocol.py.

JAX is not installed where batchlab is tested: the tests run this file over a stand-in for the JAX calls it
makes (test/external/fixtures/fakejax, which models memory_stats() and XLA's out-of-memory error), so they
check its own logic, not JAX.
"""
import gc
import os
import sys

import jax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from warm_protocol import (  # noqa: E402
    failure, reset_host_peak, run_fresh, serve_requests, status_bytes, timed_steps, warm_requested)


def is_oom(exc):
    """XLA's RESOURCE_EXHAUSTED (XlaRuntimeError, JaxRuntimeError), or Python's MemoryError on the host."""
    return isinstance(exc, MemoryError) or 'RESOURCE_EXHAUSTED' in str(exc) or 'Out of memory' in str(exc)


def stats():
    return jax.devices()[0].memory_stats() or {}  # None on a CPU


def on_host():
    """True where XLA keeps no memory statistics (the CPU device): memory is then the process's RSS."""
    return jax.devices()[0].memory_stats() is None


def peak_now():
    """XLA's high-water mark since the process started, or on a CPU the VmHWM since the last reset_host_peak."""
    return status_bytes('VmHWM') if on_host() else stats().get('peak_bytes_in_use')


def in_use_now():
    return status_bytes('VmRSS') if on_host() else stats().get('bytes_in_use')


def run_probe(train_step, batch, steps):
    host = on_host()
    if host:
        reset_host_peak()
    before = None if host else stats().get('peak_bytes_in_use')
    step_ms = []
    try:
        timed_steps(train_step, batch, steps, lambda: None, step_ms)
        result = {'ok': True}
        peak = peak_now()
        if peak is not None:
            result['peak_bytes' if before is None or peak > before else 'peak_at_most_bytes'] = peak
    except Exception as exc:  # noqa: BLE001 - answered; the process serves the next probe
        result = failure(exc, is_oom(exc))
        del exc
    gc.collect()
    jax.clear_caches()
    if host:
        reset_host_peak()  # returns the freed heap first, so after_bytes is what the probe really left
    after = in_use_now()
    return {**result, 'step_ms': step_ms, **({'after_bytes': after} if after is not None else {})}


def stated():
    """What an ordinary trial states besides its peak: the cap of XLA's allocator on this device (bytes_limit)."""
    limit = stats().get('bytes_limit')
    return {} if limit is None else {'memory_limit_bytes': limit}


def serve(train_step):
    """Warm probes when BATCHLAB_WARM=1, else one ordinary trial (an OOM propagates to stderr)."""
    if not warm_requested():
        run_fresh(train_step, peak_now, lambda: None, stated)
        return
    s = stats()
    ready = {'device': str(jax.devices()[0]), 'measure': 'rss' if on_host() else 'xla-in-use', 'base_bytes': in_use_now(),
             'limit_bytes': s.get('bytes_limit')}  # bytes_limit: what XLA's allocator may use on this device
    serve_requests({k: v for k, v in ready.items() if v is not None}, lambda batch, steps: run_probe(train_step, batch, steps))
