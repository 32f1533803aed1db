"""Transparency: a source with an alpha channel (RGBA PNG sequences of 8 or 16 bits,
QuickTime Animation, FFV1 or ProRes 4444 with alpha, YUVA of any depth) keeps it in
outputs that hold one: in the source's own format where the encoder takes it (YUVA
into FFV1 or ProRes: source frames pass bit for bit), else in RGBA of the source's
depth (FFV1 bgra or rgba64le, PNG rgba or rgba64be, TIFF rgba or rgba64le), else in an
alpha format the encoder has; a warning says so where the output cannot.  The methods
make RGB; an in-between frame's alpha is the cross-fade of its two source frames'
alpha at its time, each source frame's alpha read once (:meth:`SourceFrame.alpha`)."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from .colour import bits_per_sample, plane_samples, rgb_levels, without_alpha, write_plane

# What each encoder writes RGBA as: (8 bits, more than 8 bits).
ALPHA_FORMATS = {"ffv1": ("bgra", "rgba64le"), "png": ("rgba", "rgba64be"), "tiff": ("rgba", "rgba64le")}
PACKED_8 = ("rgba", "bgra", "argb", "abgr")  # the sample order is the name
PACKED_16 = ("rgba64le", "rgba64be", "bgra64le", "bgra64be")


def has_alpha(pix_fmt: str) -> bool:
    """Whether frames of ``pix_fmt`` carry transparency (RGBA, YUVA, grey with alpha)."""
    try:
        return len(av.VideoFormat(pix_fmt).components) in (2, 4)
    except (ValueError, TypeError):
        return False


# Encoders that put the alpha beside the picture, in each packet's side data, which a
# chunked job's packet files do not keep: their alpha is said to be lost in every job
# alike rather than kept by one and dropped by the other.
SIDE_DATA_ALPHA = ("libvpx", "libvpx-vp9")


def _writable(pix_fmt: str) -> bool:
    """Formats made frames are written in with their alpha (:func:`alpha_frame`)."""
    return pix_fmt in PACKED_8 or pix_fmt in PACKED_16 or without_alpha(pix_fmt) is not None


def alpha_format(codec: str, source_fmt: str) -> str | None:
    """The format that keeps ``source_fmt``'s transparency in ``codec``; None where the
    source has none or the encoder cannot hold it."""
    if not has_alpha(source_fmt) or codec in SIDE_DATA_ALPHA:
        return None
    try:
        supported = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    except (ValueError, av.error.FFmpegError):
        return None
    if source_fmt in supported and without_alpha(source_fmt):
        return source_fmt  # YUVA or planar RGBA as it is: source frames bit for bit
    deep = bits_per_sample(source_fmt) > 8
    own = ALPHA_FORMATS.get(codec, (None, None))[deep]
    if own is not None and own in supported:
        return own
    writable = [f for f in supported if has_alpha(f) and _writable(f)]
    return next((f for f in writable if (bits_per_sample(f) > 8) == deep), writable[0] if writable else None)


def lost_alpha(source_fmt: str, out_fmt: str, what: str) -> list[str]:
    """A warning where a source's transparency does not reach the output."""
    if not has_alpha(source_fmt) or has_alpha(out_fmt):
        return []
    return [f"transparency (alpha) not kept: {what} cannot carry it here (ffv1 in .mkv or .nut, or PNG or TIFF images, can)"]


def alpha_plane(frame: av.VideoFrame) -> tuple[np.ndarray, int]:
    """A frame's alpha samples as stored (H x W) and the opaque value: read from the
    plane or the pixels of formats of more than 8 bits (swscale rescales by a shift)."""
    name = frame.format.name
    if bits_per_sample(name) <= 8:
        return frame.to_ndarray(format="rgba")[..., 3].copy(), 255  # not a view that keeps the RGBA
    dtype = np.dtype(">u2" if name.endswith("be") else "<u2")
    if without_alpha(name):
        return plane_samples(frame.planes[3], dtype), (1 << bits_per_sample(name)) - 1
    if name in PACKED_16:
        return plane_samples(frame.planes[0], dtype, 4).reshape(frame.height, frame.width, 4)[..., 3].copy(), 65535
    return frame.to_ndarray(format="rgba64le")[..., 3].copy(), 65535


@dataclass
class Transparent:
    """A frame for an output with alpha: RGB (uint8, or float32 on 0..255 from a deep
    source) and its alpha (on 0..``top``)."""

    rgb: np.ndarray
    alpha: np.ndarray
    top: int


def with_alpha(rgb: np.ndarray, a, b, t: float) -> Transparent:
    """A made RGB frame between source frames ``a`` and ``b`` (:class:`SourceFrame`, at
    ``t`` from 0 to 1) with the cross-fade of their alpha."""
    plane, top = a.alpha()
    if b is None or t <= 0:
        return Transparent(rgb, plane, top)
    # float32 weights, as the samples were once made float32 first: the same sums (one
    # source: one format, one top)
    return Transparent(rgb, plane * np.float32(1 - t) + b.alpha()[0] * np.float32(t), top)


def for_alpha_output(result, a, b, t: float, conv, pix_fmt: str):
    """What an output with alpha in ``pix_fmt`` is handed: a source frame already in
    ``pix_fmt`` as it is, any other frame as :class:`Transparent`."""
    source = a if result is a.frame else b if b is not None and result is b.frame else None
    if source is None:  # made: by a method in RGB, or by FFmpeg (mci, without alpha)
        return with_alpha(result if isinstance(result, np.ndarray) else conv.to_rgb(result), a, b, t)
    if result.format.name == pix_fmt:
        return result
    plane, top = source.alpha()
    return Transparent(source.rgb_precise(conv), plane, top)


def alpha_frame(result, pix_fmt: str, conv) -> av.VideoFrame:
    """A source frame in ``pix_fmt`` or a :class:`Transparent` written in it."""
    if isinstance(result, av.VideoFrame):
        return result if result.format.name == pix_fmt else result.reformat(format=pix_fmt)
    if not _writable(pix_fmt):  # one asked for with --pix-fmt: swscale from RGBA
        deep = bits_per_sample(pix_fmt) > 8
        return alpha_frame(result, "rgba64le" if deep else "rgba", conv).reformat(format=pix_fmt)
    top = 65535 if pix_fmt in PACKED_16 else (1 << bits_per_sample(pix_fmt)) - 1
    alpha = result.alpha
    if top != result.top or alpha.dtype.kind == "f":  # a cross-fade, or another depth
        alpha = np.clip(np.rint(alpha * (top / result.top) if top != result.top else alpha), 0, top)
    sibling = without_alpha(pix_fmt)
    if sibling is not None:
        return _planar(conv.from_rgb(result.rgb, sibling), alpha, pix_fmt)
    return _packed(result.rgb, alpha, pix_fmt)


def _planar(colour: av.VideoFrame, alpha: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """``colour``'s planes and ``alpha`` as the fourth, in ``pix_fmt``."""
    out = av.VideoFrame(colour.width, colour.height, pix_fmt)
    for src, dst in zip(colour.planes, out.planes):
        dst.update(bytes(src) if src.line_size == dst.line_size else _repadded(src, dst))
    write_plane(out.planes[3], alpha.astype(np.dtype(">u2" if pix_fmt.endswith("be") else "<u2") if bits_per_sample(pix_fmt) > 8 else np.uint8))
    for k in ("colorspace", "color_range", "color_primaries", "color_trc"):
        setattr(out, k, getattr(colour, k))
    return out


def _repadded(src, dst) -> np.ndarray:
    rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
    buf = np.zeros((dst.height, dst.line_size), np.uint8)
    width = min(src.line_size, dst.line_size)
    buf[:, :width] = rows[:, :width]
    return buf


def _packed(rgb: np.ndarray, alpha: np.ndarray, pix_fmt: str) -> av.VideoFrame:
    """RGB and alpha written into a frame of a packed format, sample by sample in its
    order (a third of the time of stacking them and reordering with swscale).  16 bits:
    RGB on 0..255 by v * 65535 / 255, rounded, as colour.deep_rgb_from_rgb."""
    deep = pix_fmt in PACKED_16
    dtype = np.dtype((">u2" if pix_fmt.endswith("be") else "<u2") if deep else np.uint8)
    if deep:
        rgb = np.rint(rgb * (65535 / 255))
    elif rgb.dtype != np.uint8:
        rgb = rgb_levels(rgb, precise=False)
    h, w = rgb.shape[:2]
    frame = av.VideoFrame(w, h, pix_fmt)
    plane = frame.planes[0]
    pixels = np.asarray(memoryview(plane)).reshape(h, plane.line_size)[:, : w * 4 * dtype.itemsize].view(dtype).reshape(h, w, 4)
    for i, c in enumerate(pix_fmt[:4]):
        pixels[..., i] = alpha if c == "a" else rgb[..., "rgb".index(c)]
    return frame
