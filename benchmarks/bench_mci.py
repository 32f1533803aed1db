"""`vfi upsample --method mci --fps 60` against FFmpeg's own minterpolate on the same
24 fps clip, side by side in one run (vfi's mci uses FFmpeg's default options).

FFmpeg's side is what ``ffmpeg -i clip -vf minterpolate=fps=60:mi_mode=mci -c:v ffv1``
does, run through the same libavfilter with PyAV (no ffmpeg binary here): decode, one
filter graph for the whole clip, encode.  vfi's side is the whole command.
Each round times both; the figure is the median of the rounds' ratios.

    python benchmarks/bench_mci.py [CLIP] [--size 320x180] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

FFMPEG_DEFAULT = "mi_mode=mci"  # the filter string: minterpolate's other options at their defaults


def make_clip(src: str, size: tuple[int, int], seconds: float, folder: Path) -> Path:
    """``seconds`` of ``src`` at 24 fps and ``size``, lossless."""
    out_path = folder / "clip24.mkv"
    n = int(24 * seconds)
    with av.open(src) as inp, av.open(str(out_path), "w") as out:
        s = out.add_stream("ffv1", rate=24)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        frames = []
        for f in inp.decode(video=0):
            frames.append(f.reformat(width=size[0], height=size[1], format="yuv420p"))
            if len(frames) >= n:
                break
        while len(frames) < n:  # a short source: played back and forth
            frames += frames[::-1][: n - len(frames)]
        for i, g in enumerate(frames):
            g.pts, g.time_base = i, Fraction(1, 24)
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    return out_path


def ffmpeg_minterpolate(clip: Path, out: Path, options: str, fps: int = 60) -> int:
    with av.open(str(clip)) as inp, av.open(str(out), "w") as dst:
        v = inp.streams.video[0]
        graph = av.filter.Graph()
        src = graph.add_buffer(template=v)
        mi = graph.add("minterpolate", f"fps={fps}:{options}")
        sink = graph.add("buffersink")
        src.link_to(mi)
        mi.link_to(sink)
        graph.configure()
        s = dst.add_stream("ffv1", rate=fps)
        s.width, s.height, s.pix_fmt = v.codec_context.width, v.codec_context.height, "yuv420p"
        n = 0

        def drain():
            nonlocal n
            while True:
                try:
                    f = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                f.pict_type = av.video.frame.PictureType.NONE
                dst.mux(s.encode(f))
                n += 1

        for f in inp.decode(v):
            src.push(f)
            drain()
        src.push(None)
        drain()
        dst.mux(s.encode(None))
    return n


def main():
    from vfi.engine import Job, run
    from vfi.methods import MotionCompensated
    from vfi.io.encoding import EncodeOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"))
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(args.clip, size, args.seconds, tmp)
        rows = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            n_default = ffmpeg_minterpolate(clip, tmp / "ff_default.mkv", FFMPEG_DEFAULT)
            t1 = t2 = time.perf_counter()
            n_same = n_default
            if MotionCompensated.OPTIONS.split(":scd")[0] != FFMPEG_DEFAULT:
                n_same = ffmpeg_minterpolate(clip, tmp / "ff_vfi_options.mkv", MotionCompensated.OPTIONS)
                t2 = time.perf_counter()
            res = run(Job(input=str(clip), output=str(tmp / "vfi.mkv"), fps=60, method="mci", overwrite=True,
                          encode=EncodeOptions(codec="ffv1")))
            t3 = time.perf_counter()
            rows.append((t1 - t0, t2 - t1, t3 - t2))
            print(f"round: ffmpeg minterpolate={FFMPEG_DEFAULT} {t1 - t0:.2f} s ({n_default} frames); same options as vfi "
                  f"{t2 - t1:.2f} s ({n_same}); vfi upsample --method mci --fps 60 {t3 - t2:.2f} s ({res.frames_out} frames, "
                  f"{res.synthesised} made)", flush=True)
    ratio_default = statistics.median(v / d for d, _, v in rows)
    ratio_same = statistics.median(v / (s or d) for d, s, v in rows)
    print(f"{args.size}, {args.seconds:g} s at 24 fps -> 60: vfi / ffmpeg minterpolate ({FFMPEG_DEFAULT}) = {ratio_default:.3f}; "
          f"vfi / the same filter with vfi's options = {ratio_same:.3f} (median of {len(rows)} rounds)")


if __name__ == "__main__":
    main()
