"""Benchmark: one epoch of a 784-256-128-10 ReLU MLP, dlcore vs PyTorch CPU.

Forward + backward + Adam step on 60,000 synthetic float32 samples in batches of 128,
both libraries in the same process with the same number of threads (NumPy's BLAS limited
with threadpoolctl, PyTorch with torch.set_num_threads). Prints the median epoch time of
each over several runs, and the ratio dlcore / torch (target <= 0.9).

Run it with the OpenBLAS workaround variables unset (see bench/README.md)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_mlp.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import dlcore.nn as nn
import dlcore.optim as optim

BATCH = 128
SIZES = (784, 256, 128, 10)


def report_environment(threads: int) -> None:
    import torch

    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        value = os.environ.get(name)
        print(f"{name}: {'unset' if value is None else 'SET to ' + value + ' (slows NumPy)'}")
    blas = [f"{i['internal_api']} {i.get('version')}" for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print("load average at start (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"numpy {np.__version__} ({', '.join(blas)}), torch {torch.__version__}")
    print(f"threads: {threads} for both NumPy's BLAS and torch")


def dlcore_epoch(X, y) -> float:
    """Time one epoch of dlcore; a fresh network and optimizer each time."""
    generator = np.random.default_rng(0)
    net = nn.Sequential(
        nn.Linear(SIZES[0], SIZES[1], generator=generator),
        nn.ReLU(),
        nn.Linear(SIZES[1], SIZES[2], generator=generator),
        nn.ReLU(),
        nn.Linear(SIZES[2], SIZES[3], generator=generator),
    )
    net[0].needs_input_grad = False  # the input is data: skip its gradient, as torch does
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for i in range(0, len(X), BATCH):
        xb, yb = X[i : i + BATCH], y[i : i + BATCH]
        optimizer.zero_grad()
        loss_fn(net(xb), yb)
        net.backward(loss_fn.backward())
        optimizer.step()
    return time.perf_counter() - start


def torch_epoch(X, y) -> float:
    """Time one epoch of the same network in PyTorch (CPU, default settings)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[2], SIZES[3]),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    start = time.perf_counter()
    for i in range(0, len(X), BATCH):
        xb, yb = Xt[i : i + BATCH], yt[i : i + BATCH]
        optimizer.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="epochs timed per library")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--samples", type=int, default=60_000)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    report_environment(args.threads)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.samples, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], size=args.samples)

    times = {"dlcore": [], "torch": []}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        dlcore_epoch(X[:2048], y[:2048])  # warm-up: BLAS threads, allocator, imports
        torch_epoch(X[:2048], y[:2048])
        for _ in range(args.runs):  # alternate, so both see the same machine load
            times["dlcore"].append(dlcore_epoch(X, y))
            times["torch"].append(torch_epoch(X, y))

    print(f"\nMLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {args.samples} samples, float32, Adam")
    print(f"{'library':8} {'median s/epoch':>15} {'min':>8} {'max':>8}   (runs: {args.runs})")
    for name, values in times.items():
        print(f"{name:8} {statistics.median(values):15.3f} {min(values):8.3f} {max(values):8.3f}")
    ratio = statistics.median(times["dlcore"]) / statistics.median(times["torch"])
    paired = statistics.median(d / t for d, t in zip(times["dlcore"], times["torch"], strict=True))
    print(f"ratio dlcore / torch = {ratio:.2f}  (target <= 0.9)")
    print(f"median of the per-run ratios (each pair ran back to back) = {paired:.2f}")
    print("load average at end (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
