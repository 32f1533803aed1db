"""Sources: where a job's timed frames come from.

A source has ``info`` (:class:`vfi.video.VideoInfo`: size, rate, colour, duration),
yields :class:`vfi.video.SourceFrame` items in presentation order with exact,
strictly increasing times (and, interleaved, the packets of the streams it was asked
to pass through), and says at the end whether anything was lost
(``check_complete``).  Decoding runs in a thread of its own, ahead of the job, and
does per-frame preparation there (``prepare``) so that it overlaps the model.
"""

from __future__ import annotations

import time

from .pipeline import BackgroundIterator, Profile
from .video import VideoReader


class VideoFileSource:
    """A video file, decoded with PyAV (:class:`vfi.video.VideoReader`)."""

    def __init__(self, path: str):
        self.reader = VideoReader(path)
        self.info = self.reader.info
        self._background: BackgroundIterator | None = None

    @property
    def audio_streams(self):
        return self.reader.audio_streams

    def other_streams(self) -> list:
        """Streams a job does not read or copy today: subtitles, data, attachments."""
        return [s for s in self.reader.container.streams if s.type in ("subtitle", "data", "attachment")]

    @property
    def frames_decoded(self) -> int:
        return self.reader.frames_decoded

    def items(self, profile: Profile, copy_streams=(), prepare=None, threaded: bool = True):
        """Source frames and copied packets, in a decoder thread (``threaded``) or inline."""
        reads = self.reader.read(copy_streams=copy_streams)
        if threaded:
            self._background = BackgroundIterator(reads, profile, prepare=prepare)
            return self._background
        return _timed(reads, profile, prepare)

    def check_complete(self) -> None:
        self.reader.check_complete()

    def stop(self) -> None:
        """Stops the decoder thread (a failing job)."""
        if self._background is not None:
            self._background.stop()

    def close(self) -> None:
        self.stop()
        self.reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _timed(iterable, profile: Profile, prepare=None):
    it = iter(iterable)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        profile.add("decode", time.perf_counter() - t0)
        if prepare is not None:
            prepare(item)
        yield item
