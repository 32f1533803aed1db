"""Sinks: where a job's output frames go.

A sink takes output frames in order, each with its timestamp (``frame``), and copied
packets (``packet``); it works in a thread of its own (the encoder owns the output
container, so every write and mux goes through there), converting made RGB frames to
the output's pixel format on the way.  ``finish`` completes a temporary file and
returns it for the job to put in place with its other outputs; ``abort`` throws it
away.
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np

from .pipeline import BackgroundWorker, Profile
from .video import ColorConverter, VideoWriter


class VideoFileSink:
    """A video file written with PyAV (:class:`vfi.video.VideoWriter`)."""

    def __init__(self, writer: VideoWriter, conv: ColorConverter, profile: Profile, threaded: bool = True, stretcher=None):
        self.writer = writer
        self.conv = conv
        self.profile = profile
        self.stretcher = stretcher  # slow motion: audio packets are stretched, not copied
        self.worker = BackgroundWorker(profile) if threaded else _Inline(profile)

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
