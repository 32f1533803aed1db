"""Chunked jobs on one machine: wall time of `vfi upsample --factor 2` on a 10 s 640x360
clip in one process, and in chunks with --workers 1 and --workers 2, rounds alternating
(a busy spell on a shared machine hits every side); output frames/s of each and the
ratio of --workers 2 to --workers 1 (median over rounds).

    python benchmarks/bench_workers.py [CLIP] [--method flow-fusion] [--rounds 1] [--chunk-seconds 2.5]

CLIP (default: a 10 s panning texture made here) is cut to its first 10 s (or all of it, if
shorter) and scaled to 640x360.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vfi.methods import CLASSICAL

W, H, SECONDS = 640, 360, 10


def ten_seconds(src: str | None, path: Path) -> float:
    """The first 10 s of ``src`` at 640x360 and its rate (x264, CRF 16), or a panning texture at 25 fps."""
    rate = Fraction(25)
    if src is not None:
        with av.open(src) as c:
            rate = Fraction(c.streams.video[0].average_rate or 25)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.codec_context.options = {"preset": "veryfast", "crf": "16"}
        for i, rgb in enumerate(_frames(src)):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = i, 1 / rate
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    return float((i + 1) / rate)


def _frames(src: str | None):
    if src is None:
        rng = np.random.default_rng(0)
        base = rng.integers(0, 256, (H // 8, (W + 4 * SECONDS * 25) // 8 + 2, 3), dtype=np.uint8)
        big = np.kron(base, np.ones((8, 8, 1), np.uint8))
        for i in range(SECONDS * 25):
            yield np.ascontiguousarray(big[:H, 4 * i: 4 * i + W])
        return
    with av.open(src) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            if f.time is not None and f.time >= SECONDS:
                return
            yield f.to_ndarray(format="rgb24", width=W, height=H)


def timed(clip: Path, out: Path, method: str, extra: list[str]) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "vfi", "upsample", str(clip), "-o", str(out), "--factor", "2", "-y", "-q", "--json", *extra]
    if method != "default":
        cmd += ["--method", method] if method in CLASSICAL else ["--model", method]
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if run.returncode:
        sys.exit(run.stderr)
    import json

    return seconds, json.loads(run.stdout.strip().splitlines()[-1])["frames_out"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=None)
    ap.add_argument("--method", default="default", help="default (the shipped model), blend, mci, or a model name")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--chunk-seconds", default="2.5")
    args = ap.parse_args()
    sides = {"one process": [], "--workers 1": ["--workers", "1", "--chunk-seconds", args.chunk_seconds],
             "--workers 2": ["--workers", "2", "--chunk-seconds", args.chunk_seconds]}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        seconds = ten_seconds(args.clip, clip)
        walls: dict[str, list[float]] = {k: [] for k in sides}
        for r in range(args.rounds):
            for name, extra in sides.items():
                wall, frames = timed(clip, Path(tmp) / "out.mkv", args.method, extra)
                walls[name].append(wall)
                print(f"round {r + 1}: {name}: {wall:.1f} s, {frames / wall:.1f} output frames/s", flush=True)
        print(f"{args.clip or 'panning texture'}, {W}x{H}, {seconds:.1f} s, --factor 2, method {args.method}, "
              f"{args.chunk_seconds} s chunks, median of {args.rounds} round(s):")
        for name in sides:
            print(f"  {name}: {statistics.median(walls[name]):.1f} s")
        ratios = [a / b for a, b in zip(walls["--workers 1"], walls["--workers 2"])]
        print(f"  --workers 2 over --workers 1 (throughput): {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
