"""PyTorch reference for bench/engine.ts: the same MLP / CNN as batchlab's built-in models
(src/models), Glorot-uniform weights, zero biases, plain SGD (lr 0.05 unless given), softmax
cross-entropy, random inputs. Prints one JSON object per line:
{"model", "batch", "threads", "samples_per_s"} (median of timed windows after warm-up).
Usage: python3 bench/torch_bench.py mlp,cnn 16,64,256,1024 1,2 [lr]
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn


def build(kind):
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 10))
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def measure(kind, batch, threads, lr):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(kind)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, 784) if kind == "mlp" else torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    t0 = time.perf_counter()
    for _ in range(3):
        step()
    per_step = max((time.perf_counter() - t0) / 3, 1e-6)
    steps = max(1, int(0.25 / per_step))
    rates = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    kinds = sys.argv[1].split(",")
    batches = [int(b) for b in sys.argv[2].split(",")]
    threads = [int(t) for t in sys.argv[3].split(",")]
    lr = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    for kind in kinds:
        for batch in batches:
            for t in threads:
                rate = measure(kind, batch, t, lr)
                print(json.dumps({"model": kind, "batch": batch, "threads": t, "samples_per_s": rate}), flush=True)


if __name__ == "__main__":
    with torch.no_grad():
        pass
    main()
