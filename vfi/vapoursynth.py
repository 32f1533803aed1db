"""vfi in VapourSynth scripts: :func:`interpolate` turns a clip into one at a new frame
rate with vfi's methods (the shipped flow-fusion model by default), never blending
across a scene cut::

    import vapoursynth as vs
    from vfi.vapoursynth import interpolate

    clip = vs.core.bs.VideoSource("film.mkv")  # any source filter
    clip = vs.core.resize.Bicubic(clip, format=vs.RGB24, matrix_in_s="709")
    interpolate(clip, fps=60).set_output()

Output frame ``n`` shows the source at ``n / fps`` seconds: a source frame where that
falls on one, else a frame made between the two around it (all the frames a pair needs
are made together, with one flow computation, and kept for the next requests).  The
rate arithmetic is exact (fractions), so a whole factor keeps every source frame.
Each output frame keeps the properties of the source frame before it (colour, field
order...), with its duration at the new rate and ``_AbsoluteTime`` moved to its own
time; the source's ``_SceneChangePrev``/``_SceneChangeNext`` marks are dropped."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from fractions import Fraction
from typing import Callable

import numpy as np


class RateChange:
    """Frame ``n`` of a sequence at ``rate`` from ``count`` frames at ``source_rate``,
    read by number with ``source_frame(i)`` (H x W x 3 uint8 RGB); ``interp`` a
    :class:`vfi.Interpolator`.  Safe to call from several threads (VapourSynth's)."""

    KEEP = 4  # pairs whose made frames are kept (requests come in order, a few at once)

    def __init__(self, source_frame: Callable[[int], np.ndarray], count: int, source_rate: Fraction, rate: Fraction, interp):
        if count < 1 or source_rate <= 0 or rate <= 0:
            raise ValueError("a clip with frames, and positive rates")
        self.source_frame, self.count = source_frame, count
        self.step = Fraction(source_rate) / Fraction(rate)  # source frames per output frame
        self.interp = interp
        self.lock = threading.Lock()
        self.pairs: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        """As long as the source: its last frame shown for its own duration."""
        return max(1, math.ceil(self.count / self.step))

    def where(self, n: int) -> tuple[int, Fraction]:
        """(source frame before, position after it in (0, 1) or 0) of output frame ``n``."""
        pos = n * self.step
        i = min(math.floor(pos), self.count - 1)
        return i, (pos - i if i < self.count - 1 else Fraction(0))

    def __call__(self, n: int) -> np.ndarray:
        i, t = self.where(n)
        if t == 0:
            return self.source_frame(i)
        with self.lock:  # one thread makes a pair; the others wait for it instead of making it again
            made = self.pairs.get(i)
            if made is None:
                made = self.pairs[i] = self._make_pair(i)
                while len(self.pairs) > self.KEEP:
                    self.pairs.popitem(last=False)
        return made[n]

    def _make_pair(self, i: int) -> dict[int, np.ndarray]:
        """Every output frame between source frames ``i`` and ``i + 1``."""
        first = math.ceil(i / self.step)
        ns = [n for n in range(first, math.ceil((i + 1) / self.step)) if self.where(n) != (i, 0)]
        ts = [float(self.where(n)[1]) for n in ns]
        made = self.interp.between(self.source_frame(i), self.source_frame(i + 1), ts, hold_cuts=True)  # no blend across a cut
        return dict(zip(ns, made))


def interpolate(clip, fps=None, factor=None, method: str | None = None, weights: str | None = None, device: str = "auto",
                scene_threshold: float | None = None):
    """``clip`` (RGB24) at ``fps`` frames per second, or ``factor`` times its rate."""
    import vapoursynth as vs

    from .frames_api import Interpolator
    from .scenes import DEFAULT_THRESHOLD
    from .timing import parse_rate

    if clip.format is None or clip.format.id != vs.RGB24:
        raise ValueError("vfi takes RGB24 clips: vs.core.resize.Bicubic(clip, format=vs.RGB24, matrix_in_s='709')")
    if not clip.width or not clip.height:
        raise ValueError("vfi takes clips of one frame size (resize to one first)")
    if (fps is None) == (factor is None):
        raise ValueError("give fps or factor")
    if not clip.fps_num or not clip.fps_den:  # a variable rate is 0/0 (0/1 in older cores)
        raise ValueError("the clip has no constant frame rate (set one with std.AssumeFPS)")
    source_rate = Fraction(clip.fps_num, clip.fps_den)
    rate = parse_rate(fps) if fps is not None else source_rate * parse_rate(factor)
    interp = Interpolator(method, weights, device, DEFAULT_THRESHOLD if scene_threshold is None else scene_threshold)
    change = RateChange(lambda i: _rgb(clip.get_frame(i)), clip.num_frames, source_rate, rate, interp)
    blank = vs.core.std.BlankClip(clip, length=len(change), fpsnum=rate.numerator, fpsden=rate.denominator)

    def frame(n, f):
        i, t = change.where(n)
        out = clip.get_frame(i).copy()  # the source frame before: its properties (colour, field order...) carry over
        if t:
            rgb = change(n)
            for p in range(3):
                np.copyto(np.asarray(out[p]), rgb[..., p])
        _retime(out.props, n * change.step - i, source_rate, rate)
        return out

    return vs.core.std.ModifyFrame(blank, blank, frame)


def _retime(props, after: Fraction, source_rate: Fraction, rate: Fraction) -> None:
    """A frame's properties at its place in the output: ``after`` source intervals
    after the source frame they were copied from."""
    props["_DurationNum"], props["_DurationDen"] = rate.denominator, rate.numerator
    if "_AbsoluteTime" in props:
        props["_AbsoluteTime"] = float(props["_AbsoluteTime"]) + float(after / source_rate)
    for mark in ("_SceneChangePrev", "_SceneChangeNext"):  # they name the source's neighbours, not the output's
        if mark in props:
            del props[mark]


def _rgb(frame) -> np.ndarray:
    return np.ascontiguousarray(np.dstack([np.asarray(frame[p]) for p in range(3)]))
