"""Sources: where a job's timed frames come from.

A source has ``info`` (:class:`vfi.io.frames.VideoInfo`: size, rate, colour, duration),
yields :class:`vfi.io.frames.SourceFrame` items in presentation order with exact,
strictly increasing times (and, interleaved, the packets of the streams it was asked
to pass through), and says at the end whether anything was lost
(``check_complete``).  Decoding runs in a thread of its own, ahead of the job, and
does per-frame preparation there (``prepare``) so that it overlaps the model.
"""

from __future__ import annotations

import re
import time
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError
from ..pipeline import BackgroundIterator, Profile, queue_depth
from .colour import RANGE_JPEG, RANGE_UNSPECIFIED, ColorSpec
from .filters import deinterlaced
from .formats import IMAGE_EXTENSIONS, is_image_pattern, local_file
from .frames import SourceFrame, VideoInfo
from .reading import VideoReader, is_cover_art


class VideoFileSource:
    """A video file, decoded with PyAV (:class:`vfi.io.reading.VideoReader`)."""

    def __init__(self, path: str):
        self.reader = VideoReader(path)
        self.info = self.reader.info
        self._background: BackgroundIterator | None = None
        self.notes: list[str] = []  # what reading did to the frames (deinterlacing), for the job's warnings

    @property
    def audio_streams(self):
        return self.reader.audio_streams

    def other_streams(self) -> list:
        """The streams copied as they are: subtitles, data, attachments and cover art; not
        the tracks a demuxer hides (an MP4's chapter track: its chapters come as chapters)."""
        return [s for s in self.reader.container.streams
                if (s.type in ("subtitle", "data", "attachment") or is_cover_art(s)) and s.discard != av.stream.Discard.all]

    @property
    def frames_decoded(self) -> int:
        return self.reader.frames_decoded

    def items(self, profile: Profile, copy_streams=(), prepare=None, threaded: bool = True,
              start: Fraction | None = None, end: Fraction | None = None, deinterlace: str = "auto"):
        """Source frames and copied packets, in a decoder thread (``threaded``) or inline.

        ``start``/``end``: only that part of the video (seconds from its beginning), moved
        to the front: frame times and packet timestamps lose ``start``, so a trimmed job's
        output begins where the video did.  ``deinterlace``: auto (interlaced sources),
        on or off (:func:`vfi.io.filters.deinterlaced`; what was done goes in ``notes``)."""
        reads = self.reader.read(copy_streams=copy_streams, start=start, end=end)
        if start:
            reads = _shifted(reads, start)
        reads = deinterlaced(reads, deinterlace, self.reader.stream.codec_context.field_order or 0, self.notes)
        if threaded:
            self._background = BackgroundIterator(reads, profile, prepare=prepare, maxsize=queue_depth(self.info.width, self.info.height))
            return self._background
        return _timed(reads, profile, prepare)

    def check_complete(self) -> None:
        self.reader.check_complete()

    @property
    def warnings(self) -> list[str]:
        """What was put right in reading (timestamp jumps, size changes)."""
        return self.reader.warnings

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


def _shifted(items, offset: Fraction):
    for item in items:
        if isinstance(item, SourceFrame):
            item.time -= offset
        else:
            ticks = int(round(offset / item.stream.time_base))
            if item.pts is not None:
                item.pts -= ticks
            if item.dts is not None:
                item.dts -= ticks
        yield item


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


DEFAULT_INPUT_FPS = Fraction(25)  # as ffmpeg's image2 demuxer


def is_image_sequence(path: str) -> bool:
    return path != "-" and (is_image_pattern(path) or Path(path).is_dir())


def _natural_key(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def image_files(spec: str) -> list[Path]:
    """The images of a folder (natural order: 2.png before 10.png) or of a printf
    pattern (by their number)."""
    if not is_image_pattern(spec):
        folder = Path(spec)
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        return sorted(files, key=lambda p: _natural_key(p.name))
    folder, name = Path(spec).parent, Path(spec).name
    m = re.search(r"%0?(\d*)d", name)
    width = int(m.group(1) or 0)
    digits = rf"\d{{{width},}}" if width else r"\d+"
    rx = re.compile(re.escape(name[: m.start()]) + f"({digits})" + re.escape(name[m.end():]) + "$")
    if not folder.is_dir():
        return []
    found = [(int(mm.group(1)), p) for p in folder.iterdir() if (mm := rx.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


class ImageSequenceSource:
    """Numbered images (a folder or a ``%06d.png`` pattern) as frames at ``rate`` frames
    per second (``--input-fps``; 25 by default, as ffmpeg), decoded with PyAV: PNG,
    JPEG, TIFF and BMP, 8 or 16 bits a sample, kept as they are."""

    def __init__(self, spec: str, rate: Fraction | None = None):
        self.spec = spec
        self.rate = rate or DEFAULT_INPUT_FPS
        self.rate_given = rate is not None
        self.files = image_files(spec)
        if not self.files:
            where = "folder" if not is_image_pattern(spec) else "pattern"
            raise InputError(f"{spec}: no images in this {where} ({', '.join(IMAGE_EXTENSIONS)})")
        first = self._decode(self.files[0])
        self.info = VideoInfo(
            path=spec, width=first.width, height=first.height, pix_fmt=first.format.name, codec="image sequence",
            time_base=1 / self.rate, rate=self.rate, start=Fraction(0), duration=len(self.files) / self.rate,
            frame_count=len(self.files), color=ColorSpec(color_range=RANGE_JPEG if first.format.name.startswith("yuvj") else RANGE_UNSPECIFIED),
        )
        self.frames_decoded = 0
        self.audio_streams: list = []
        self.warnings: list[str] = []

    def _decode(self, path: Path) -> av.VideoFrame:
        try:
            with av.open(local_file(path)) as c:
                return next(c.decode(video=0))
        except (av.error.FFmpegError, StopIteration, OSError) as e:
            raise InputError(f"{path}: not a readable image ({type(e).__name__})") from None

    def other_streams(self) -> list:
        return []

    def _frames(self, start: Fraction | None, end: Fraction | None):
        for i, path in enumerate(self.files):
            t = i / self.rate
            if start is not None and t < start - 1 / (2 * self.rate):
                continue
            if end is not None and t >= end:
                return
            frame = self._decode(path)
            if (frame.width, frame.height) != (self.info.width, self.info.height):
                raise InputError(f"{path}: {frame.width}x{frame.height}, but the sequence is {self.info.width}x{self.info.height}")
            if frame.format.name != self.info.pix_fmt:
                frame = frame.reformat(format=self.info.pix_fmt)
            sf = SourceFrame(self.frames_decoded, t - (start or 0), frame, 1 / self.rate)
            self.frames_decoded += 1
            yield sf

    notes: tuple = ()  # images are never deinterlaced

    def items(self, profile: Profile, copy_streams=(), prepare=None, threaded: bool = True,
              start: Fraction | None = None, end: Fraction | None = None, deinterlace: str = "auto"):
        frames = self._frames(start, end)
        if threaded:
            self._background = BackgroundIterator(frames, profile, prepare=prepare, maxsize=queue_depth(self.info.width, self.info.height))
            return self._background
        return _timed(frames, profile, prepare)

    def check_complete(self) -> None:
        if self.frames_decoded == 0:
            raise InputError(f"{self.spec}: no images in the part asked for")

    def stop(self) -> None:
        if getattr(self, "_background", None) is not None:
            self._background.stop()

    def close(self) -> None:
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_source(spec: str, input_rate: Fraction | None = None):
    """A video file, ``-`` (a stream on stdin: Y4M, NUT, Matroska, MPEG-TS, probed), a
    folder of images or a ``%06d.png`` pattern."""
    if is_image_sequence(spec):
        return ImageSequenceSource(spec, input_rate)
    return VideoFileSource(spec)
