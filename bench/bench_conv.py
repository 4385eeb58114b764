"""Benchmark: Conv2d forward + backward, dlcore's im2col vs naive loops vs PyTorch CPU.

x: (64, 3, 32, 32), weight: (32, 3, 3, 3), padding 1, float32; backward computes the
gradients of the input, the weight and the bias in every implementation. Prints medians
over several runs and the ratios (targets: im2col >= 100x faster than the naive loops,
dlcore / torch <= 1.5).

The naive loops are far too slow for the full batch, so they run on a smaller batch and
their time is scaled up linearly to 64 images (their cost is exactly proportional to the
batch size); the script says so in its output.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/bench_conv.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from dlcore.nn import Conv2d

N, C, H, W, F, K, PAD = 64, 3, 32, 32, 32, 3, 1


def naive_forward_backward(x, w, b, g):
    """Conv forward and backward with loops over images, filters and output pixels (as in
    CS231n's conv_forward_naive / conv_backward_naive), stride 1."""
    n_img, n_ch, height, width = x.shape
    n_f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    out = np.zeros((n_img, n_f, height, width), dtype=x.dtype)
    for n in range(n_img):
        for f in range(n_f):
            for i in range(height):
                for j in range(width):
                    out[n, f, i, j] = np.sum(xp[n, :, i : i + kh, j : j + kw] * w[f]) + b[f]
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), g.sum(axis=(0, 2, 3))
    for n in range(n_img):
        for f in range(n_f):
            for i in range(height):
                for j in range(width):
                    dxp[n, :, i : i + kh, j : j + kw] += w[f] * g[n, f, i, j]
                    dw[f] += xp[n, :, i : i + kh, j : j + kw] * g[n, f, i, j]
    return out, dxp[:, :, PAD:-PAD, PAD:-PAD], dw, db


def pixel_loop_forward_backward(x, w, b, g):
    """A faster loop version: one Python iteration per output pixel, vectorised over the
    batch and the filters. dlcore avoids even this loop."""
    n_img, n_ch, height, width = x.shape
    n_f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    w2 = w.reshape(n_f, -1)
    out = np.empty((n_img, n_f, height, width), dtype=x.dtype)
    dxp, dw2 = np.zeros_like(xp), np.zeros_like(w2)
    for i in range(height):
        for j in range(width):
            window = xp[:, :, i : i + kh, j : j + kw].reshape(n_img, -1)  # (N, C*kh*kw)
            out[:, :, i, j] = window @ w2.T + b
            dw2 += g[:, :, i, j].T @ window
            dxp[:, :, i : i + kh, j : j + kw] += (g[:, :, i, j] @ w2).reshape(n_img, n_ch, kh, kw)
    return out, dxp[:, :, PAD:-PAD, PAD:-PAD], dw2.reshape(w.shape), g.sum(axis=(0, 2, 3))


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of dlcore and torch")
    parser.add_argument("--naive-batch", type=int, default=2, help="images for the naive loops")
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        value = os.environ.get(name)
        print(f"{name}: {'unset' if value is None else 'SET to ' + value + ' (slows NumPy)'}")
    blas = [f"{i['internal_api']} {i.get('version')}" for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print("load average at start (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"numpy {np.__version__} ({', '.join(blas)}), torch {torch.__version__}")
    print(f"threads: {args.threads} for both NumPy's BLAS and torch")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W), dtype=np.float32)
    g = rng.standard_normal((N, F, H, W), dtype=np.float32)
    layer = Conv2d(C, F, K, padding=PAD, generator=rng)
    w, b = layer.weight.data, layer.bias.data

    def dlcore_step():
        layer(x)
        return layer.backward(g)

    x_t = torch.from_numpy(x).requires_grad_()
    w_t = torch.from_numpy(w.copy()).requires_grad_()
    b_t = torch.from_numpy(b.copy()).requires_grad_()
    g_t = torch.from_numpy(g)

    def torch_step():
        x_t.grad = w_t.grad = b_t.grad = None
        torch.nn.functional.conv2d(x_t, w_t, b_t, padding=PAD).backward(g_t)

    with threadpool_limits(limits=args.threads, user_api="blas"):
        # all three implementations agree (on a small batch, to keep the naive loops short)
        small = slice(0, args.naive_batch)
        expected = naive_forward_backward(x[small], w, b, g[small])
        layer.zero_grad()
        got = (layer(x[small]), layer.backward(g[small]), layer.weight.grad, layer.bias.grad)
        for e, o in zip(expected, got, strict=True):
            np.testing.assert_allclose(o, e, rtol=1e-3, atol=1e-3)

        for _ in range(3):  # warm-up
            dlcore_step()
            torch_step()
        times = {"dlcore (im2col)": [], "torch": []}
        for _ in range(args.runs):  # alternate, so both see the same machine load
            times["dlcore (im2col)"] += timed(dlcore_step, 1)
            times["torch"] += timed(torch_step, 1)
        scale = N / args.naive_batch
        xs, gs = x[small], g[small]
        times["naive loops"] = [t * scale for t in timed(lambda: naive_forward_backward(xs, w, b, gs), args.naive_runs)]
        times["pixel loop"] = [t * scale for t in timed(lambda: pixel_loop_forward_backward(xs, w, b, gs), args.naive_runs)]

    print(f"\nConv2d forward+backward, x {(N, C, H, W)}, weight {(F, C, K, K)}, padding {PAD}, float32")
    print(
        f"naive loops and pixel loop: timed on {args.naive_batch} images, {args.naive_runs} runs, "
        f"scaled x{scale:g} to {N} images"
    )
    print(f"{'implementation':16} {'median ms':>10} {'min ms':>9} {'runs':>5}")
    medians = {}
    for name, values in times.items():
        medians[name] = statistics.median(values)
        print(f"{name:16} {1e3 * medians[name]:10.2f} {1e3 * min(values):9.2f} {len(values):5}")
    dl = medians["dlcore (im2col)"]
    print(f"naive loops / dlcore = {medians['naive loops'] / dl:.0f}x faster  (target >= 100x)")
    print(f"pixel loop / dlcore = {medians['pixel loop'] / dl:.1f}x faster")
    paired = statistics.median(d / t for d, t in zip(times["dlcore (im2col)"], times["torch"], strict=True))
    print(f"ratio dlcore / torch = {dl / medians['torch']:.2f}  (target <= 1.5)")
    print(f"median of the per-run ratios (each pair ran back to back) = {paired:.2f}")
    print("load average at end (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
