"""Demux and decode with PyAV: :class:`VideoReader` yields a video's frames in
presentation order with real, exact timestamps (and, interleaved, the packets of the
streams to copy), reads the container's tags and HDR10 metadata, and says afterwards
whether anything was lost."""

from __future__ import annotations

import errno
import heapq
import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import av.error

from ..errors import CorruptInputError, InputError
from .colour import PRI_UNSPECIFIED, RANGE_UNSPECIFIED, SPC_UNSPECIFIED, TRC_UNSPECIFIED, ColorSpec
from .formats import local_file
from .frames import SourceFrame, VideoInfo
from .timecode import find_timecode

REORDER_WINDOW = 16  # frames held back to put misordered timestamps right
# ... but no more than this many bytes of them (at least REORDER_MIN frames): sixteen
# 4K frames are 200 MB, and real reordering (B-frames stamped in decode order) is a
# few frames deep.
REORDER_BYTES = 64 << 20
REORDER_MIN = 4
TS_DISCONT = 0x0200  # AVFMT_TS_DISCONT: formats whose timestamps may jump (MPEG-TS, MPEG-PS)
JUMP_BACK = Fraction(1, 10)  # a timestamp this far behind its stream's last one starts a new segment (as ffmpeg)
JUMP_AHEAD = Fraction(10)  # and this far ahead of it (ffmpeg's -dts_delta_threshold)
TS_SEEK_LEAD = Fraction(10)  # seconds before a trim's start that a seek in MPEG-TS/PS goes to


def _sample_aspect_ratio(s) -> Fraction | None:
    """The stream's, as ffmpeg takes it: Matroska, NUT and Y4M keep it on the stream
    only (FFV1, AV1 and raw video carry none of their own), else the codec's."""
    sar = _fraction(s.sample_aspect_ratio)
    return sar if sar and sar != 1 else _fraction(s.codec_context.sample_aspect_ratio)


def _fraction(x) -> Fraction | None:
    if x is None:
        return None
    try:
        f = Fraction(x)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if f > 0 else None


class VideoReader:
    """Opens a video and decodes its first video stream as a stream of frames.

    Audio packets can be read in the same pass (``read(copy_streams=...)``) so that they
    are remuxed without a second demux.  Decode errors do not stop the read: the frames
    that can be decoded are, and :meth:`check_complete` says afterwards whether
    anything was lost.
    """

    def __init__(self, path: str | os.PathLike, threads: bool = True):
        self.path = str(path)
        self.is_pipe = self.path == "-"  # a stream on stdin, its format probed
        p = Path(self.path)
        if not self.is_pipe:
            if not p.exists():
                raise InputError(f"{self.path}: no such file")
            if p.is_dir():
                raise InputError(f"{self.path}: is a folder, not a video file")
            if not os.access(p, os.R_OK):
                raise InputError(f"{self.path}: permission denied")
        try:
            self.container = av.open("pipe:0" if self.is_pipe else local_file(self.path), mode="r")
        except av.error.FFmpegError as e:
            hint = "; a damaged header, or a frame size too large to decode?" if getattr(e, "errno", None) in (errno.EBUSY, errno.ENOMEM) else ""
            raise InputError(f"{self.path}: not a readable video ({ffmpeg_reason(e)}{hint})") from None
        moving = [s for s in self.container.streams.video if not is_cover_art(s)]
        if not moving:
            covers = len(self.container.streams.video)
            self.container.close()
            raise InputError(f"{self.path}: contains no video stream" + (" (only cover art: a still picture attached to the sound)" if covers else ""))
        self.stream = moving[0]
        if threads:
            self.stream.thread_type = "AUTO"
        # Every timestamp is read from the input's start (a TS starts near 1.4 s, an
        # MPEG-PS near 0.5 s, a broadcast recording anywhere), as ffmpeg writes it.
        self.origin = max(Fraction(0), Fraction(self.container.start_time or 0, av.time_base))
        self.info = self._probe()
        self.timestamps = TimestampMender(self.origin, bool(self.container.format.flags & TS_DISCONT), self.stream.index)
        self.resized = 0  # frames scaled to the first frame's size
        self.frames_seen = 0  # frames out of the decoder, before the reorder window
        self.size_change = ""  # where the first change of size was, as said in the warning
        self.first_format: str | None = None
        self.decode_errors = 0
        self.restamped = 0  # frames whose timestamp repeated an earlier one
        self.corrupt_frames = 0  # frames the decoder flagged as damaged (concealed errors)
        self.range: tuple[Fraction | None, Fraction | None] = (None, None)  # read(start, end)
        self.reached_end = False  # read stopped at ``end``
        self.skipped_before_start = 0
        self.frames_decoded = 0
        self.last_time: Fraction | None = None

    def _probe(self) -> VideoInfo:
        s = self.stream
        cc = s.codec_context
        if not cc.width or not cc.height:
            raise InputError(f"{self.path}: video stream has no frame size (not a decodable video)")
        tb = s.time_base or Fraction(1, 90000)
        average = _fraction(s.average_rate)
        guessed = _fraction(s.guessed_rate) or _fraction(s.base_rate)
        # The average is frames/duration and goes off when the container's duration does
        # (30.12 for a 30 fps phone clip); the guessed rate is the one every timestamp
        # fits, so it wins whenever the two roughly agree.
        if guessed and (not average or abs(guessed / average - 1) < Fraction(1, 20) or _whole_multiple(average, guessed)):
            # ... and an average 2, 3, ... times the guessed rate counts packets that are
            # not frames: H.264 copied into AVI ticks at 50 for 25 fps, every other packet empty.
            rate = guessed
        else:
            rate = average or guessed
        start = Fraction(s.start_time) * tb - self.origin if s.start_time is not None else Fraction(0)
        if s.duration:
            duration = Fraction(s.duration) * tb
        elif self.container.duration:
            duration = Fraction(self.container.duration, av.time_base)
        else:
            duration = None
        color = ColorSpec(
            colorspace=int(cc.colorspace or SPC_UNSPECIFIED),
            color_range=int(cc.color_range or RANGE_UNSPECIFIED),
            primaries=int(cc.color_primaries or PRI_UNSPECIFIED),
            trc=int(cc.color_trc or TRC_UNSPECIFIED),
        )
        return VideoInfo(
            path=self.path,
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.format.name if cc.format else "yuv420p",
            codec=cc.name,
            time_base=Fraction(tb),
            rate=rate,
            start=start,
            duration=duration,
            frame_count=s.frames or None,
            color=color,
            sample_aspect_ratio=_sample_aspect_ratio(s),
            audio_streams=len(self.container.streams.audio),
            tags=carried_tags(self.container.metadata),
            video_tags=self._video_tags(s),
            chapters=self._chapters(),
        )

    def _video_tags(self, s) -> dict:
        """The video stream's tags, with the timecode of a timecode track where the
        stream has none of its own (it names the video's first frame too)."""
        tags = carried_tags(s.metadata)
        track = next((t for t in self.container.streams if is_timecode_track(t)), None)
        if find_timecode(tags) is None and track is not None:
            tags["timecode"] = find_timecode(track.metadata)
        return tags

    def _chapters(self) -> list[tuple[Fraction, Fraction, dict]]:
        """The container's chapters: (start, end, metadata), in seconds from its start."""
        try:
            chapters = self.container.chapters()
        except (AttributeError, av.error.FFmpegError):
            return []
        return [(c["start"] * c["time_base"] - self.origin, c["end"] * c["time_base"] - self.origin, dict(c["metadata"]))
                for c in chapters]

    @property
    def audio_streams(self):
        return list(self.container.streams.audio)

    def read(self, copy_streams=(), start: Fraction | None = None, end: Fraction | None = None) -> Iterator[SourceFrame | av.Packet]:
        """Yields decoded video frames (:class:`SourceFrame`, in presentation order, with
        strictly increasing times) and, interleaved, the packets of ``copy_streams``.

        ``start``/``end`` (seconds of presentation time): only the frames shown in
        [start, end) and the packets that start there; reading seeks to the key frame
        before ``start`` and stops at ``end``."""
        streams = [self.stream, *copy_streams]
        copy_ids = {s.index for s in copy_streams}
        tb = self.info.time_base
        fallback_step = 1 / self.info.nominal_rate
        self.range = (start, end)
        first_rotation_seen = False
        if start:
            self._seek(start)
        demux = self.container.demux(streams)
        # Decoders return frames in display order, but some files (AVI, badly muxed MP4
        # with B-frames) attach the timestamps in decode order.  The set of timestamps is
        # right, only their order is not, so a short window hands them out sorted.
        window: list[tuple[av.VideoFrame, Fraction | None]] = []
        stamps: list[Fraction] = []
        for packet in self._packets(demux):
            if packet.stream.index in copy_ids:
                if packet.size and is_cover_art(packet.stream) or packet.dts is not None and _in_range(packet, start, end, self.origin):
                    yield packet  # cover art: its one picture, which has no time
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            for frame in frames:
                frame = self._sized(frame)
                if frame.is_corrupt:
                    self.corrupt_frames += 1
                if not first_rotation_seen:
                    first_rotation_seen = True
                    held_back = reorder_window(frame)  # later frames are scaled to this one's size
                    self.info.rotation = _rotation(frame)
                    self.info.hdr = hdr10_metadata(frame)
                if frame.pts is not None:
                    heapq.heappush(stamps, Fraction(frame.pts) * tb)
                window.append(frame)
                if len(window) > held_back:
                    sf = self._stamp(window.pop(0), stamps, fallback_step)
                    if sf is _PAST_END:
                        return
                    if sf is not None:
                        yield sf
        while window:
            sf = self._stamp(window.pop(0), stamps, fallback_step)
            if sf is _PAST_END:
                return
            if sf is not None:
                yield sf

    def _packets(self, demux):
        while True:
            try:
                yield self.timestamps.mend(next(demux))
            except StopIteration:
                return
            except av.error.FFmpegError:
                # A broken container: count it and stop reading; what was decoded stays.
                self.decode_errors += 1
                return

    def _seek(self, start: Fraction) -> None:
        """To the key frame at or before ``start`` (frames before it are decoded and dropped)."""
        target = start + self.info.start + self.origin
        if self.timestamps.jumps:
            # MPEG-TS and PS have no index: a seek lands on the packet at that time, not
            # on a key frame, and the decoder has nothing to start from; ten seconds
            # earlier there is one in any broadcast's GOP.
            target -= TS_SEEK_LEAD
            if target <= self.info.start + self.origin:
                return
        try:
            self.container.seek(int(target / self.info.time_base), stream=self.stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, OverflowError):
            pass  # not seekable: decode from the beginning and drop frames

    def _stamp(self, frame, stamps, fallback_step):
        """The next frame with its time; None for one before ``start``, ``_PAST_END`` at ``end``."""
        sf = self._timed(frame, stamps, fallback_step)
        start, end = self.range
        if sf is None or (start is None and end is None):
            return sf
        t = sf.time - self.info.start
        if end is not None and t >= end - fallback_step / 1000:
            self.frames_decoded -= 1  # not part of what was read
            self.reached_end = True
            return _PAST_END
        if start is not None and t < start - fallback_step / 2:
            self.skipped_before_start += 1
            self.frames_decoded -= 1
            return None
        return sf

    def _timed(self, frame, stamps, fallback_step) -> SourceFrame | None:
        if stamps:
            t = heapq.heappop(stamps)
        elif self.last_time is not None:
            t = self.last_time + fallback_step
        else:
            t = self.info.start
        if self.last_time is not None and t <= self.last_time:
            # A repeated (or backward) timestamp on a frame that decoded: a muxer that
            # stamped every frame 0, say.  The frame is real: it goes one nominal
            # interval after the previous one.
            t = self.last_time + fallback_step
            self.restamped += 1
        duration = Fraction(frame.duration) * self.info.time_base if frame.duration else None
        self.last_time = t
        sf = SourceFrame(self.frames_decoded, t, frame, duration)
        self.frames_decoded += 1
        return sf

    def _sized(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A frame of another size than the first (a stream whose resolution changes,
        files of two sizes joined) is scaled to the first's, as ffmpeg's filters do."""
        info = self.info
        self.frames_seen += 1
        self.first_format = self.first_format or frame.format.name  # the format the frames come in, as they always did
        if (frame.width, frame.height) == (info.width, info.height) and frame.format.name == self.first_format:
            return frame
        if not self.resized:
            self.size_change = f"at frame {self.frames_seen - 1} to {frame.width}x{frame.height} {frame.format.name}"
        self.resized += 1
        scaled = frame.reformat(width=info.width, height=info.height, format=self.first_format)
        scaled.pts, scaled.time_base = frame.pts, frame.time_base
        return scaled

    @property
    def warnings(self) -> list[str]:
        """What was put right in reading: jumps in the timestamps, changes of size."""
        out = []
        if self.timestamps.mended:
            out.append(f"{self.path}: timestamps jump back or far ahead {max(self.timestamps.mended.values())} time(s) (files joined?); "
                       "each stream goes on where it was")
        if self.resized:
            info = self.info
            out.append(f"{self.path}: the video changes size or pixel format {self.size_change}; {self.resized} frame(s) "
                       f"scaled to the first frames' {info.width}x{info.height} {self.first_format}")
        return out

    def frames(self) -> Iterator[SourceFrame]:
        for item in self.read():
            yield item  # type: ignore[misc]

    def check_complete(self) -> None:
        """Raises if nothing could be decoded, or if part of the input was lost."""
        if self.frames_decoded == 0 and self.skipped_before_start:
            raise InputError(f"{self.path}: nothing to read from --start {float(self.range[0]):g} s on "
                             f"(the video lasts {float(self.info.duration or 0):.2f} s)")
        if self.frames_decoded == 0:
            raise InputError(f"{self.path}: no decodable video frames")
        # Truncation: decoding stopped well before the length the container declares:
        # the stream's duration, its frame count (AVI headers keep it when the index at
        # the end is cut off), or else the file's duration, which includes audio that may
        # run a little longer, so it is given more slack.
        step = 1 / self.info.nominal_rate

        def strict(d: Fraction) -> tuple[Fraction, Fraction]:  # (declared length, slack)
            return d, max(3 * step, d / 20)

        declared: list[tuple[Fraction, Fraction]] = []
        if self.stream.duration:
            declared.append(strict(self.info.duration))
        elif self.info.duration:
            lenient = self.info.audio_streams > 0
            declared.append((self.info.duration, max(Fraction(1), self.info.duration / 10)) if lenient else strict(self.info.duration))
        counted = self.info.frame_count * step if self.info.frame_count else None
        # An edit list (an MP4 cut with -c copy) counts the frames before the cut that it
        # discards; the stream's duration does not: the shorter of the two is declared.
        if counted and not (self.stream.duration and counted > self.info.duration):
            declared.append(strict(counted))
        end = self.last_time + step if self.last_time is not None else self.info.start
        missing = [d for d, slack in declared if end < self.info.start + d - slack]
        short = bool(missing) and not self.reached_end  # stopping at --end/--duration is no truncation
        if self.corrupt_frames and not (self.decode_errors or short):
            raise CorruptInputError(
                f"{self.path}: corrupt: {self.corrupt_frames} of {self.frames_decoded} frames decoded with errors "
                "(damaged data, concealed by the decoder)", self.frames_decoded)
        if self.decode_errors or short:
            got = float(end - self.info.start)
            of = f" of {float(max(missing)):.2f} s" if missing else ""
            raise CorruptInputError(
                f"{self.path}: truncated or corrupt: decoded {self.frames_decoded} frames "
                f"({got:.2f} s{of}), {self.decode_errors} unreadable packet(s)",
                self.frames_decoded,
            )

    def close(self) -> None:
        self.container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_PAST_END = object()


class TimestampMender:
    """Puts every packet's timestamps on one clock from 0: the input's start
    (``origin``, seconds) taken off and, in formats whose timestamps may jump (MPEG-TS
    files joined with ``cat``, a broadcast's clock reset), each jump taken out so that
    the stream goes on where it was.  Video and audio mend their own jumps (a demuxer
    still hands out the last packets of one stream after the jump of another);
    subtitles and data, whose gaps are long by nature, follow the video's clock
    (``lead``: its stream index)."""

    def __init__(self, origin: Fraction, jumps: bool, lead: int | None = None):
        self.origin = origin
        self.jumps = jumps
        self.lead = lead
        self.offsets: dict[int, Fraction] = {}  # stream index -> seconds added to its timestamps
        self.next_dts: dict[int, Fraction] = {}  # stream index -> where its next packet should be, mended
        self.mended: dict[int, int] = {}  # stream index -> jumps taken out

    def mend(self, packet: av.Packet) -> av.Packet:
        tb = packet.stream.time_base
        if tb is None or packet.dts is None:
            return packet
        index = packet.stream.index
        sparse = packet.stream.type not in ("video", "audio")
        offset = self.offsets.get(self.lead if sparse else index, -self.origin)
        dts = packet.dts * tb + offset
        expected = self.next_dts.get(index)
        if self.jumps and not sparse and expected is not None and (dts < expected - JUMP_BACK or dts > expected + JUMP_AHEAD):
            offset += expected - dts
            self.mended[index] = self.mended.get(index, 0) + 1
        self.offsets[index] = offset
        ticks = round(offset / tb)
        if ticks:
            packet.dts += ticks
            if packet.pts is not None:
                packet.pts += ticks
        self.next_dts[index] = packet.dts * tb + (packet.duration or 0) * tb
        return packet


def _in_range(packet: av.Packet, start: Fraction | None, end: Fraction | None, origin: Fraction = Fraction(0)) -> bool:
    """Whether a copied packet (its timestamps mended: the input's start is 0) starts
    inside [start, end) (start time of its stream 0)."""
    if start is None and end is None:
        return True
    s = packet.stream
    t = Fraction(packet.pts if packet.pts is not None else packet.dts) * s.time_base - (Fraction(s.start_time or 0) * s.time_base - origin)
    return (start is None or t >= start) and (end is None or t < end)


def is_cover_art(stream) -> bool:
    """A picture attached to the file (an album cover, a thumbnail), not a video."""
    return stream.type == "video" and bool(stream.disposition & av.stream.Disposition.attached_pic)


def stream_kind(stream) -> str:
    """What a stream is, in words: 'cover art', 'subtitle', 'data', 'attachment'..."""
    return "cover art" if is_cover_art(stream) else stream.type


def _whole_multiple(a: Fraction, b: Fraction) -> bool:
    """Whether ``a`` is 2, 3, ... times ``b``, to 0.5 %."""
    k = round(a / b)
    return k >= 2 and abs(a / (k * b) - 1) < Fraction(1, 200)


def _rotation(frame: av.VideoFrame) -> int:
    try:
        return int(round(frame.rotation or 0))
    except (AttributeError, ValueError, TypeError):
        return 0


# Container and stream tags a muxer writes itself, or that describe the old encoding.
TECHNICAL_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration", "vendor_id", "_statistics_tags",
                  "_statistics_writing_app", "_statistics_writing_date_utc", "number_of_frames", "number_of_bytes", "bps"}




def is_timecode_track(stream) -> bool:
    """A QuickTime/MP4 timecode track (tmcd): a data stream whose one value is its tag."""
    return stream.type == "data" and find_timecode(stream.metadata) is not None


def carried_tags(tags) -> dict:
    """The tags that describe the content (title, creation_time, location, language,
    handler_name, ...), not the old file's encoding."""
    return {k: v for k, v in dict(tags or {}).items() if k.lower() not in TECHNICAL_TAGS and not k.lower().startswith("duration")}


def hdr10_metadata(frame: av.VideoFrame) -> dict:
    """HDR10 static metadata from a frame's side data: the mastering display (primaries,
    white point, luminance) and the content light level, as numbers."""
    out = {}
    for sd in frame.side_data:
        name = getattr(sd.type, "name", str(sd.type))
        raw = bytes(memoryview(sd))
        if name == "MASTERING_DISPLAY_METADATA" and len(raw) >= 88:
            v = struct.unpack("<20i2i", raw[:88])
            q = [v[i] / v[i + 1] if v[i + 1] else 0.0 for i in range(0, 20, 2)]
            has_primaries, has_luminance = v[20], v[21]
            if has_primaries:
                out["primaries"] = {"r": q[0:2], "g": q[2:4], "b": q[4:6]}
                out["white_point"] = q[6:8]
            if has_luminance:
                out["luminance"] = {"min": q[8], "max": q[9]}
        elif name == "CONTENT_LIGHT_LEVEL" and len(raw) >= 8:
            out["max_cll"], out["max_fall"] = struct.unpack("<2I", raw[:8])
    return out




def ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(":")[-1].strip() if ":" in msg and len(msg) > 80 else msg


def reorder_window(frame: av.VideoFrame) -> int:
    """How many decoded frames :meth:`VideoReader.frames` holds back to sort their
    timestamps: ``REORDER_WINDOW``, fewer for frames so large that the window would
    hold more than ``REORDER_BYTES``."""
    size = sum(plane.buffer_size for plane in frame.planes)
    return max(REORDER_MIN, min(REORDER_WINDOW, REORDER_BYTES // max(1, size)))
