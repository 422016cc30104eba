#!/usr/bin/env python3
"""Lightning's batch-size finder on the capped ResNet-18 of resnet18.py (same layers, same SGD, same
synthetic 96x96 batches drawn on the GPU, same CAP_GIB): Tuner.scale_batch_size(mode='binsearch'),
Lightning's defaults (init 2, 25 trials, 3 steps per trial) except max_val, raised so that it is not
what stops the search. One JSON object on stdout: the answer, its trials, the seconds of the search
alone and of the whole process (imports and CUDA start included).

Written for pytorch-lightning 2.6.6 (`lightning.pytorch`); not run where batchlab is developed (no
Lightning there), only compiled.
"""
import argparse
import json
import os
import sys
import time

T_PROCESS = time.perf_counter()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.tuner import Tuner  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet18 import CLASSES, IMAGE, cap_memory, resnet18  # noqa: E402


class SizeStream(torch.utils.data.IterableDataset):
    """Endless batches of `batch_size` indices: only their number matters, the images are drawn on the GPU."""

    def __init__(self, batch_size):
        self.batch_size = batch_size

    def __iter__(self):
        while True:
            yield torch.arange(self.batch_size)


class CappedResNet(pl.LightningModule):
    def __init__(self, batch_size, lr):
        super().__init__()
        self.batch_size = batch_size  # the attribute scale_batch_size changes
        self.lr = lr
        self.net = resnet18()
        self.attempts = []  # [batch, completed steps] per trial, in order

    def train_dataloader(self):
        return torch.utils.data.DataLoader(SizeStream(self.batch_size), batch_size=None)

    def training_step(self, idx, _):
        n = len(idx)
        if not self.attempts or self.attempts[-1][0] != n:
            self.attempts.append([n, 0])
        x = torch.randn(n, 3, IMAGE, IMAGE, device=self.device)
        y = torch.randint(0, CLASSES, (n,), device=self.device)
        return F.cross_entropy(self.net(x), y)

    def on_train_batch_end(self, *_):
        self.attempts[-1][1] += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=0.9)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--max-val', type=int, default=2 ** 17, help="Lightning's max_val (its default 8192)")
    p.add_argument('--max-trials', type=int, default=25, help="Lightning's max_trials (its default)")
    p.add_argument('--steps-per-trial', type=int, default=3, help="Lightning's steps_per_trial (its default)")
    a = p.parse_args()
    device = torch.device('cuda')
    cap = cap_memory(device)
    torch.manual_seed(0)
    model = CappedResNet(batch_size=2, lr=0.1)
    trainer = pl.Trainer(accelerator='gpu', devices=1, max_steps=a.steps_per_trial, max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0)
    t0 = time.perf_counter()
    found = Tuner(trainer).scale_batch_size(model, mode='binsearch', init_val=2, max_trials=a.max_trials,
                                            steps_per_trial=a.steps_per_trial, max_val=a.max_val)
    search_s = time.perf_counter() - t0
    trials = [{'batch': b, 'steps': s, 'ok': s >= a.steps_per_trial} for b, s in model.attempts]
    print(json.dumps({'finder': 'lightning', 'found': found, 'cap_bytes': cap, 'trials': len(trials),
                      'failed': sum(not t['ok'] for t in trials), 'search_seconds': round(search_s, 1),
                      'process_seconds': round(time.perf_counter() - T_PROCESS, 1), 'attempts': trials}), flush=True)


if __name__ == '__main__':
    main()
