"""PyTorch reference for bench/engine.ts: the same MLP / CNN as batchlab's built-in models
(src/models), Glorot-uniform weights, zero biases, plain SGD (lr 0.05 unless given), softmax
cross-entropy, random inputs. Prints one JSON object per line:
{"model", "batch", "threads", "mode", "samples_per_s"} (median of timed windows after warm-up).

Modes (what one step does):
  step   the work of batchlab's training step: take the next B rows, in a shuffled order, out of a
         resident dataset of 60,000 samples (x_all[idx], as examples/pytorch/train.py does), forward,
         loss, backward, SGD update, and read the loss back (loss.item()). The default.
  fixed  the same B samples every step (they stay in cache) and no read-back: PyTorch's best case.
Usage: python3 bench/torch_bench.py mlp,cnn 16,64,256,1024 1,2 [lr] [step|fixed]
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


DATASET_ROWS = 60_000


def measure(kind, batch, threads, lr, mode="step"):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(kind)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rows = DATASET_ROWS if mode == "step" else batch
    x_all = torch.rand(rows, 784) if kind == "mlp" else torch.rand(rows, 1, 28, 28)
    y_all = torch.randint(0, 10, (rows,))
    order, cursor = torch.randperm(rows), 0

    def step():
        nonlocal order, cursor
        if mode == "step":
            if cursor + batch > rows:  # a new epoch, as batchlab's trainer (partial last batch dropped)
                order, cursor = torch.randperm(rows), 0
            idx = order[cursor:cursor + batch]
            cursor += batch
            x, y = x_all[idx], y_all[idx]
        else:
            x, y = x_all, y_all
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item() if mode == "step" else loss

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
    mode = sys.argv[5] if len(sys.argv) > 5 else "step"
    if mode not in ("step", "fixed"):
        sys.exit(f"mode must be step or fixed, got {mode}")
    for kind in kinds:
        for batch in batches:
            for t in threads:
                rate = measure(kind, batch, t, lr, mode)
                print(json.dumps({"model": kind, "batch": batch, "threads": t, "mode": mode, "samples_per_s": rate}), flush=True)


if __name__ == "__main__":
    with torch.no_grad():
        pass
    main()
