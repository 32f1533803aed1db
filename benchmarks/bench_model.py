"""Model alone: sparse-CNN frames/s and achieved GFLOP/s at 640x360 and 1280x720, beside
this machine's measured fp32 (and bf16) matmul GFLOP/s in the same run (the ratio is the
figure), for fp32 NCHW, fp32 channels-last and bf16 channels-last, and vfi's own path
with one stream and with two (frames in flight at once, the default on a multi-core CPU),
and, on CPU, the same without the fused convolution + LeakyReLU;
then what bf16 changes
in the output on real frames (PSNR against the fp32 output and against the true frame).

    python benchmarks/bench_model.py [--device cpu|cuda] [--repeats 5] [--clip CLIP]

"achieved GFLOP/s" counts the model's nominal 374,888 FLOP per output pixel.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from vfi.models import MODELS, shipped_weights, load_model
from vfi.models.sparse_cnn import SparseCNN


def matmul_gflops(device, n=2048, repeats=5, dtype=torch.float32) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
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


def predict_fps(model, h, w, device, precision: str, repeats: int, streams: int = 1, fused: bool = True) -> tuple[float, int]:
    """What vfi runs: Interpolator.predict with its default tiling, frames in and out as
    uint8; with ``streams`` > 1, that many frames at once, the threads shared among them
    (vfi.pipeline.ModelStreams, as `vfi upsample` runs a CPU model by default);
    ``fused=False``: without the fused oneDNN convolution + LeakyReLU (the eager module)."""
    import numpy as np

    from vfi.models import Interpolator, get_spec

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    b = np.roll(a, 4, axis=1)
    interp = Interpolator(get_spec("sparse-cnn"), copy.deepcopy(model), device, precision=precision)
    if not fused:
        interp.fused = None
    if streams > 1:
        from vfi.pipeline import ModelStreams, cpu_streams

        n, per = cpu_streams(streams)
        pool = ModelStreams(n, per)
        frames = 2 * n

        def once():
            pool.map(lambda _: interp.predict(a, b), range(frames))
    else:
        pool, frames = None, 1

        def once():
            interp.predict(a, b)
    once()
    once()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - t0)
    if pool is not None:
        pool.close()
    return frames / best, interp._tile_size(h, w)


def quality(model, device, clip: str, pairs: int = 12) -> None:
    """bf16 against fp32 on real frames: the outputs as vfi writes them (uint8)."""
    import numpy as np

    from vfi.metrics import psnr
    from vfi.models import Interpolator, get_spec
    from vfi.io.colour import ColorConverter
    from vfi.io.reading import VideoReader

    with VideoReader(clip) as r:
        conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
        frames = [conv.to_rgb(sf.frame) for _, sf in zip(range(2 * pairs + 1), r.frames())]
    spec = get_spec("sparse-cnn")
    runs = {p: Interpolator(spec, copy.deepcopy(model), device, precision=p) for p in ("fp32", "bf16")}
    d_out, d_true, levels = [], {p: [] for p in runs}, []
    for i in range(1, len(frames) - 1, 2):
        outs = {p: it.predict(frames[i - 1], frames[i + 1]) for p, it in runs.items()}
        d_out.append(psnr(outs["bf16"], outs["fp32"]))
        levels.append(np.abs(outs["bf16"].astype(int) - outs["fp32"].astype(int)))
        for p in runs:
            d_true[p].append(psnr(outs[p], frames[i]))
    lv = np.concatenate([x.ravel() for x in levels])
    h, w = frames[0].shape[:2]
    print(f"bf16 vs fp32 on {len(d_out)} real frame pairs ({clip}, {w}x{h}): output PSNR {np.mean(d_out):.1f} dB, "
          f"{(lv == 0).mean() * 100:.1f} % of values identical, {(lv <= 1).mean() * 100:.2f} % within 1 level, max {lv.max()}; "
          f"PSNR to the true frame {np.mean(d_true['fp32']):.3f} dB (fp32) vs {np.mean(d_true['bf16']):.3f} dB (bf16)")


def main():
    from pathlib import Path

    from vfi.models import fast_bf16, resolve_precision

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clip", default=str(Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"))
    args = ap.parse_args()
    device = torch.device(args.device)
    path = shipped_weights("sparse-cnn")
    model = load_model(path)[1] if path else MODELS["sparse-cnn"].create()
    model = model.to(device).eval()
    default = resolve_precision("auto", device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"bf16 fast here: {fast_bf16(device)}, vfi's default precision here: {default}")
    mm = matmul_gflops(device)
    mm16 = matmul_gflops(device, dtype=torch.bfloat16)
    print(f"fp32 matmul (2048x2048, best of 6): {mm:.1f} GFLOP/s; bf16 matmul: {mm16:.1f} GFLOP/s")
    fpp = SparseCNN.flops_per_pixel()
    variants = [("fp32 NCHW         ", False, torch.float32), ("fp32 channels_last", True, torch.float32),
                ("bf16 channels_last", True, torch.bfloat16)]
    for (w, h) in ((640, 360), (1280, 720)):
        for label, cl, dtype in variants:
            fps = model_fps(model, h, w, device, cl, args.repeats, dtype)
            gf = fpp * w * h * fps / 1e9
            extra = f", {gf / mm16:.2f} x bf16 matmul" if dtype == torch.bfloat16 else ""
            print(f"sparse-cnn {w}x{h} {label}: {fps:.3f} frames/s, {gf:.1f} GFLOP/s = {gf / mm:.2f} x fp32 matmul{extra}")
        for prec in ("fp32", "bf16"):
            runs = [(1, True)]
            if device.type == "cpu" and torch.get_num_threads() >= 2:
                runs += [(2, True)]
            if device.type == "cpu":
                runs += [(runs[-1][0], False)]  # the same without the fused path, for comparison
            for streams, fused in runs:
                fps, tile = predict_fps(model, h, w, device, prec, args.repeats, streams, fused)
                gf = fpp * w * h * fps / 1e9
                how = "fused" if fused else "eager"
                print(f"vfi's path {w}x{h} {prec} {how}, {streams} stream(s) (Interpolator.predict, tiles {tile or 'none'}, uint8 in/out): "
                      f"{fps:.3f} frames/s, {gf:.1f} GFLOP/s = {gf / mm:.2f} x fp32 matmul")
    mm2 = matmul_gflops(device)
    print(f"fp32 matmul again after the model runs: {mm2:.1f} GFLOP/s (ratios above use the first figure)")
    quality(model, device, args.clip)


if __name__ == "__main__":
    main()
