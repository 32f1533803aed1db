"""The frame types a job passes around: what is known of a video before decoding it
(:class:`VideoInfo`), one decoded frame with its exact time (:class:`SourceFrame`), and
a sequence of frames taken pair by pair with the frames around each (:class:`FramePairs`)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from ..pipeline import LARGE_FRAME_PIXELS
from .alpha import alpha_plane
from .colour import ColorConverter, ColorSpec, rgb_levels


@dataclass
class VideoInfo:
    """What we know about the input before decoding it."""

    path: str
    width: int
    height: int
    pix_fmt: str
    codec: str
    time_base: Fraction
    rate: Fraction | None
    start: Fraction
    duration: Fraction | None
    frame_count: int | None
    color: ColorSpec
    rotation: int = 0
    sample_aspect_ratio: Fraction | None = None
    audio_streams: int = 0
    tags: dict = field(default_factory=dict)  # the container's (title, creation_time, location, ...)
    video_tags: dict = field(default_factory=dict)  # the video stream's (language, handler_name, ...)
    hdr: dict = field(default_factory=dict)  # HDR10 static metadata of the first frame (see hdr10_metadata)
    chapters: list = field(default_factory=list)  # (start, end, metadata): seconds from the video's start

    @property
    def nominal_rate(self) -> Fraction:
        """The average frame rate, or 25 fps when the container says nothing."""
        return self.rate if self.rate else Fraction(25)


@dataclass
class SourceFrame:
    """One decoded input frame with its presentation time in seconds (exact)."""

    index: int
    time: Fraction
    frame: av.VideoFrame
    duration: Fraction | None = None
    _rgb: np.ndarray | None = field(default=None, repr=False)
    _rgb_precise: np.ndarray | None = field(default=None, repr=False)
    cut_score: tuple[int, float] | None = field(default=None, repr=False)  # (index of the frame before, score): scenes.CutDetector.prepare
    _alpha: tuple[np.ndarray, int] | None = field(default=None, repr=False)

    def alpha(self) -> tuple[np.ndarray, int]:
        """The frame's alpha samples and their opaque value (:func:`vfi.io.alpha.alpha_plane`),
        read once for every output frame made from it."""
        if self._alpha is None:
            self._alpha = alpha_plane(self.frame)
        return self._alpha

    def rgb(self, conv: ColorConverter) -> np.ndarray:
        """The frame as 8-bit RGB, kept for the next caller; above 1440p made again when
        asked (at 4K: 160 MB less at the peak for 8 % more CPU time)."""
        if self._rgb is not None:
            return self._rgb
        precise = self._rgb_precise
        # rounded from the precise copy when there is one: the same formula, read once
        rgb = rgb_levels(precise, False) if precise is not None and precise.dtype != np.uint8 else conv.to_rgb(self.frame)
        if self.keeps_rgb:
            self._rgb = rgb
        return rgb

    @property
    def keeps_rgb(self) -> bool:
        """Whether :meth:`rgb` keeps what it makes (frames up to 1440p)."""
        return self.frame.width * self.frame.height <= LARGE_FRAME_PIXELS

    def rgb_precise(self, conv: ColorConverter) -> np.ndarray:
        """The frame as float32 RGB on 0..255 at the source's precision where it has more
        than 8 bits (:meth:`ColorConverter.to_rgb_precise`), else its 8-bit RGB."""
        if self._rgb_precise is None:
            deep = conv.to_rgb_precise(self.frame)
            self._rgb_precise = deep if deep is not None else self.rgb(conv)
        return self._rgb_precise



class FramePairs:
    """Each pair of consecutive frames of ``frames`` as (before, a, b, after), with the
    frames on either side of it (None at the ends), handed on once the frame after it has
    come: methods that follow motion through more than two frames see them.  ``last``:
    the last frame taken from ``frames`` (None while there is none)."""

    def __init__(self, frames):
        self.frames = frames
        self.last = None

    def __iter__(self):
        window: deque = deque(maxlen=4)
        for frame in self.frames:
            window.append(frame)
            self.last = frame
            if len(window) >= 3:
                yield (window[-4] if len(window) == 4 else None, window[-3], window[-2], window[-1])
        if len(window) >= 2:  # the last pair: nothing after it
            yield (window[-3] if len(window) >= 3 else None, window[-2], window[-1], None)
