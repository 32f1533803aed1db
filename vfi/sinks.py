"""Sinks: where a job's output frames go.

A sink takes output frames in order, each with its timestamp (``frame``), and copied
packets (``packet``); it works in a thread of its own (the encoder owns the output
container, so every write and mux goes through there), converting made RGB frames to
the output's pixel format on the way.  ``finish`` completes a temporary file and
returns it for the job to put in place with its other outputs; ``abort`` throws it
away.
"""

from __future__ import annotations

import os
import shutil
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .errors import OutputError, UsageError
from .outputs import temporary_dir
from .pipeline import BackgroundWorker, Profile, queue_depth
from .video import ColorConverter, VideoWriter, bits_per_sample, deep_rgb_from_rgb, rgb_levels


class VideoFileSink:
    """A video file written with PyAV (:class:`vfi.video.VideoWriter`)."""

    def __init__(self, writer: VideoWriter, conv: ColorConverter, profile: Profile, threaded: bool = True, stretcher=None,
                 size: tuple[int, int] = (0, 0)):
        self.writer = writer
        self.conv = conv
        self.profile = profile
        self.stretcher = stretcher  # slow motion: audio packets are stretched, not copied
        self.worker = BackgroundWorker(profile, maxsize=queue_depth(*size)) if threaded else _Inline(profile)

    @property
    def path(self) -> Path:
        return self.writer.path

    def frame(self, result, pts: int) -> None:
        """``result``: a source (or FFmpeg-made) ``av.VideoFrame`` or an H x W x 3 RGB array."""
        self.worker.submit(self._encode, result, pts)

    def packet(self, packet: av.Packet) -> None:
        self.worker.submit(self._mux, packet)

    def _encode(self, result, pts: int) -> None:
        t0 = time.perf_counter()
        fmt = self.writer.pix_fmt
        if isinstance(result, np.ndarray):
            frame = self.conv.from_rgb(result, fmt)
        else:
            frame = self.conv.convert(result, fmt) if result.format.name != fmt else result
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder place keyframes
        self.profile.add("convert", time.perf_counter() - t0)
        self.writer.write(frame, pts)

    def _mux(self, packet: av.Packet) -> None:
        if self.stretcher is not None:
            self.writer.mux(self.stretcher.feed(packet))
        else:
            self.writer.mux_copied(packet)

    def finish(self) -> Path:
        """Waits for every frame, flushes, and returns the finished temporary file."""
        if self.stretcher is not None:
            self.worker.submit(lambda: self.writer.mux(self.stretcher.flush()))
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


IMAGE_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp", ".jpg": "mjpeg", ".jpeg": "mjpeg"}
DEFAULT_PATTERN = "%06d.png"
SIDECAR_NAME = "vfi.json"  # an image sequence's sidecar, inside its folder


def image_target(spec: str) -> tuple[Path, str]:
    """(folder, file pattern) of an image-sequence output: ``out/%05d.png`` or a folder
    (``out/``: ``%06d.png`` inside)."""
    from .sources import is_image_pattern

    if is_image_pattern(spec):
        p = Path(spec)
        return (p.parent if str(p.parent) else Path(".")), p.name
    return Path(spec), DEFAULT_PATTERN


def output_kind(spec: str) -> str:
    """'pipe' (``-``: stdout), 'images' (a ``%06d.png`` pattern, or a folder: one that
    exists, or a name ending in ``/``) or 'file' (a video file)."""
    from .sources import is_image_pattern

    if spec == "-":
        return "pipe"
    if is_image_pattern(spec) or spec.endswith(("/", os.sep)) or Path(spec).is_dir():
        return "images"
    return "file"


class ImageSequenceSink:
    """Numbered images (PNG by default; 16-bit PNG when the source has more than 8 bits a
    sample, as ffmpeg does), written into a hidden folder beside the target and renamed
    to it at the end.  Frames are numbered from 1, as ffmpeg's image2 muxer does."""

    def __init__(self, spec: str, conv: ColorConverter, source_pix_fmt: str, profile: Profile, threaded: bool = True,
                 size: tuple[int, int] = (0, 0)):
        self.folder, self.pattern = image_target(spec)
        ext = Path(self.pattern).suffix.lower()
        self.codec = IMAGE_FORMATS.get(ext)
        if self.codec is None:
            raise UsageError(f"{spec}: images are written as {', '.join(IMAGE_FORMATS)}, not {ext or 'no extension'}")
        deep = bits_per_sample(source_pix_fmt) > 8 and self.codec in ("png", "tiff")
        self.pix_fmt = "rgb48be" if deep else ("yuvj444p" if self.codec == "mjpeg" else "rgb24")
        self.conv, self.profile = conv, profile
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
        if isinstance(result, np.ndarray) and self.pix_fmt == "rgb48be":
            frame = deep_rgb_from_rgb(result, "rgb48be")  # v * 257, as the source frames around it (swscale: 255 -> 65280)
        elif isinstance(result, np.ndarray):
            if result.dtype != np.uint8:  # made at a deep source's precision, written in 8 bits here
                result = rgb_levels(result, precise=False)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(result), format="rgb24")
        else:
            frame = self.conv.to_rgb_frame(result, "rgb48be" if self.pix_fmt == "rgb48be" else "rgb24")
        if frame.format.name != self.pix_fmt:
            frame = frame.reformat(format=self.pix_fmt)
        self.profile.add("convert", time.perf_counter() - t0)
        cc = av.CodecContext.create(self.codec, "w")
        cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, self.pix_fmt
        cc.time_base = Fraction(1, 25)
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


def check_image_target(spec: str, overwrite: bool) -> Path:
    """An image-sequence output can be made: its folder is new, empty, or (with
    --overwrite) an earlier image sequence; its parent exists and is writable."""
    folder, pattern = image_target(spec)
    if "/" in pattern or os.sep in pattern:
        raise UsageError(f"{spec}: the number pattern must be in the file name, not in a folder's")
    if Path(pattern).suffix.lower() not in IMAGE_FORMATS:
        raise UsageError(f"{spec}: images are written as {', '.join(IMAGE_FORMATS)}, not {Path(pattern).suffix or 'no extension'}")
    try:
        pattern % 1
    except (TypeError, ValueError):
        raise UsageError(f"{spec}: one number pattern (like %06d) in the file name, please") from None
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{folder}: exists and is not a folder")
        contents = list(folder.iterdir())
        if contents and not overwrite:
            raise UsageError(f"{folder}: already holds files (use --overwrite to replace an earlier image sequence)")
        if contents and any(p.is_dir() or (p.suffix.lower() not in IMAGE_FORMATS and p.name != SIDECAR_NAME) for p in contents):
            raise UsageError(f"{folder}: holds other things than images; vfi will not replace it")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{spec}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{spec}: folder {parent} is not writable")
    return folder
