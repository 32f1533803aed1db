"""The output target: what ``-o`` names (a video file, numbered images, or a pipe),
parsed once into an :class:`OutputTarget`, with every check that it can be written
made before any work is done; the job's stages are handed the target, never the string."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..outputs import check_distinct, check_parent_writable, check_writable
from .encoding import EncodeOptions
from .formats import IMAGE_FORMATS, PIPE_FORMATS, ROTATION_MUXERS, is_image_pattern, muxer_for
from .sources import image_files, is_image_sequence

DEFAULT_PATTERN = "%06d.png"
SIDECAR_NAME = "vfi.json"  # an image sequence's sidecar, inside its folder


def image_target(spec: str) -> tuple[Path, str]:
    """(folder, file pattern) of an image-sequence output: ``out/%05d.png`` or a folder
    (``out/``: ``%06d.png`` inside)."""
    if is_image_pattern(spec):
        p = Path(spec)
        return (p.parent if str(p.parent) else Path(".")), p.name
    return Path(spec), DEFAULT_PATTERN


def output_kind(spec: str) -> str:
    """'pipe' (``-``: stdout), 'images' (a ``%06d.png`` pattern, or a folder: one that
    exists, or a name ending in ``/``) or 'file' (a video file)."""
    if spec == "-":
        return "pipe"
    if is_image_pattern(spec) or spec.endswith(("/", os.sep)) or Path(spec).is_dir():
        return "images"
    return "file"


def check_image_target(spec: str, folder: Path, pattern: str, overwrite: bool) -> None:
    """An image-sequence output can be made: its folder is new, empty, or (with
    --overwrite) an earlier image sequence; its parent exists and is writable."""
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
    check_parent_writable(spec, folder)


def input_files(input: str) -> list[tuple[str, str | os.PathLike]]:
    """(what, path) pairs of what the job reads: the file, or each image of a sequence
    (an output may not take the name of any of them)."""
    if input == "-":
        return []
    if is_image_sequence(input):
        return [("input", input), *(("input image", p) for p in image_files(input))]
    return [("input", input)]


def check_folder_holds_no_input(spec: str, folder: Path, input: str) -> None:
    """An image sequence replaces its whole folder: the input may not be in it."""
    if input == "-":
        return
    where = Path(input).parent if is_image_pattern(input) else Path(input)
    out, inp = folder.resolve(), where.resolve()
    if out == inp or out in inp.parents:
        raise UsageError(f"{spec}: the input {input} is in this folder, which the output replaces whole; "
                         "write the images into another folder")


def sidecar_path(video: str | os.PathLike) -> Path:
    """``VIDEO.vfi.json``; for a name so long that the suffix would pass the file
    system's 255 bytes, a shortened name with a hash of the whole one."""
    p = Path(video)
    name = p.name + ".vfi.json"
    if len(name.encode()) > 255:
        digest = hashlib.sha1(p.name.encode()).hexdigest()[:12]
        name = p.name.encode()[:200].decode(errors="ignore") + f".{digest}.vfi.json"
    return p.with_name(name)


@dataclass(frozen=True)
class OutputTarget:
    """What ``-o`` names, parsed once (:meth:`parse`) and checked once (:meth:`check`)."""

    spec: str  # as given
    kind: str  # 'file' (a video file), 'images' (numbered images in a folder) or 'pipe' (stdout)
    path: Path  # the video file, the images' folder, or '-'
    sidecar: Path | None = None  # the job's summary: VIDEO.vfi.json beside a file, vfi.json inside a folder; none for a pipe
    pattern: str | None = None  # images: the file name pattern (%06d.png)
    pipe_format: str | None = None  # pipe: nut, y4m, matroska or mpegts (--format)

    @classmethod
    def parse(cls, spec: str, pipe_format: str | None = None) -> OutputTarget:
        kind = output_kind(spec)
        if kind == "pipe":
            return cls(spec, kind, Path("-"), pipe_format=pipe_format or "nut")
        if kind == "images":
            folder, pattern = image_target(spec)
            return cls(spec, kind, folder, folder / SIDECAR_NAME, pattern=pattern)
        return cls(spec, kind, Path(spec), sidecar_path(spec))

    @property
    def carries_audio(self) -> bool:
        """Video files and pipes carry sound; images and YUV4MPEG do not."""
        return self.kind == "file" or (self.kind == "pipe" and self.pipe_format != "y4m")

    @property
    def muxer(self) -> str | None:
        """FFmpeg's name for the container written (None for images)."""
        if self.kind == "pipe":
            return PIPE_FORMATS[self.pipe_format][0]
        return muxer_for(self.path) if self.kind == "file" else None

    @property
    def carries_rotation(self) -> bool:
        """MP4, MOV and Matroska say how to turn the picture; elsewhere it is turned."""
        return self.muxer in ROTATION_MUXERS

    @property
    def carries_other_streams(self) -> bool:
        """Subtitles, data and attachments go into video files only."""
        return self.kind == "file"

    def check(self, input: str, encode: EncodeOptions, overwrite: bool, extra=()) -> None:
        """Everything about the output that can be checked before any work: names that
        collide with the input or each other (``extra``: (what, path) pairs of the other
        files the job writes), folders, formats, codecs."""
        extra = list(extra)
        for what, path in extra:
            check_writable(path, what, overwrite=overwrite)
        if self.kind == "pipe":
            early = encode.codec is not None or encode.format is not None  # what was asked for is checked first
            if early:
                encode.validate("-")
            check_distinct(input_files(input), extra)
            if not early:
                encode.validate("-")
            return
        if self.kind == "images":
            check_folder_holds_no_input(self.spec, self.path, input)
            check_image_target(self.spec, self.path, self.pattern, overwrite)
            check_distinct(input_files(input), [("output", self.path), *extra])
            return
        check_distinct(input_files(input), [("output", self.spec), ("sidecar", self.sidecar), *extra])
        out = self.spec
        if self.path.is_dir():
            raise UsageError(f"{out}: is a folder; give a file name such as {self.path / 'out.mp4'}")
        check_writable(self.path, "output", overwrite)
        if not self.path.suffix:
            raise UsageError(f"{out}: give the output a file extension (.mp4, .mkv, ...) so the container is known")
        encode.validate(self.path)
        check_writable(self.sidecar, "sidecar", overwrite=True)


def prepare_target(output: str, input: str, encode: EncodeOptions, overwrite: bool, extra=()) -> OutputTarget:
    """The job's output target, parsed and checked."""
    target = OutputTarget.parse(output, encode.format)
    target.check(input, encode, overwrite, extra)
    return target
