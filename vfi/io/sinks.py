"""Sinks: where a job's output frames go.

A sink takes output frames in order, each with its timestamp (``frame``), and copied
packets (``packet``); it works in a thread of its own (the encoder owns the output
container, so every write and mux goes through there), converting made RGB frames to
the output's pixel format on the way.  ``finish`` completes a temporary file and
returns it for the job to put in place with its other outputs; ``abort`` throws it
away.
"""

from __future__ import annotations

import shutil
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError, UsageError
from ..outputs import forget, temporary_dir
from ..pipeline import BackgroundWorker, Profile, queue_depth
from .alpha import alpha_format, alpha_frame, has_alpha, lost_alpha
from .filters import FrameFilter
from .colour import ColorConverter, bits_per_sample, deep_rgb_from_rgb, rgb_levels
from .formats import IMAGE_FORMATS, IMAGE_PIX_FMTS, SAR_IMAGE_CODECS
from .target import OutputTarget
from .writing import VideoWriter


class VideoFileSink:
    """A video file written with PyAV (:class:`vfi.io.writing.VideoWriter`)."""

    def __init__(self, writer: VideoWriter, conv: ColorConverter, profile: Profile, threaded: bool = True,
                 size: tuple[int, int] = (0, 0), turn: str | None = None):
        self.writer = writer
        self.turn = FrameFilter(turn) if turn else None  # turns the picture upright (see vfi.io.filters)
        self.conv = conv
        self.profile = profile
        self.worker = BackgroundWorker(profile, maxsize=queue_depth(*size)) if threaded else _Inline(profile)

    @property
    def path(self) -> Path:
        return self.writer.path

    @property
    def alpha(self) -> bool:
        """Frames are to come with their alpha (:func:`vfi.io.alpha.for_alpha_output`)."""
        return self.writer.keeps_alpha

    @property
    def pix_fmt(self) -> str:
        return self.writer.pix_fmt

    @property
    def warnings(self) -> list[str]:
        return self.writer.warnings

    def frame(self, result, pts: int) -> None:
        """``result``: a source (or FFmpeg-made) ``av.VideoFrame`` or an H x W x 3 RGB array
        (where the sink keeps transparency, :attr:`alpha`: a frame in its format or a
        :class:`vfi.io.alpha.Transparent`)."""
        self.worker.submit(self._encode, result, pts)

    def packet(self, packet: av.Packet) -> None:
        self.worker.submit(self.writer.mux_copied, packet)

    def _encode(self, result, pts: int) -> None:
        t0 = time.perf_counter()
        fmt = self.writer.pix_fmt
        if self.alpha:
            frame = alpha_frame(result, fmt, self.conv)
        elif isinstance(result, np.ndarray):
            frame = self.conv.from_rgb(result, fmt)
        else:
            frame = self.conv.convert(result, fmt) if result.format.name != fmt else result
        if self.turn is not None:
            frame = self.turn.push(frame)[0]
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder place keyframes
        self.profile.add("convert", time.perf_counter() - t0)
        self.writer.write(frame, pts)

    def finish(self) -> Path:
        """Waits for every frame, flushes, and returns the finished temporary file."""
        self.worker.finish()
        return self.writer.finish()

    def abort(self) -> None:
        self.worker.abort()
        self.writer.abort()


class _Inline:
    """The encoder without a thread (``Job.threads=False``): same interface."""

    def __init__(self, profile: Profile):
        self.profile = profile

    def submit(self, fn, *args) -> None:
        with self.profile.time("encode"):
            fn(*args)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


class ImageSequenceSink:
    """Numbered images (PNG by default; 16-bit PNG when the source has more than 8 bits a
    sample, as ffmpeg does), written into a hidden folder beside the target and renamed
    to it at the end.  Frames are numbered from 1, as ffmpeg's image2 muxer does."""

    def __init__(self, target: OutputTarget, conv: ColorConverter, source_pix_fmt: str, profile: Profile, threaded: bool = True,
                 size: tuple[int, int] = (0, 0), turn: str | None = None, sample_aspect_ratio: Fraction | None = None):
        self.folder, self.pattern = target.path, target.pattern
        ext = Path(self.pattern).suffix.lower()
        self.codec = IMAGE_FORMATS.get(ext)
        if self.codec is None:
            raise UsageError(f"{target.spec}: images are written as {', '.join(IMAGE_FORMATS)}, not {ext or 'no extension'}")
        deep = bits_per_sample(source_pix_fmt) > 8 and self.codec in ("png", "tiff")
        self.pix_fmt = alpha_format(self.codec, source_pix_fmt) or ("rgb48be" if deep else IMAGE_PIX_FMTS.get(self.codec, "rgb24"))
        self.alpha = has_alpha(self.pix_fmt)
        self.warnings = lost_alpha(source_pix_fmt, self.pix_fmt, f"{ext} images")
        self.sar = sample_aspect_ratio if sample_aspect_ratio and sample_aspect_ratio != 1 else None
        if self.sar and self.codec not in SAR_IMAGE_CODECS:  # PNG (pHYs), JPEG (JFIF) and TIFF store it
            self.warnings.append(f"sample aspect ratio {self.sar.numerator}:{self.sar.denominator} not kept: {ext} images "
                                 "cannot carry it (PNG, JPEG and TIFF can); viewers will show square pixels")
        self.conv, self.profile = conv, profile
        self.turn = FrameFilter(turn) if turn else None  # images cannot say how to turn the picture
        self.tmp = temporary_dir(self.folder)
        self.count = 0
        self.worker = BackgroundWorker(profile, maxsize=queue_depth(*size)) if threaded else _Inline(profile)
        self.path = self.folder

    def frame(self, result, pts: int) -> None:
        self.worker.submit(self._write, result)

    def packet(self, packet) -> None:
        pass  # images carry no sound (the job says so in a warning)

    def _write(self, result) -> None:
        t0 = time.perf_counter()
        if self.alpha:
            frame = alpha_frame(result, self.pix_fmt, self.conv)
        elif isinstance(result, np.ndarray) and self.pix_fmt == "rgb48be":
            frame = deep_rgb_from_rgb(result, "rgb48be")  # v * 257, as the source frames around it (swscale: 255 -> 65280)
        elif isinstance(result, np.ndarray):
            if result.dtype != np.uint8:  # made at a deep source's precision, written in 8 bits here
                result = rgb_levels(result, precise=False)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(result), format="rgb24")
        else:
            frame = self.conv.to_rgb_frame(result, "rgb48be" if self.pix_fmt == "rgb48be" else "rgb24")
        if frame.format.name != self.pix_fmt:
            frame = frame.reformat(format=self.pix_fmt)
        if self.turn is not None:
            frame = self.turn.push(frame)[0]
        self.profile.add("convert", time.perf_counter() - t0)
        cc = av.CodecContext.create(self.codec, "w")
        cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, self.pix_fmt
        cc.time_base = Fraction(1, 25)
        if self.sar:
            cc.sample_aspect_ratio = self.sar
        frame.pts = None
        data = b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)])
        self.count += 1
        try:
            (self.tmp / (self.pattern % self.count)).write_bytes(data)
        except OSError as e:
            raise OutputError(f"{self.folder}: write failed: {e.strerror or e}") from None

    def finish(self) -> Path:
        self.worker.finish()
        return self.tmp

    def abort(self) -> None:
        self.worker.abort()
        shutil.rmtree(self.tmp, ignore_errors=True)
        forget(self.tmp)
