"""Checks the blur analysis on any real clip:

    python examples/checks/verify_blur.py CLIP [--workdir DIR]

1. BF per frame from `vfi blur-report --csv` against an independent computation: OpenCV's
   cv2.Laplacian(grey, CV_64F).var() when OpenCV is installed (pip install
   opencv-python-headless), else scipy.signal; the grey image is BT.601 luma in float;
2. RBF with --reference: 0 for the clip against itself, positive for a blurred copy
   (made with FFmpeg's gblur through PyAV);
3. --plot and --local write PNGs.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import av
import numpy as np
from checks import Checks, clip_and_workdir


def independent_lapvar(rgb: np.ndarray) -> tuple[float, str]:
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    try:
        import cv2

        return float(cv2.Laplacian(grey, cv2.CV_64F).var()), "OpenCV " + cv2.__version__
    except ImportError:
        from scipy import signal

        k = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
        return float(np.var(signal.convolve2d(np.pad(grey, 1, mode="reflect"), k, mode="valid"))), "scipy.signal"


def blurred_copy(src: str, dst: Path) -> None:
    with av.open(src) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        o = out.add_stream("ffv1", rate=s.guessed_rate or 25)
        o.width, o.height, o.pix_fmt = s.codec_context.width, s.codec_context.height, "yuv444p"
        o.codec_context.time_base = s.time_base
        o.time_base = s.time_base
        g = av.filter.Graph()
        buf = g.add_buffer(template=s)
        blur = g.add("gblur", "sigma=1.5")
        sink = g.add("buffersink")
        buf.link_to(blur)
        blur.link_to(sink)
        g.configure()
        for f in inp.decode(s):
            buf.push(f)
            while True:
                try:
                    b = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                b = b.reformat(format="yuv444p")
                out.mux(o.encode(b))
        out.mux(o.encode(None))


def main():
    args, work = clip_and_workdir()
    check = Checks()

    subprocess.run(["vfi", "blur-report", args.clip, "--csv", str(work / "bf.csv"), "--plot", str(work / "bf.png"),
                    "--local", str(work / "local.png"), "--frames", "0,10", "-q"], check=True)
    rows = list(csv.DictReader(open(work / "bf.csv")))
    worst, how = 0.0, ""
    from vfi.io.colour import ColorConverter
    from vfi.io.reading import VideoReader

    with VideoReader(args.clip) as r:  # the same decode and RGB conversion blur-report uses
        conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
        for row, sf in zip(rows, r.frames()):
            v, how = independent_lapvar(conv.to_rgb(sf.frame))
            worst = max(worst, abs(float(row["bf"]) * v - 1))
    check(worst < 1e-4, f"BF of {len(rows)} frames vs {how}: largest relative difference {worst:.2e}")
    subprocess.run(["vfi", "blur-report", args.clip, "--reference", args.clip, "--json", str(work / "self.json"), "-q"], check=True)
    self_rbf = [f["rbf"] for f in json.load(open(work / "self.json"))["frames"]]
    check(all(x == 0 for x in self_rbf), f"RBF against itself: all {len(self_rbf)} frames 0 (max |RBF| {max(map(abs, self_rbf))})")
    blurred_copy(args.clip, work / "blurred.mkv")
    subprocess.run(["vfi", "blur-report", str(work / "blurred.mkv"), "--reference", args.clip, "--json", str(work / "blur.json"),
                    "--plot", str(work / "blur_bf.png"), "--local", str(work / "blur_local.png"), "--frames", "10", "-q"], check=True)
    data = json.load(open(work / "blur.json"))
    rbfs = [f["rbf"] for f in data["frames"]]
    check(min(rbfs) > 0, f"RBF of a gblur(sigma 1.5) copy: min {min(rbfs):.3f}, mean {np.mean(rbfs):.3f} (all > 0)")
    for png in ("bf.png", "local.png", "blur_bf.png", "blur_local.png"):
        head = (work / png).read_bytes()[:8]
        check(head == b"\x89PNG\r\n\x1a\n", f"{png} is a PNG ({(work / png).stat().st_size} bytes)")
    check.finish()


if __name__ == "__main__":
    main()
