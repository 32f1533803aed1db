"""vfi inside other programs: frames in, frames out, no files.

:class:`Interpolator` makes frames between two RGB uint8 arrays at any times, or runs
through a sequence of frames (a generator: memory stays flat however long it is),
keeping each source frame and making the frames between every pair, with a scene cut
held instead of blended across.  The method is the CLI's (the shipped flow-fusion
model by default); a sequence keeps the method's flow cache, so each flow between two
frames is computed once."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Iterator

import av
import numpy as np

from .io.colour import ColorConverter, ColorSpec
from .io.frames import FramePairs, SourceFrame
from .scenes import DEFAULT_THRESHOLD, CutDetector


class Interpolator:
    """``Interpolator(method=None)``: ``None`` is the CLI's default (flow-fusion, or
    the cross-fade where its weights are not installed); ``"blend"``, ``"dup"``,
    ``"mci"`` or a registered model name, with ``weights``, ``device`` and ``precision``
    as the CLI's."""

    def __init__(self, method: str | None = None, weights: str | None = None, device: str = "auto",
                 scene_threshold: float = DEFAULT_THRESHOLD, precision: str = "auto"):
        from .engine import Job, build_method, checked_job

        # frames come from and go to the calling program: "-" as for pipes
        job = checked_job(Job(input="-", output="-", method=method, weights=weights, device=device,
                              precision=precision, threads=False))
        self.method = build_method(job)
        self.name = self.method.name
        self.cuts = CutDetector(scene_threshold)
        self.conv: ColorConverter | None = None
        self.index = 0
        self.step = Fraction(1, 2)  # output step in source intervals, for methods that plan with it

    def _frame(self, rgb: np.ndarray, time: Fraction) -> SourceFrame:
        """An RGB array as the engine's source frame (numbered: the flow cache's key)."""
        rgb = np.ascontiguousarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frames are H x W x 3 uint8 RGB arrays, got {rgb.dtype} {rgb.shape}")
        if self.conv is None or self.size != rgb.shape[:2]:
            self._start(rgb.shape[:2])
        sf = SourceFrame(self.index, time, av.VideoFrame.from_ndarray(rgb, format="rgb24"), _rgb=rgb)
        self.index += 1
        self.cuts.prepare(sf)
        self.method.prepare(sf)
        return sf

    def _start(self, size: tuple[int, int]) -> None:
        """A new frame size: a new converter and a fresh flow cache."""
        self.size = size
        self.conv = ColorConverter("rgb24", ColorSpec(), size[0])
        self.method.setup(self.conv)
        self.method.timing(self.step)

    def _rgb(self, result) -> np.ndarray:
        return result if isinstance(result, np.ndarray) else self.conv.to_rgb(result)

    def between(self, rgb0: np.ndarray, rgb1: np.ndarray, times: Iterable[float], hold_cuts: bool = False) -> list[np.ndarray]:
        """Frames at ``times`` (0 < t < 1: where between ``rgb0`` and ``rgb1``), as RGB
        arrays; with ``hold_cuts``, the nearer of the two where a scene cut lies between them."""
        ts = [float(t) for t in times]
        if any(not 0 < t < 1 for t in ts):
            raise ValueError("times lie strictly between the two frames: 0 < t < 1")
        a, b = self._frame(rgb0, Fraction(0)), self._frame(rgb1, Fraction(1))
        if ts and hold_cuts and self.cuts.is_cut(a, b):
            return [rgb0 if t < 0.5 else rgb1 for t in ts]
        return [self._rgb(r) for r in self.method.interpolate(a, b, ts)] if ts else []

    def stream(self, frames: Iterable[np.ndarray], factor: int = 2) -> Iterator[np.ndarray]:
        """Every frame of ``frames`` followed by ``factor - 1`` frames made between it and
        the next (the last frame alone): ``factor`` times the frame rate.  Across a scene
        cut the nearer frame is repeated; the frames around a pair reach methods that
        follow motion through them."""
        if int(factor) != factor or factor < 1:
            raise ValueError(f"factor must be a whole number of at least 1, got {factor}")
        ts = [j / factor for j in range(1, int(factor))]
        self.step = Fraction(1, int(factor))
        self.method.timing(self.step)
        pairs = FramePairs(self._frame(rgb, Fraction(self.index)) for rgb in frames)
        for before, a, b, after in pairs:
            yield from self._pair(a, b, ts, before, after)
        if pairs.last is not None:
            yield pairs.last.rgb(self.conv)

    def _pair(self, a: SourceFrame, b: SourceFrame, ts: list[float], before, after) -> Iterator[np.ndarray]:
        yield a.rgb(self.conv)
        if not ts:
            return
        if self.cuts.is_cut(a, b):
            yield from (a.rgb(self.conv) if t < 0.5 else b.rgb(self.conv) for t in ts)
            return
        around = self.cuts.neighbours(a, b, before, after) if self.method.neighbours else {}
        yield from (self._rgb(r) for r in self.method.interpolate(a, b, ts, **around))

    def close(self) -> None:
        self.method.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
