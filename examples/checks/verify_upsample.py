"""Checks upsampling's timing and streams on any real clip:

    python examples/checks/verify_upsample.py CLIP [--workdir DIR]

1. `vfi upsample CLIP -o out.mkv --factor 2 --codec ffv1 --method blend`: 2N frames
   (for a constant-rate source), every source frame in the output at its own time and
   unchanged, duration within one frame, audio packets identical;
2. `--fps 59.94` (a non-integer ratio for most sources): frame count ceil(duration*rate)
   and every timestamp k*1001/60000 (to the container's precision).
Prints what it measured; exits 1 if a check fails.
"""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction

import av
import numpy as np
from checks import Checks, clip_and_workdir


def frames(path):
    """[(time, image)] in display order.  Some files (AVI, badly muxed MP4 such as corpus
    box.mp4) attach the timestamps in decode order: the images come out in display
    order and the sorted timestamps are theirs, as vfi's reader does it."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        decoded = [(f.pts, _array(f)) for f in c.decode(s)]
        times = sorted(Fraction(p) * s.time_base for p, _ in decoded)
    return list(zip(times, (img for _, img in decoded)))


def _array(frame):
    """The stored planes, byte for byte (a bit-exact comparison whatever the format,
    including those PyAV cannot hand out as arrays: yuvj422p, yuv410p, ...)."""
    if frame.format.name.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "pal8")):
        return frame.to_ndarray(format="rgb24")  # RGB sources are stored as bgr0 by FFV1
    depth = frame.format.components[0].bits
    size = 2 if depth > 8 else 1
    return np.concatenate([
        np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width * size].ravel()
        for p in frame.planes
    ])


def audio(path):
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def main():
    args, work = clip_and_workdir()
    check = Checks()

    out = work / "x2.mkv"
    subprocess.run(["vfi", "upsample", args.clip, "-o", str(out), "--factor", "2", "--codec", "ffv1", "--method", "blend",
                    "--overwrite", "-q"], check=True)
    src, dst = frames(args.clip), frames(out)
    n = len(src)
    gaps = np.diff([float(t) for t, _ in src])
    regular = bool(np.all(np.abs(gaps / np.median(gaps) - 1) < 0.25))
    if regular:
        check(len(dst) == 2 * n, f"2x: {n} source frames -> {len(dst)} output frames (expected 2N = {2 * n})")
    else:  # a gap spanning k source intervals gets 2k frames (README, Timing)
        print(f"note: variable frame rate (intervals {gaps.min() * 1000:.1f}-{gaps.max() * 1000:.1f} ms): "
              f"{n} source frames -> {len(dst)} output frames, not checked against 2N")
    # A muxer that cannot store negative times (Matroska) moves everything later when
    # copied audio starts before zero (AAC priming): the same shift for sound and picture.
    shift = Fraction(round(float(dst[0][0] - src[0][0]) * 1000), 1000)  # to the container's 1 ms
    if shift:
        print(f"note: output times shifted by {float(shift) * 1000:.1f} ms by the muxer (audio starts before 0)")
    # every source frame, at its own time (to the output container's 1 ms), unchanged
    at = {round(float(t - shift) * 1000): img for t, img in dst}
    def stored(t):  # rounded either way at half a millisecond
        ms = round(float(t) * 1000)
        return next((at[k] for k in (ms, ms - 1, ms + 1) if k in at), None)

    same = sum(np.array_equal(stored(t), img) for t, img in src)
    check(same == n, f"2x: {same} of {n} source frames are in the output at their own time, exactly")
    src_dur = src[-1][0] - src[0][0] + (src[-1][0] - src[-2][0])
    out_dur = dst[-1][0] - dst[0][0] + (dst[-1][0] - dst[-2][0])
    step = float(src[-1][0] - src[-2][0])
    check(abs(float(out_dur - src_dur)) <= step, f"2x: duration {float(out_dur):.4f} s vs source {float(src_dur):.4f} s (one frame = {step:.4f} s)")
    a_in, a_out = audio(args.clip), audio(out)
    check(a_in == a_out, f"audio: {len(a_out)} of {len(a_in)} packets copied, identical: {a_in == a_out}")

    out2 = work / "ntsc.mkv"
    rate = Fraction(60000, 1001)
    subprocess.run(["vfi", "upsample", args.clip, "-o", str(out2), "--fps", "59.94", "--codec", "ffv1", "--method", "blend",
                    "--overwrite", "-q"], check=True)
    dst2 = frames(out2)
    expected = math.ceil(src_dur * rate - Fraction(1, 1000))
    if regular:
        check(len(dst2) == expected, f"59.94: {len(dst2)} frames (expected ceil({float(src_dur):.4f} s x 59.94) = {expected})")
    else:  # how long the last frame lasts is the container's word (its duration), not the last interval
        print(f"note: variable frame rate: 59.94 gives {len(dst2)} frames (the last interval would make {expected})")
    worst = max(abs(float(t - shift - src[0][0] - Fraction(k * 1001, 60000))) for k, (t, _) in enumerate(dst2))
    check(worst <= 0.0005, f"59.94: largest timestamp error {worst * 1000:.3f} ms (container precision 1 ms)")
    check.finish()


if __name__ == "__main__":
    main()
