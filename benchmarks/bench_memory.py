"""Peak RSS of `vfi upsample --factor 2` on a 10 s and a 60 s clip of the same size:
memory must not grow with video length (flat = within 10 %).

    python benchmarks/bench_memory.py [--method blend] [--size 640x360]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

DRIVER = r"""
import resource, sys
from fractions import Fraction
from vfi.engine import Job, run
args = sys.argv[1:]
weights = args[4] if len(args) > 4 and args[4] else None
run(Job(input=args[0], output=args[1], factor=Fraction(2), method=args[2], weights=weights, overwrite=True))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_clip(path: Path, seconds: int, w: int, h: int, fps: int = 25) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 8, (w + 8 * seconds * fps) // 8 + 2, 3), dtype=np.uint8)
    big = np.kron(base, np.ones((8, 8, 1), np.uint8))
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.options = {"preset": "ultrafast", "crf": "20"}
        for i in range(seconds * fps):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(big[:h, i: i + w]), format="rgb24")
            f.pts = i
            f.time_base = Fraction(1, fps)
            out.mux(s.encode(f))
        out.mux(s.encode(None))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="blend")
    ap.add_argument("--weights", default="")
    ap.add_argument("--size", default="640x360")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        peaks = {}
        for seconds in (10, 60):
            clip = Path(tmp) / f"clip{seconds}.mp4"
            make_clip(clip, seconds, w, h)
            out = subprocess.run([sys.executable, "-c", DRIVER, str(clip), str(Path(tmp) / f"out{seconds}.mp4"), args.method, "", args.weights],
                                 capture_output=True, text=True, check=True)
            peaks[seconds] = int(out.stdout.strip().splitlines()[-1]) / 1024
            print(f"{seconds:>3} s clip {w}x{h}, method {args.method}: peak RSS {peaks[seconds]:.1f} MiB")
        print(f"60 s / 10 s peak RSS ratio: {peaks[60] / peaks[10]:.3f} (flat means <= 1.10)")


if __name__ == "__main__":
    main()
