#!/usr/bin/env python3
"""Lightning's batch-size finder on the model of examples/pytorch/train.py, for comparison with
`batchlab find-max --cmd` (bench/gpu/find-max-gpu.sh runs both).

    python3 bench/gpu/lightning_batch_finder.py find            # Tuner.scale_batch_size, mode binsearch
    python3 bench/gpu/lightning_batch_finder.py fit --batch-size B --steps 50   # does B survive a longer run?

Same MLP 784-256-10, same data on the GPU, same plain SGD; each step gathers its rows from the
GPU-resident MNIST tensors as the example does. The loader yields index tensors of the batch size
from an endless stream with no length, so Lightning does not cap the batch at the dataset's size
(the example also draws batches larger than the training set). One JSON line on stdout per result.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
import lightning.pytorch as pl
from lightning.pytorch.tuner import Tuner

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'examples', 'pytorch'))
from train import DEFAULT_DATA_DIR, read_idx  # noqa: E402  (the example's own IDX reader and data folder)


class IndexStream(torch.utils.data.IterableDataset):
    """Endless index batches: chained permutations of 0..n-1, cut into batches of `batch_size`."""

    def __init__(self, n, batch_size, seed):
        self.n, self.batch_size, self.seed = n, batch_size, seed

    def __iter__(self):
        gen = torch.Generator().manual_seed(self.seed)
        order, cursor = torch.empty(0, dtype=torch.int64), 0
        while True:
            if cursor + self.batch_size > len(order):
                epochs = max(1, -(-self.batch_size // self.n))
                order, cursor = torch.cat([torch.randperm(self.n, generator=gen) for _ in range(epochs)]), 0
            yield order[cursor:cursor + self.batch_size]
            cursor += self.batch_size


class MnistMlp(pl.LightningModule):
    def __init__(self, x, y, batch_size, lr):
        super().__init__()
        self.batch_size = batch_size  # the attribute scale_batch_size changes
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
        # Not persistent: the tuner checkpoints the model around the search; the data need not go in it.
        self.register_buffer('x', x, persistent=False)
        self.register_buffer('y', y, persistent=False)
        self.attempts = []  # (batch, completed steps), one entry per trial in the order tried

    def train_dataloader(self):
        return torch.utils.data.DataLoader(IndexStream(len(self.x), self.batch_size, seed=0), batch_size=None)

    def training_step(self, idx, _):
        size = len(idx)
        if not self.attempts or self.attempts[-1][0] != size:
            self.attempts.append([size, 0])
        return F.cross_entropy(self.net(self.x[idx]), self.y[idx])

    def on_train_batch_end(self, *_):
        self.attempts[-1][1] += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.net.parameters(), lr=self.lr)


def make_trainer(max_steps):
    return pl.Trainer(accelerator='gpu', devices=1, max_steps=max_steps, max_epochs=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      limit_val_batches=0, num_sanity_val_steps=0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('mode', choices=['find', 'fit'])
    p.add_argument('--batch-size', type=int, default=2, help='find: the start (init_val); fit: the batch to train')
    p.add_argument('--steps', type=int, default=50, help='fit: steps to train')
    p.add_argument('--max-trials', type=int, default=25, help="find: Lightning's max_trials (its default 25)")
    p.add_argument('--max-val', type=int, default=8192, help="find: Lightning's max_val, the largest batch it tries (its default 8192)")
    p.add_argument('--steps-per-trial', type=int, default=3, help="find: Lightning's steps_per_trial (its default 3)")
    p.add_argument('--lr', type=float, default=0.1)
    p.add_argument('--data-dir', default=DEFAULT_DATA_DIR)
    a = p.parse_args()
    torch.manual_seed(0)
    x = torch.tensor(read_idx(os.path.join(a.data_dir, 'train-images-idx3-ubyte')).reshape(-1, 784), dtype=torch.float32) / 255.0
    y = torch.tensor(read_idx(os.path.join(a.data_dir, 'train-labels-idx1-ubyte')), dtype=torch.int64)
    model = MnistMlp(x, y, a.batch_size, a.lr)
    t0 = time.perf_counter()
    if a.mode == 'find':
        trainer = make_trainer(max_steps=a.steps_per_trial)
        found = Tuner(trainer).scale_batch_size(model, mode='binsearch', init_val=a.batch_size,
                                                max_trials=a.max_trials, steps_per_trial=a.steps_per_trial,
                                                max_val=a.max_val)
        trials = [{'batch': b, 'steps': s, 'ok': s >= a.steps_per_trial} for b, s in model.attempts]
        print(json.dumps({'mode': 'find', 'found': found, 'trials': len(trials), 'failed': sum(not t['ok'] for t in trials),
                          'seconds': round(time.perf_counter() - t0, 1), 'attempts': trials,
                          'peak_allocated_bytes': torch.cuda.max_memory_allocated()}), flush=True)
        return
    try:
        make_trainer(max_steps=a.steps).fit(model)
        done = model.attempts[-1][1] if model.attempts else 0
        print(json.dumps({'mode': 'fit', 'batch': a.batch_size, 'ok': done >= a.steps, 'steps': done,
                          'seconds': round(time.perf_counter() - t0, 1),
                          'peak_allocated_bytes': torch.cuda.max_memory_allocated(),
                          'peak_reserved_bytes': torch.cuda.max_memory_reserved()}), flush=True)
    except torch.OutOfMemoryError as e:
        done = model.attempts[-1][1] if model.attempts else 0
        print(json.dumps({'mode': 'fit', 'batch': a.batch_size, 'ok': False, 'steps': done, 'oom': str(e).splitlines()[0]}), flush=True)
        sys.exit(1)


if __name__ == '__main__':
    main()
