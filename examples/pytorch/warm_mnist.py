#!/usr/bin/env python3
"""The MNIST MLP of train.py (784-256-10, plain SGD) behind warm probes (warm_probe.py).

    BATCHLAB_WARM=1 /usr/bin/python3 examples/pytorch/warm_mnist.py     # serves probes on stdin
    echo '{"probe": 256, "steps": 3}' | BATCHLAB_WARM=1 /usr/bin/python3 examples/pytorch/warm_mnist.py
    BATCHLAB_BATCH_SIZE=256 BATCHLAB_MAX_STEPS=20 /usr/bin/python3 examples/pytorch/warm_mnist.py   # one trial

The data and the model are built once; each probe draws `batch` random training rows (with repeats
above 60,000, as train.py does) so that memory, not the data set, sets the limit.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import DEFAULT_DATA_DIR, load_split  # noqa: E402
from warm_probe import serve  # noqa: E402


def main():
    device = torch.device(os.environ.get('BATCHLAB_DEVICE', 'cuda' if torch.cuda.is_available() else 'cpu'))
    torch.manual_seed(int(os.environ.get('BATCHLAB_SEED', '0')))
    x, y = load_split(os.environ.get('MNIST_DIR', DEFAULT_DATA_DIR), 'train', device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=float(os.environ.get('BATCHLAB_LR', '0.1')))

    def train_step(batch):
        idx = torch.randint(0, len(x), (batch,), device=device)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    serve(train_step, device)


if __name__ == '__main__':
    main()
