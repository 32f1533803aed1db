"""Transparency: an 8-bit source with an alpha channel (RGBA PNG sequences, QuickTime
Animation, FFV1 with alpha) keeps it in outputs that hold one (FFV1, PNG and TIFF
images), and a warning says so where the output cannot.  The methods make RGB; an
in-between frame's alpha is the cross-fade of its two source frames' alpha at its
time."""

from __future__ import annotations

import av
import numpy as np

from .colour import bits_per_sample, is_rgb_format

# What each encoder writes an 8-bit RGBA picture as.
ALPHA_FORMATS = {"ffv1": "bgra", "png": "rgba", "tiff": "rgba"}


def has_alpha(pix_fmt: str) -> bool:
    """Whether frames of ``pix_fmt`` carry transparency (RGBA, YUVA, grey with alpha)."""
    try:
        return len(av.VideoFormat(pix_fmt).components) in (2, 4)
    except (ValueError, TypeError):
        return False


def alpha_format(codec: str, source_fmt: str) -> str | None:
    """The format that keeps ``source_fmt``'s transparency in ``codec``; None where it
    has none, or the encoder cannot hold it (or it is deeper than 8 bits)."""
    if not (has_alpha(source_fmt) and is_rgb_format(source_fmt)) or bits_per_sample(source_fmt) > 8:
        return None
    return ALPHA_FORMATS.get(codec)


def lost_alpha(source_fmt: str, out_fmt: str, what: str) -> list[str]:
    """A warning where a source's transparency does not reach the output."""
    if not has_alpha(source_fmt) or has_alpha(out_fmt):
        return []
    return [f"transparency (alpha) not kept: {what} cannot carry it here (8-bit sources into ffv1 in .mkv, "
            "or PNG or TIFF images, can)"]


def alpha_of(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgba")[..., 3]


def with_alpha(rgb: np.ndarray, a: av.VideoFrame, b: av.VideoFrame | None, t: float) -> np.ndarray:
    """A made RGB frame between source frames ``a`` and ``b`` (at ``t`` from 0 to 1) with
    the cross-fade of their alpha as a fourth channel (8 bits)."""
    alpha = alpha_of(a).astype(np.float32)
    if b is not None and t > 0:
        alpha = alpha * (1 - t) + alpha_of(b).astype(np.float32) * t
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return np.dstack([rgb, np.clip(np.rint(alpha), 0, 255).astype(np.uint8)])


def rgba_frame(result, pix_fmt: str) -> av.VideoFrame:
    """A made RGBA array or a source frame with alpha, in ``pix_fmt`` (which has alpha)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(result), format="rgba") if isinstance(result, np.ndarray) else result
    return frame if frame.format.name == pix_fmt else frame.reformat(format=pix_fmt)
