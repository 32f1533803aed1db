"""Model alone: sparse-CNN frames/s and achieved GFLOP/s at 640x360 and 1280x720, beside
this machine's measured fp32 matmul GFLOP/s in the same run (the ratio is the figure).

    python benchmarks/bench_model.py [--device cpu|cuda] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from vfi.models import MODELS, shipped_weights, load_model
from vfi.models.sparse_cnn import SparseCNN


def matmul_gflops(device, n=2048, repeats=5) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / 4)
    return 2 * n**3 / best / 1e9


def model_fps(model, h, w, device, channels_last: bool, repeats: int, dtype=torch.float32) -> float:
    x = torch.rand(1, 6, h, w, device=device) * 255
    model = copy.deepcopy(model)  # .to(memory_format) works in place: keep variants apart
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)
    best = float("inf")
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        model(x)  # warm-up (algorithm selection, weight reorders)
        model(x)
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t0)
    return 1.0 / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    device = torch.device(args.device)
    path = shipped_weights("sparse-cnn")
    model = load_model(path)[1] if path else MODELS["sparse-cnn"].create()
    model = model.to(device).eval()
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    mm = matmul_gflops(device)
    print(f"fp32 matmul (2048x2048, best of 6): {mm:.1f} GFLOP/s")
    fpp = SparseCNN.flops_per_pixel()
    for (w, h) in ((640, 360), (1280, 720)):
        for cl in (False, True):
            fps = model_fps(model, h, w, device, cl, args.repeats)
            gf = fpp * w * h * fps / 1e9
            print(f"sparse-cnn {w}x{h} {'channels_last' if cl else 'NCHW         '}: {fps:.3f} frames/s, "
                  f"{gf:.1f} GFLOP/s = {gf / mm:.2f} x matmul")
    mm2 = matmul_gflops(device)
    print(f"fp32 matmul again after the model runs: {mm2:.1f} GFLOP/s (ratios above use the first figure)")


if __name__ == "__main__":
    main()
