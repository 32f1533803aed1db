"""End to end: `vfi upsample --factor 2` synthesised frames/s on a real clip, as a
ratio to the model-alone frames/s at the same size measured in the same run (rounds
alternate between the two, so a busy spell on a shared machine hits both).

    python benchmarks/bench_e2e.py [CLIP] [--method sparse-cnn] [--rounds 3] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch

from vfi.engine import Job, run
from vfi.models import load_interpolator
from vfi.video import EncodeOptions, VideoReader


def main():
    from vfi.video import ColorConverter

    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"))
    ap.add_argument("--method", default="sparse-cnn")
    ap.add_argument("--pairs", type=int, default=24, help="model-alone: this many of the clip's frame pairs per round")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of model-alone and end-to-end; best of each")
    ap.add_argument("--preset", default=None, help="encoder preset for the end-to-end run (default: the codec's)")
    args = ap.parse_args()
    with VideoReader(args.clip) as r:
        conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
        frames = [conv.to_rgb(sf.frame) for _, sf in zip(range(args.pairs + 1), r.frames())]
        w, h = r.info.width, r.info.height
    interp = load_interpolator(args.method, device="cpu")
    interp.predict(frames[0], frames[1])  # warm-up
    alone, e2e, last = [], [], None
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for a, b in zip(frames[:-1], frames[1:]):
            interp.predict(a, b)
        alone.append((len(frames) - 1) / (time.perf_counter() - t0))
        with tempfile.TemporaryDirectory() as tmp:
            last = run(Job(input=args.clip, output=str(Path(tmp) / "out.mp4"), factor=Fraction(2), method=args.method, overwrite=True,
                           encode=EncodeOptions(preset=args.preset)))
        e2e.append(last.synthesised / last.seconds)
    print(f"clip {args.clip} ({w}x{h}), torch {torch.get_num_threads()} threads, precision {interp.precision}, encoder preset {args.preset or 'default'}, "
          f"model tile {interp._tile_size(h, w) or 'none'}")
    print("model alone (predict() on the clip's first pairs, RGB<->tensor included), frames/s per round: "
          + ", ".join(f"{x:.2f}" for x in alone))
    print(f"end to end (vfi upsample --factor 2, {last.synthesised} synthesised frames), frames/s per round: "
          + ", ".join(f"{x:.2f}" for x in e2e))
    print("last round's profile: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(last.profile.items())) + f" of {last.seconds:.2f}s")
    print(f"ratio end-to-end / model-alone, best of {args.rounds} each: {max(e2e) / max(alone):.3f} (target >= 0.9); "
          f"per round: " + ", ".join(f"{e / a:.2f}" for a, e in zip(alone, e2e)))


if __name__ == "__main__":
    main()
