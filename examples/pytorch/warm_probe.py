"""Warm probes for batchlab in PyTorch (docs/protocol.md, "Warm probes"): wrap any train_step(batch_size) once.

    from warm_probe import serve
    serve(train_step, device)       # train_step(batch_size) runs ONE training step at that batch

With BATCHLAB_WARM=1 (batchlab sets it for a warm prober) the process starts once and serves probes: it
says {"ready": true, ...}, then reads one JSON request per line on stdin, {"probe": 4096, "steps": 3},
runs the steps and answers with one line on stdout after "batchlab-warm: ": ok with the peak memory and
the step times, or oom with the allocator's message. Between probes it frees what the probe left (gc,
torch.cuda.empty_cache) and resets the peak (reset_peak_memory_stats; on a CPU the VmHWM). Without
BATCHLAB_WARM it is an ordinary trial (BATCHLAB_MAX_STEPS steps at BATCHLAB_BATCH_SIZE, a metrics line
per step) and an out-of-memory error is not caught, so batchlab sees it on stderr: that is how the final
verification runs the same command in a fresh process. Needs ../warm_protocol.py.
"""
import gc
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from warm_protocol import (  # noqa: E402
    failure, reset_host_peak, run_fresh, serve_requests, status_bytes, timed_steps, warm_requested)


def is_oom(exc):
    """torch.OutOfMemoryError (torch.cuda.OutOfMemoryError before 2.5), or an allocator's RuntimeError."""
    kinds = tuple(k for k in (getattr(torch, 'OutOfMemoryError', None), getattr(torch.cuda, 'OutOfMemoryError', None)) if k)
    if kinds and isinstance(exc, kinds):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(s in text for s in (
        'out of memory', "DefaultCPUAllocator: can't allocate memory", 'CUDNN_STATUS_ALLOC_FAILED', 'CUBLAS_STATUS_ALLOC_FAILED'))


class Memory:
    """Peak and current memory of this process: the CUDA caching allocator's on a GPU, else resident memory."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.cuda = self.device.type == 'cuda'
        if self.cuda and self.device.index is None:  # torch.cuda's per-process calls need an index ('cuda' -> 'cuda:N')
            self.device = torch.device('cuda', torch.cuda.current_device())

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def release(self):
        """Frees what the last probe left: its garbage, the allocator's cache; then starts a new peak."""
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        reset_host_peak()

    def peak(self):
        return torch.cuda.max_memory_allocated(self.device) if self.cuda else status_bytes('VmHWM')

    def now(self):
        return torch.cuda.memory_allocated(self.device) if self.cuda else status_bytes('VmRSS')

    def limit(self):
        """The cap set_per_process_memory_fraction puts on the caching allocator, in bytes; None without one."""
        if not self.cuda:
            return None
        fraction = getattr(torch.cuda, 'get_per_process_memory_fraction', None) or getattr(
            torch.cuda.memory, 'get_per_process_memory_fraction', None)  # recent torch only
        if fraction is None or fraction(self.device) >= 1:
            return None
        return int(fraction(self.device) * torch.cuda.mem_get_info(self.device)[1])

    def stated(self):
        """What an ordinary trial states of its memory besides its peak: the allocator's reserved peak and its cap."""
        if not self.cuda:
            return {}
        info = {'peak_reserved_bytes': torch.cuda.max_memory_reserved(self.device)}
        if self.limit() is not None:
            info['memory_limit_bytes'] = self.limit()
        return info

    def ready(self):
        info = {'device': str(self.device), 'measure': 'cuda-allocated' if self.cuda else 'rss', 'base_bytes': self.now()}
        if self.cuda:
            free, total = torch.cuda.mem_get_info(self.device)
            # reserved: with nvidia-smi's figure for this process, batchlab learns what lies outside the allocator (the CUDA context)
            info.update(free_bytes=free, total_bytes=total, reserved_bytes=torch.cuda.memory_reserved(self.device))
            if self.limit() is not None:
                info['limit_bytes'] = self.limit()
        return info


def run_probe(train_step, memory, batch, steps):
    """The answer's fields for `steps` steps at `batch`; an exception (OOM or not) is answered, and the process goes on."""
    step_ms = []
    try:
        timed_steps(train_step, batch, steps, memory.sync, step_ms)
        result = {'ok': True, 'peak_bytes': memory.peak()}
        if memory.cuda:
            result['peak_reserved_bytes'] = torch.cuda.max_memory_reserved(memory.device)
    except Exception as exc:  # noqa: BLE001
        result = failure(exc, is_oom(exc))
        del exc  # its traceback holds the probe's frames, and with them its tensors
    memory.release()
    return {**result, 'step_ms': step_ms, 'after_bytes': memory.now()}


def serve(train_step, device='cpu'):
    """Warm probes when BATCHLAB_WARM=1, else one ordinary trial."""
    memory = Memory(device)
    memory.release()
    if warm_requested():
        serve_requests(memory.ready(), lambda batch, steps: run_probe(train_step, memory, batch, steps))
    else:
        run_fresh(train_step, memory.peak, memory.sync, memory.stated)
