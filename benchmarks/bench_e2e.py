"""End to end: `vfi upsample --factor 2` synthesised frames/s on a real clip, as a
ratio to the model-alone frames/s at the same size measured in the same run.

    python benchmarks/bench_e2e.py [CLIP] [--method sparse-cnn]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vfi.engine import Job, run
from vfi.models import load_interpolator
from vfi.video import VideoReader


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"))
    ap.add_argument("--method", default="sparse-cnn")
    ap.add_argument("--frames", type=int, default=0, help="model-alone repetitions (default: as many as the clip's pairs)")
    args = ap.parse_args()
    with VideoReader(args.clip) as r:
        frames = [sf.rgb(__import__("vfi.video", fromlist=["ColorConverter"]).ColorConverter(r.info.pix_fmt, r.info.color, r.info.height))
                  for _, sf in zip(range(2), r.frames())]
        w, h = r.info.width, r.info.height
    interp = load_interpolator(args.method, device="cpu")
    interp.predict(frames[0], frames[1])  # warm-up
    n = args.frames or 10
    t0 = time.perf_counter()
    for _ in range(n):
        interp.predict(frames[0], frames[1])
    alone = n / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        res = run(Job(input=args.clip, output=str(Path(tmp) / "out.mp4"), factor=Fraction(2), method=args.method, overwrite=True))
    e2e = res.synthesised / res.seconds
    p = res.profile
    print(f"clip {args.clip} ({w}x{h}), torch {torch.get_num_threads()} threads")
    print(f"model alone: {alone:.3f} frames/s (predict() incl. RGB<->tensor, {n} runs)")
    print(f"end to end: {res.synthesised} synthesised frames in {res.seconds:.2f} s = {e2e:.3f} frames/s "
          f"(profile: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(p.items())) + ")")
    print(f"ratio end-to-end / model-alone: {e2e / alone:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
