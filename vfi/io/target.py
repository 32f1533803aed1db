"""The output target: what ``-o`` names (a video file, numbered images, or a pipe) and
the checks that it can be written, made before any work is done."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import OutputError, UsageError
from ..outputs import check_distinct, check_writable
from .formats import IMAGE_FORMATS, is_image_pattern

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


def check_output_path(out: str | os.PathLike, inp: str | os.PathLike | None, overwrite: bool) -> Path:
    """Validates the output path before any work is done."""
    out_p = Path(out)
    if str(out).endswith(("/", os.sep)):
        raise UsageError(f"{out}: ends with a slash, like a folder; give a file name")
    if inp is not None:
        check_distinct([("input", inp)], [("output", out_p)])
    if out_p.is_dir():
        raise UsageError(f"{out}: is a folder; give a file name such as {Path(out) / 'out.mp4'}")
    check_writable(out_p, "output", overwrite)
    if not out_p.suffix:
        raise UsageError(f"{out}: give the output a file extension (.mp4, .mkv, ...) so the container is known")
    return out_p


def sidecar_path(video: str | os.PathLike) -> Path:
    """``VIDEO.vfi.json``; for a name so long that the suffix would pass the file
    system's 255 bytes, a shortened name with a hash of the whole one."""
    p = Path(video)
    name = p.name + ".vfi.json"
    if len(name.encode()) > 255:
        digest = hashlib.sha1(p.name.encode()).hexdigest()[:12]
        name = p.name.encode()[:200].decode(errors="ignore") + f".{digest}.vfi.json"
    return p.with_name(name)
