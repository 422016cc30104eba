#!/usr/bin/env python3
"""ResNet-18 on synthetic 96x96 images, its CUDA memory capped so that it hits a real torch.OutOfMemoryError
at a batch in the thousands (issue 17's case). Plain PyTorch; batchlab's warm-probe helper serves it.

    BATCHLAB_BATCH_SIZE=4096 BATCHLAB_MAX_STEPS=3 python3 resnet18.py     # one ordinary trial (an OOM is raised)
    BATCHLAB_WARM=1 python3 resnet18.py                                   # warm probes on stdin (docs/protocol.md 8)

CAP_GIB (default 24): torch.cuda.set_per_process_memory_fraction(CAP_GIB GiB / the card's memory), set
before anything is allocated. The layers are torchvision's resnet18 (7x7/2 stem, max-pool, 4 stages of 2
basic blocks, 10 classes), written out so that no torchvision is needed. SGD with momentum 0.9: its
buffers appear after the first step, which is why a warm process's base is taken after its first probe.
Each step draws a new batch on the GPU (randn images, random labels), so the batch's memory is real.
cudnn.benchmark stays off (its default): autotuning tries workspaces that would blur the limit.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'examples', 'pytorch'))
from warm_probe import serve  # noqa: E402

IMAGE = 96
CLASSES = 10


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


def resnet18(classes=CLASSES):
    """torchvision.models.resnet18's layers."""
    stages, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        stages += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1),
        *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes))


def cap_memory(device):
    """Caps the caching allocator at CAP_GIB; returns the cap in bytes (None on a CPU)."""
    if device.type != 'cuda':
        return None
    cap = float(os.environ.get('CAP_GIB', '24')) * 2 ** 30
    # torch.cuda's per-process functions need an index: torch.device('cuda') alone raises ValueError
    index = device.index if device.index is not None else torch.cuda.current_device()
    total = torch.cuda.get_device_properties(index).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), index)
    return cap


def make_step(device, lr=0.1):
    """The model, its optimizer and train_step(batch): one SGD step on a fresh synthetic batch."""
    torch.manual_seed(int(os.environ.get('BATCHLAB_SEED', '0')))
    model = resnet18().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def train_step(batch):
        x = torch.randn(batch, 3, IMAGE, IMAGE, device=device)
        y = torch.randint(0, CLASSES, (batch,), device=device)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return model, train_step


def main():
    device = torch.device(os.environ.get('BATCHLAB_DEVICE', 'cuda' if torch.cuda.is_available() else 'cpu'))
    cap_memory(device)
    _, train_step = make_step(device, float(os.environ.get('BATCHLAB_LR', '0.1')))
    serve(train_step, device)


if __name__ == '__main__':
    main()
