"""Encode and mux with PyAV: :class:`VideoWriter` writes the video stream into a
temporary file (renamed into place by the job when everything succeeded) or a pipe,
with the sound (:class:`vfi.io.audio.AudioOutput`) and the input's other streams:
subtitles (text subtitles converted to the container's own text format), data and
attachments."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import av.error

from ..errors import OutputError, UsageError
from ..outputs import forget, temporary_path
from .alpha import alpha_format, has_alpha, lost_alpha
from .audio import AudioOutput
from .colour import SPC_UNSPECIFIED, ColorConverter, is_rgb_format
from .encoding import X265_MIN_WIDTH, EncodeOptions, choose_pix_fmt, codec_for_rate, encoder_options, encoder_thread_type
from .formats import (COVER_ART_MUXERS, PIPE_FORMATS, SAR_CODECS, SAR_MUXERS, TEXT_SUBTITLE_CODECS, TEXT_SUBTITLES_IN,
                      Y4M_PIX_FMTS, holds, local_file, muxer_for)
from .frames import VideoInfo
from .reading import carried_tags, ffmpeg_reason, is_cover_art, is_timecode_track, stream_kind
from .timecode import MOV_MAX_FPS, retimed


CHAPTER_FORMATS = ("matroska", "webm", "mp4", "mov", "nut")  # muxers that write chapters
TIMECODE_FORMATS = ("matroska", "webm", "mp4", "mov", "nut")  # muxers that keep a timecode (tag or track)


def _pop_timecode(tags) -> str | None:
    """Takes every spelling of the ``timecode`` tag (Matroska's is TIMECODE) out of
    ``tags``; the first one's value."""
    keys = [k for k in tags if k.lower() == "timecode"]
    values = [tags.pop(k) for k in keys]
    return values[0] if values else None


def describe(stream) -> str:
    """A stream as a warning names it: its kind, number and codec or file name."""
    if stream.type == "attachment":
        name = stream.metadata.get("filename") or "a file"
    elif stream.type == "data" and stream.container.format.name == "ogg":
        name = "Ogg Skeleton, a seeking index"  # Ogg's one data stream; FFmpeg names no codec for it
    else:
        name = stream.codec_context.name if stream.codec_context else stream.metadata.get("handler_name")
    return f"{stream_kind(stream)} stream {stream.index}" + (f" ({name})" if name else "")


def output_chapters(chapters, trim=(None, None), scale=1) -> list[dict]:
    """The input's chapters (``VideoInfo.chapters``: (start, end, metadata), seconds)
    on the output's clock: a trim's part from its start, slowed ``scale`` times."""
    start, end = trim
    out = []
    for a, b, metadata in chapters:
        a, b = max(a - (start or 0), Fraction(0)), b - (start or 0)
        if end is not None:
            b = min(b, end - (start or 0))
        if b > a:
            ms = Fraction(1, 1000)
            out.append({"id": len(out) + 1, "start": round(a * scale / ms), "end": round(b * scale / ms), "time_base": ms,
                        "metadata": dict(metadata)})
    return out


class VideoWriter:
    """Encodes frames for ``path`` (checked: :class:`vfi.io.target.OutputTarget`) into a
    temporary file in the same folder; the caller moves it to its final name once
    :meth:`finish` (and the rest of the job) succeeded.  ``-``: a stream on stdout in
    ``pipe_format``."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        width: int,
        height: int,
        rate: Fraction,
        time_base: Fraction,
        source: VideoInfo,
        options: EncodeOptions,
        pipe_format: str | None = None,
        audio: AudioOutput | None = None,
        carry_streams=(),
        metadata: dict[str, str] | None = None,
        chapters=(),
        trim_start: Fraction | None = None,
    ):
        self.is_pipe = str(path) == "-"  # a stream on stdout: written as it goes, no temporary file
        self.path = Path(path)
        suffix = self.path.suffix
        codec = options.resolved_codec(str(path))
        self.pipe_format = (pipe_format or "nut") if self.is_pipe else None
        self.audio = audio
        self.tmp = None if self.is_pipe else temporary_path(self.path)
        self.closed = False
        self.container = None
        try:  # from here on, any failure (Ctrl-C and SIGTERM too) removes the temporary file
            try:
                if self.is_pipe:
                    self.container = av.open("pipe:1", mode="w", format=PIPE_FORMATS[self.pipe_format][0])
                else:
                    fmt = av.format.ContainerFormat(muxer_for(self.path), "w").name
                    self.container = av.open(local_file(self.tmp), mode="w", format=fmt)
            except (av.error.FFmpegError, ValueError) as e:
                raise UsageError(f"{self.path}: unknown output container {suffix!r} ({e})") from None
            self._setup(codec, width, height, rate, time_base, source, options, carry_streams, metadata, chapters)
            self._place_timecode(source.nominal_rate, rate, trim_start)
            self._start_encoding()
        except BaseException:
            self.abort()
            raise

    def _setup(self, codec, width, height, rate, time_base, source, options, carry_streams, metadata, chapters):
        codec, self.warnings = codec_for_rate(codec, rate, options.codec is not None)  # and then what could not be carried
        self.container.metadata.update(source.tags)
        if metadata:
            self.container.metadata.update(metadata)
        self.stream = self._add_video_stream(codec, width, height, rate, time_base, source, options)
        if self.audio is not None:
            self.audio.add_to(self.container, self.path)
            self.warnings += self.audio.warnings
        self._carry_streams(carry_streams)
        self._add_chapters(list(chapters))

    def _start_encoding(self) -> None:
        try:
            self.container.start_encoding()
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: cannot start writing: {ffmpeg_reason(e)}") from None

    def _add_video_stream(self, codec, width, height, rate, time_base, source: VideoInfo, options: EncodeOptions):
        """The output's video stream: size, pixel format, clock, encoder options, and the
        source's colour description, aspect, rotation and tags."""
        if codec == "libx265" and width < X265_MIN_WIDTH:
            raise UsageError(f"libx265 cannot encode video {width} px wide here (under {X265_MIN_WIDTH} px it corrupts "
                             "memory); use libx264 or ffv1")
        stream = self.container.add_stream(codec, rate=rate)
        cc = stream.codec_context
        cc.width, cc.height = width, height
        self.pix_fmt = choose_pix_fmt(codec, options.pix_fmt, source.pix_fmt, width, height)
        if self.pipe_format == "y4m" and self.pix_fmt not in Y4M_PIX_FMTS:
            self.pix_fmt = "yuv420p" if self.pix_fmt.startswith("yuvj420") else "yuv444p"  # what YUV4MPEG can say
        cc.pix_fmt = self.pix_fmt
        self.keeps_alpha = has_alpha(self.pix_fmt) and alpha_format(codec, source.pix_fmt) is not None
        self.warnings += lost_alpha(source.pix_fmt, self.pix_fmt, f"{codec} in {self.path.suffix or self.pipe_format}")
        # YUV4MPEG has no timestamps: its header's frame rate is the stream's time base
        # (1/25600 said "25600 fps"), and frames simply follow one another at that rate.
        self.frame_clock = self.container.format.name == "yuv4mpegpipe"
        if self.frame_clock:
            time_base = 1 / Fraction(rate)
        self.frames_written = 0
        cc.time_base = time_base
        stream.time_base = time_base
        cc.framerate = rate
        cc.thread_type = encoder_thread_type(codec, width, height)
        cc.thread_count = options.threads
        cc.options, warnings = encoder_options(codec, options, source)
        self.warnings += warnings
        c = source.color
        if c.colorspace != SPC_UNSPECIFIED or not is_rgb_format(self.pix_fmt):
            cc.colorspace = ColorConverter(self.pix_fmt, c, height).matrix if c.colorspace == SPC_UNSPECIFIED else c.colorspace
            cc.color_range = c.range_for(self.pix_fmt)
        cc.color_primaries = c.primaries
        cc.color_trc = c.trc
        if source.sample_aspect_ratio:
            cc.sample_aspect_ratio = source.sample_aspect_ratio
            self.warnings += self._lost_aspect(codec, source.sample_aspect_ratio)
        if source.rotation:
            stream.set_display_rotation(source.rotation)
        stream.metadata.update(source.video_tags)
        return stream

    def _lost_aspect(self, codec: str, sar: Fraction) -> list[str]:
        """A warning where the output cannot carry non-square pixels."""
        if sar == 1 or codec in SAR_CODECS or self.container.format.name in SAR_MUXERS:
            return []
        where = f"--format {self.pipe_format}" if self.is_pipe else self.path.suffix
        return [f"sample aspect ratio {sar.numerator}:{sar.denominator} not kept: {codec} in {where} cannot carry it "
                "(libx264 or libx265, or .mp4 or .mov, can); players will show square pixels"]

    def _carry_streams(self, streams) -> None:
        """Subtitle, data and attachment streams: copied where the container holds them,
        converted where there is a standard conversion (text subtitles to the
        container's own text format, a timecode track to the timecode tag that MOV, MP4
        and Matroska keep), else said in a warning."""
        self.copied = {}  # input stream index -> output stream
        self.subtitle_converters: dict[int, tuple] = {}  # input stream index -> (decoder, mov_text or WebVTT stream)
        fmt = self.container.format.name
        dropped = []
        for a in streams:
            if is_cover_art(a) and fmt not in COVER_ART_MUXERS:
                dropped.append(a)  # some muxers take it and write it as one more video stream
            elif is_timecode_track(a):
                continue  # its timecode is the video's (VideoInfo.video_tags): the muxer writes its own track
            elif holds(fmt, a) and self._copy_stream(a):
                continue
            elif not self._convert_text_subtitles(a):
                dropped.append(a)
        if dropped:
            mkv = fmt != "matroska" and all(holds("matroska", a) for a in dropped)
            self.warnings.append(f"{len(dropped)} stream(s) not carried: {self.path.suffix or 'this format'} cannot hold "
                                 f"{', '.join(describe(a) for a in dropped)}{' (.mkv can)' if mkv else ''}")

    def _place_timecode(self, source_rate: Fraction, rate: Fraction, trim_start: Fraction | None) -> None:
        """The source's timecode (a tag on the video stream, a timecode track's, or the
        file's), moved to the output's first frame and counted at its rate, as one
        ``timecode`` tag on the video stream, where the output holds it."""
        tags = [_pop_timecode(self.stream.metadata), _pop_timecode(self.container.metadata)]  # both out: MOV takes the file's first
        found = next((t for t in tags if t), None)
        if found is None:
            return
        label = retimed(found, source_rate, rate, trim_start)
        if label is None:  # one it cannot read stays as it was, and is said to
            label = found
            if trim_start or rate != source_rate:
                self.warnings.append(f"timecode {found} kept as it was: it is not a timecode at "
                                     f"{float(source_rate):.6g} fps, so it is not moved to the output's first frame")
        fmt, where = self.container.format.name, self.path.suffix or "this format"
        if fmt not in TIMECODE_FORMATS:
            self.warnings.append(f"timecode {label} not carried: {where} cannot hold it (.mov, .mp4 and .mkv can)")
        elif fmt in ("mov", "mp4") and round(rate) > MOV_MAX_FPS:  # the muxer would fail on closing
            self.warnings.append(f"timecode {label} not carried: {where} holds a timecode up to {MOV_MAX_FPS} fps, "
                                 f"not {float(rate):.6g} (.mkv can)")
        else:
            self.stream.metadata["timecode"] = label

    def _copy_stream(self, a) -> bool:
        try:
            self.copied[a.index] = out = self.container.add_stream_from_template(a)
        except (av.error.FFmpegError, ValueError):
            return False
        out.metadata.update(carried_tags(a.metadata))
        out.disposition = a.disposition  # cover art stays cover art
        return True

    def _add_chapters(self, chapters: list[dict]) -> None:
        """The input's chapters (already on the output's clock), where the format has them."""
        if not chapters:
            return
        if self.container.format.name in CHAPTER_FORMATS:
            self.container.set_chapters(chapters)
        else:
            self.warnings.append(f"{len(chapters)} chapter(s) not carried: {self.path.suffix or 'this format'} "
                                 "cannot hold chapters (.mkv, .mp4, .mov, .nut and .webm can)")

    def write(self, frame: av.VideoFrame, pts: int) -> None:
        frame.pts = self.frames_written if self.frame_clock else pts
        self.frames_written += 1
        frame.time_base = self.stream.codec_context.time_base
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: encoding failed: {ffmpeg_reason(e)}") from None
        except OSError as e:
            raise OutputError(f"{self.path}: write failed: {e.strerror or e}") from None

    def _convert_text_subtitles(self, a) -> bool:
        """Text subtitles (SRT, ASS, WebVTT) that the container cannot hold as they are go
        in as its own text format, as ffmpeg converts them: mov_text (3GPP timed text) in
        MP4 and MOV, WebVTT in WebM; True if set up."""
        cc = a.codec_context
        target = TEXT_SUBTITLES_IN.get(self.container.format.name)
        if a.type != "subtitle" or cc is None or cc.name not in TEXT_SUBTITLE_CODECS or target is None:
            return False
        try:
            cc.open()  # the decoder's ASS header describes the styles the encoder needs
            trial = av.CodecContext.create(target, "w")  # a stream cannot be taken out again: try the encoder first
            trial.subtitle_header, trial.time_base = cc.subtitle_header, a.time_base
            trial.open()
            out = self.container.add_stream(target)
            out.codec_context.subtitle_header = cc.subtitle_header
            out.codec_context.time_base = out.time_base = a.time_base
        except (av.error.FFmpegError, ValueError, TypeError):
            return False
        out.metadata.update(carried_tags(a.metadata))
        self.subtitle_converters[a.index] = (cc, out)
        return True

    def mux_copied(self, packet: av.Packet) -> None:
        """A packet of a carried stream (audio, subtitles, data)."""
        if packet.stream.index in self.subtitle_converters:
            self._mux_converted_subtitle(packet)
            return
        if self.audio is not None and self.audio.owns(packet):
            self.container.mux(self.audio.packets(packet))
            return
        out = self.copied.get(packet.stream.index)
        if out is None:
            return
        kind, index = packet.stream.type, packet.stream.index
        packet.stream = out
        try:
            self.container.mux(packet)
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: cannot write {kind} stream {index}'s packet at {packet.dts} "
                              f"({ffmpeg_reason(e)}); --audio none or .mkv may do") from None

    def _mux_converted_subtitle(self, packet: av.Packet) -> None:
        decoder, out = self.subtitle_converters[packet.stream.index]
        if not packet.size or packet.pts is None:
            return
        subtitle = decoder.decode2(packet)
        if subtitle is None:
            return
        converted = out.codec_context.encode_subtitle(subtitle)
        converted.stream, converted.time_base = out, packet.time_base
        converted.pts = converted.dts = packet.pts
        converted.duration = packet.duration
        self.container.mux(converted)

    def finish(self) -> Path | None:
        """Flushes the encoder and finishes the temporary file (``self.tmp``), which the
        caller puts in place with the job's other outputs (:func:`vfi.outputs.commit`);
        None for a pipe, which has no temporary file."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            if self.audio is not None:
                self.container.mux(self.audio.flush())
            self.container.close()
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise OutputError(f"{self.path}: could not finish the file: {e.strerror or e}") from None  # not the hidden file's name
        self.closed = True
        return self.tmp

    def abort(self) -> None:
        """Stops writing and removes the partial file."""
        if not self.closed:
            self.closed = True
            try:
                if self.container is not None:
                    self.container.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away anyway
                pass
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            forget(self.tmp)
