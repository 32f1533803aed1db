"""The formats vfi reads and writes, by file extension: one table for every command
(a job's input and output, ``--batch``'s folder search, ``vfi prep``'s), so that
they agree on what a video file is."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import av.error

# Video files by extension, with the muxer vfi writes them with (None: read only).
VIDEO_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".nut": "nut",
    ".ts": "mpegts",
    ".mpg": None,
    ".mpeg": None,
    ".ogv": None,
    ".flv": None,
    ".wmv": None,
    ".asf": None,
    ".y4m": None,
    ".m2ts": None,
    ".mts": None,
    ".3gp": None,
}
VIDEO_EXTENSIONS = tuple(VIDEO_FORMATS)  # files read as a video (folder searches: --batch, vfi prep)
# Containers that hold a video stream of the codecs vfi writes (what the extension says).
VIDEO_CONTAINERS = tuple(ext for ext, muxer in VIDEO_FORMATS.items() if muxer)

# Images by extension, with the encoder vfi writes them with; read and written as numbered sequences.
IMAGE_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp", ".jpg": "mjpeg", ".jpeg": "mjpeg"}
IMAGE_EXTENSIONS = tuple(IMAGE_FORMATS)
IMAGE_PIX_FMTS = {"mjpeg": "yuvj444p", "bmp": "bgr24"}  # 8-bit images in another format than rgb24 (BMP is BGR)

CONTAINER_CODECS = {
    # codecs a container cannot hold: an early, clear error instead of a muxer failure
    ".mp4": {"ffv1"},
    ".mov": {"libsvtav1"},
    ".webm": {"libx264", "libx265", "ffv1"},
}
# '-o -': a stream on stdout in one of these (--format), with a codec it can carry.
PIPE_FORMATS = {"nut": ("nut", "rawvideo"), "y4m": ("yuv4mpegpipe", "rawvideo"), "matroska": ("matroska", "ffv1"),
                "mpegts": ("mpegts", "libx264")}
Y4M_PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray16le")
# Muxers that store a display matrix (how a player turns the picture); into any other
# output the pixels are turned instead, as ffmpeg does.
ROTATION_MUXERS = ("mp4", "mov", "matroska", "webm")
# Where a sample aspect ratio (non-square pixels) survives: in these codecs' own
# bitstream, or in these muxers' headers.  Matroska, NUT and YUV4MPEG take it only from
# the stream, which PyAV cannot set, so FFV1, AV1 and raw video there lose it.
SAR_CODECS = ("libx264", "libx265")
SAR_MUXERS = ("mp4", "mov")
SAR_IMAGE_CODECS = ("png", "mjpeg", "tiff")
# Muxers that keep a file's cover art (MP4 as its cover, the others as a picture stream);
# MOV drops it, and WebM and MPEG-TS cannot hold JPEG or PNG.
COVER_ART_MUXERS = ("mp4", "matroska", "nut", "avi")
TEXT_SUBTITLE_CODECS = ("subrip", "srt", "ass", "ssa", "webvtt", "text")
TEXT_SUBTITLES_IN = {"mp4": "mov_text", "mov": "mov_text", "webm": "webvtt"}  # the text format each container holds


def muxer_for(path: Path) -> str:
    """The muxer of a video file's extension (FFmpeg's name for it)."""
    ext = path.suffix.lower()
    return VIDEO_FORMATS.get(ext) or ext.lstrip(".") or "mp4"


def is_image_pattern(text: str) -> bool:
    """A printf pattern for numbered files, as ffmpeg takes them: ``frames/%06d.png``; not
    a file that exists (``100%done.png``) nor a video file's name (``100%done.mp4``)."""
    if re.search(r"%0?\d*d", text) is None or Path(text).suffix.lower() in VIDEO_FORMATS:
        return False
    return not Path(text).is_file()


def local_file(path: str | Path) -> str:
    """A file's name as FFmpeg must be given it: with ``file:`` in front, or a name with
    a colon (``2024-01-01T10:30:00.mp4``) is taken for a protocol (``2024-01-01T10:``)."""
    return f"file:{path}"


TS_AUDIO_CODECS = ("aac", "aac_latm", "mp2", "mp3", "ac3", "eac3", "dts", "truehd", "opus", "s302m")  # what MPEG-TS can signal
ATTACHMENT_FORMATS = ("matroska",)  # muxers that hold attached files (fonts); WebM's would drop them


def holds(fmt: str, stream) -> bool:
    """Whether muxer ``fmt`` takes ``stream`` copied as it is: tried on a scratch file in
    memory (the header and trailer written), since many muxers accept a stream they
    cannot write and fail only when the file starts or ends."""
    if stream.type == "attachment":
        return fmt in ATTACHMENT_FORMATS
    codec = stream.codec_context.codec.canonical_name if stream.codec_context is not None else None
    if fmt == "mp4" and codec and codec.startswith("pcm_"):
        return False  # the MP4 muxer takes PCM and fails at its trailer
    if fmt == "mpegts" and stream.type == "audio" and codec not in TS_AUDIO_CODECS:
        return False  # written as private data that no player (nor FFmpeg) reads back as sound
    try:
        with av.open(io.BytesIO(), "w", format=fmt) as scratch:
            scratch.add_stream_from_template(stream)
            scratch.start_encoding()
    except (av.error.FFmpegError, ValueError, TypeError, NotImplementedError):
        return False
    return True
