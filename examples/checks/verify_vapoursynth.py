"""Checks vfi.vapoursynth.interpolate in a real VapourSynth on any real clip:

    python examples/checks/verify_vapoursynth.py CLIP [--fps 60 | --factor 2] [--method M]
        [--frames 75] [--vspipe PATH/TO/vspipe]

The clip's first --frames frames come in as a source filter gives them (YUV 4:2:0,
decoded with PyAV, so no source plugin is needed), then the README's script runs:
resize to RGB24, ``interpolate(clip, fps=...)``.  Checked: the output's frame count
(ceil(frames * rate / source rate)) and rate, every source frame kept where it falls
on an output time, every made frame equal to ``vfi.Interpolator.between`` of its two
source frames (scene cuts held), each frame's duration at the new rate, and every frame
requested at once in reverse order on the core's threads equal to the frames requested
one by one.  With --vspipe, the same script run by vspipe: its --info and its raw
output equal to the frames above.  Needs VapourSynth (README, VapourSynth).
Prints what it measured; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import vapoursynth as vs
from checks import Checks


def pyav_source(path: str, frames: int):
    """The first ``frames`` frames of ``path`` as a YUV420P8 clip at the stream's rate."""
    with av.open(path) as c:
        s = c.streams.video[0]
        rate = Fraction(s.average_rate)
        planes = []
        for f in c.decode(s):
            planes.append(f.to_ndarray(format="yuv420p"))
            if len(planes) == frames:
                break
    h, w = planes[0].shape[0] * 2 // 3, planes[0].shape[1]
    blank = vs.core.std.BlankClip(width=w, height=h, format=vs.YUV420P8, length=len(planes),
                                  fpsnum=rate.numerator, fpsden=rate.denominator)

    def fill(n, f):
        out = f.copy()
        a = planes[n]
        chroma = a[h:].reshape(2, h // 2, w // 2)
        for p, plane in enumerate((a[:h], chroma[0], chroma[1])):
            np.copyto(np.asarray(out[p]), plane)
        out.props["_ColorRange"] = 1  # limited, as yuv420p is
        return out

    return vs.core.std.ModifyFrame(blank, blank, fill)


def script(args) -> str:
    """The README's VapourSynth example with this source filter."""
    rate = f"fps={args.fps!r}" if args.fps else f"factor={args.factor!r}"
    return (f"import vapoursynth as vs\nfrom vfi.vapoursynth import interpolate\nfrom verify_vapoursynth import pyav_source\n\n"
            f"clip = pyav_source({args.clip!r}, {args.frames})\n"
            f"clip = vs.core.resize.Bicubic(clip, format=vs.RGB24, matrix_in_s='709')\n"
            f"interpolate(clip, {rate}, method={args.method!r}).set_output()\n")


def rgb(frame) -> np.ndarray:
    return np.dstack([np.asarray(frame[p]) for p in range(3)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("--fps", default=None)
    ap.add_argument("--factor", default=None)
    ap.add_argument("--method", default=None)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--vspipe", default=None)
    args = ap.parse_args()
    args.clip = str(Path(args.clip).resolve())  # vspipe runs the script from its own folder
    if not args.fps and not args.factor:
        args.fps = "60"
    from vfi import Interpolator
    from vfi.timing import parse_rate

    check = Checks()
    work = Path(tempfile.mkdtemp())
    (work / "example.vpy").write_text(script(args))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(Path(p).resolve()) for p in [Path(__file__).parent] + sys.path))
    scope: dict = {}
    exec(compile(script(args), "example.vpy", "exec"), scope)
    out = vs.get_output(0)[0]
    src = vs.core.resize.Bicubic(pyav_source(args.clip, args.frames), format=vs.RGB24, matrix_in_s="709")
    source_rate = Fraction(src.fps_num, src.fps_den)
    rate = parse_rate(args.fps) if args.fps else source_rate * parse_rate(args.factor)
    want = math.ceil(src.num_frames * rate / source_rate)
    check((out.num_frames, Fraction(out.fps_num, out.fps_den)) == (want, rate),
          f"{src.num_frames} frames at {source_rate} fps -> {out.num_frames} at {out.fps_num}/{out.fps_den} (want {want} at {rate})")

    t0 = time.time()
    got = [rgb(out.get_frame(n)) for n in range(out.num_frames)]
    took = time.time() - t0
    print(f"{out.num_frames} frames {out.width}x{out.height} one by one in {took:.1f} s ({out.num_frames / took:.1f} fps)")
    source = [rgb(src.get_frame(i)) for i in range(src.num_frames)]
    interp = Interpolator(args.method)
    kept, made, differ = [], [], []
    for n, frame in enumerate(got):
        pos = n * source_rate / rate
        i = min(math.floor(pos), src.num_frames - 1)
        t = pos - i if i < src.num_frames - 1 else 0
        want_frame = source[i] if t == 0 else interp.between(source[i], source[i + 1], [float(t)], hold_cuts=True)[0]
        (kept if t == 0 else made).append(n)
        if not np.array_equal(frame, want_frame):
            differ.append(n)
    check(not set(kept) & set(differ), f"{len(kept)} frames are the source frame at their time")
    check(not set(made) & set(differ), f"{len(made)} made frames equal Interpolator({interp.name!r}).between of their pair")
    if differ:
        print(f"frames that differ: {differ[:20]}")
    props = out.get_frame(out.num_frames // 2).props
    check((props["_DurationNum"], props["_DurationDen"]) == (rate.denominator, rate.numerator),
          f"frame durations {props['_DurationNum']}/{props['_DurationDen']} s")

    exec(compile(script(args), "example.vpy", "exec"), scope)  # a fresh clip: nothing made yet
    fresh = vs.get_output(0)[0]
    t0 = time.time()
    requests = [fresh.get_frame_async(n) for n in reversed(range(fresh.num_frames))]
    at_once = [rgb(r.result()) for r in reversed(requests)]
    check(all(np.array_equal(a, b) for a, b in zip(at_once, got)),
          f"all frames requested at once in reverse on {vs.core.num_threads} threads: the same frames ({time.time() - t0:.1f} s)")

    if args.vspipe:
        info = subprocess.run([args.vspipe, "--info", str(work / "example.vpy")], env=env, capture_output=True, text=True)
        fields = dict(line.split(": ", 1) for line in info.stdout.splitlines() if ": " in line)
        check(info.returncode == 0 and fields.get("Frames") == str(want) and fields.get("FPS", "").startswith(f"{rate.numerator}/{rate.denominator}"),
              f"vspipe --info: {fields.get('Frames')} frames, {fields.get('FPS')} fps {info.stderr.strip()[-300:]}")
        t0 = time.time()
        run = subprocess.run([args.vspipe, str(work / "example.vpy"), str(work / "out.rgb")], env=env, capture_output=True, text=True)
        took = time.time() - t0
        raw = np.fromfile(work / "out.rgb", np.uint8) if (work / "out.rgb").exists() else np.zeros(0, np.uint8)
        size = 3 * out.height * out.width
        frames = raw[: raw.size // size * size].reshape(-1, 3, out.height, out.width)[:, [2, 0, 1]].transpose(0, 2, 3, 1)  # G, B, R
        check(run.returncode == 0 and len(frames) == want and all(np.array_equal(a, b) for a, b in zip(frames, got)),
              f"vspipe output: {len(frames)} frames in {took:.1f} s, equal to the frames above {run.stderr.strip()[-300:]}")
    check.finish()


if __name__ == "__main__":
    main()
