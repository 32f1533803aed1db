"""Video I/O with PyAV: streaming decode with real timestamps, and an encoder that
writes to a temporary file and renames it only when the whole video is written.

Frames stay ``av.VideoFrame`` objects in the source's own pixel format for as long as
possible, so that a source frame can be passed to the encoder bit for bit.  When a
method needs pixels, :class:`ColorConverter` turns frames into RGB and back with the
source's colour matrix and range, the same way for every frame, so synthesised frames
do not flicker against source frames.
"""

from __future__ import annotations

import errno
import functools
import heapq
import struct
import os
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from .audio import AudioEncoder
from .errors import CorruptInputError, InputError, OutputError, UsageError
from .outputs import check_distinct, check_writable, temporary_path

# FFmpeg's enum values (AVColorSpace, AVColorRange, ...); PyAV passes them through as ints.
SPC_RGB, SPC_BT709, SPC_UNSPECIFIED, SPC_BT470BG, SPC_SMPTE170M = 0, 1, 2, 5, 6
RANGE_UNSPECIFIED, RANGE_MPEG, RANGE_JPEG = 0, 1, 2
REORDER_WINDOW = 16  # frames held back to put misordered timestamps right
PRI_UNSPECIFIED, TRC_UNSPECIFIED = 2, 2


@dataclass(frozen=True)
class ColorSpec:
    """How the source's YUV samples map to colours; carried unchanged to the output."""

    colorspace: int = SPC_UNSPECIFIED
    color_range: int = RANGE_UNSPECIFIED
    primaries: int = PRI_UNSPECIFIED
    trc: int = TRC_UNSPECIFIED

    def matrix_for(self, height: int) -> int:
        """The YUV<->RGB matrix to use. Unspecified means what players assume:
        BT.709 for HD (720 lines and up), BT.601 below."""
        if self.colorspace in (SPC_UNSPECIFIED, SPC_RGB, 3) or self.colorspace > 9:
            return SPC_BT709 if height >= 720 else SPC_BT470BG
        return self.colorspace

    def range_for(self, pix_fmt: str) -> int:
        """Unspecified range means limited (MPEG) for YUV, full for the yuvj formats."""
        if self.color_range in (RANGE_MPEG, RANGE_JPEG):
            return self.color_range
        return RANGE_JPEG if pix_fmt.startswith("yuvj") else RANGE_MPEG


# Chroma is replicated going to RGB and box-averaged coming back, with exact rounding:
# then YUV -> RGB -> YUV returns the source samples to within 1 level (bilinear
# resampling both ways blurs chroma edges by up to 8 levels: synthesised frames would
# visibly differ in colour from the source frames around them).
TO_RGB = Interpolation.POINT | Interpolation.ACCURATE_RND
FROM_RGB = Interpolation.AREA | Interpolation.ACCURATE_RND
# swscale's direct path from subsampled YUV (4:2:0, 4:2:2) to RGB is biased: 1.2-2.4
# levels darker than the matrix says for limited range, so frames made in RGB came back
# darker than the source frames around them.  Chroma is brought to full resolution in
# YUV first (replicated, as above), and 4:4:4 YUV goes to RGB exactly.
# Chroma block size (x, y) of the subsampled planar YUV layouts, by the part of the name
# that says it; the semi-planar ones (U and V interleaved) with their 4:4:4 format.
_CHROMA_BLOCK = {"420": (2, 2), "422": (2, 1), "411": (4, 1), "410": (4, 4), "440": (1, 2)}
_SEMI_PLANAR = {"nv12": ((2, 2), "yuv444p"), "nv21": ((2, 2), "yuv444p"), "nv16": ((2, 1), "yuv444p"),
                "p010le": ((2, 2), "yuv444p16le"), "p016le": ((2, 2), "yuv444p16le")}


def _plane_samples(plane, dtype: np.dtype, per_pixel: int = 1) -> np.ndarray:
    """A plane's samples (``per_pixel`` interleaved per pixel), line padding dropped."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width * per_pixel * dtype.itemsize].view(dtype)


def _write_plane(plane, samples: np.ndarray) -> None:
    """``samples`` (height x width, the plane's dtype) into a plane, padding zeroed."""
    rows = np.zeros((plane.height, plane.line_size), np.uint8)
    raw = np.ascontiguousarray(samples).view(np.uint8)
    rows[:, : raw.shape[1]] = raw
    plane.update(rows)


def replicate_chroma(frame: av.VideoFrame, full: str) -> av.VideoFrame | None:
    """The frame in its 4:4:4 format ``full``, each chroma sample repeated over the pixels
    it covers; None for layouts this does not know.  (swscale's POINT upsampling takes
    each pixel's chroma from the next sample to the right: half a sample off, so chroma
    box-averaged back mixed neighbouring samples, up to 36 levels on noisy footage.)"""
    name = frame.format.name
    semi = _SEMI_PLANAR.get(name)
    if semi:
        (fx, fy), dtype = semi[0], np.dtype(np.uint8 if name.startswith("nv") else "<u2")
    else:
        layout = planar_yuv_layout(name)
        if layout is None or layout[:2] == (1, 1):
            return None
        fx, fy, dtype = layout
    w, h = frame.width, frame.height
    luma = _plane_samples(frame.planes[0], dtype)
    if semi:
        uv = _plane_samples(frame.planes[1], dtype, 2)
        chroma = [uv[:, 0::2], uv[:, 1::2]]
        if name == "nv21":
            chroma.reverse()
    else:
        chroma = [_plane_samples(frame.planes[1], dtype), _plane_samples(frame.planes[2], dtype)]
    out = av.VideoFrame(w, h, full)
    for plane, values in zip(out.planes, [luma] + [c.repeat(fy, 0).repeat(fx, 1)[:h, :w] for c in chroma]):
        _write_plane(plane, values)
    return out


# (kr, kb) of the matrices whose YUV vfi writes itself (see ColorConverter.from_rgb).
LUMA_WEIGHTS = {SPC_BT709: (0.2126, 0.0722), SPC_BT470BG: (0.299, 0.114), SPC_SMPTE170M: (0.299, 0.114), 9: (0.2627, 0.0593)}


@functools.lru_cache(maxsize=64)
def planar_yuv_layout(pix_fmt: str) -> tuple[int, int, np.dtype] | None:
    """(chroma block width, height, sample dtype) of a planar YUV format (8 to 16 bits,
    any subsampling, yuvj too), or None for other layouts (semi-planar, packed, alpha)."""
    if not pix_fmt.startswith(("yuv", "yuvj")) or pix_fmt.startswith("yuva") or not ("p" in pix_fmt[3:]):
        return None
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, TypeError):
        return None
    if len(fmt.components) != 3 or [c.plane for c in fmt.components] != [0, 1, 2]:
        return None
    if "444" in pix_fmt:
        block = (1, 1)
    else:
        block = next((b for part, b in _CHROMA_BLOCK.items() if part in pix_fmt), None)
        if block is None:
            return None
    bits = bits_per_sample(pix_fmt)
    dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype(">u2" if pix_fmt.endswith("be") else "<u2")
    return block[0], block[1], dtype


def yuv_from_rgb(rgb: np.ndarray, pix_fmt: str, matrix: int, color_range: int) -> av.VideoFrame | None:
    """8-bit RGB to planar YUV (any depth, limited or full range) by the matrix's own
    formula, rounded once, chroma averaged over each subsampled block before rounding;
    None where this does not apply.  swscale truncates full-range chroma (0.5 levels low
    on average, 0.8-0.9 levels in red and blue once decoded), and the exact inverse of
    ColorConverter.to_rgb's replicated chroma is the block average."""
    layout = planar_yuv_layout(pix_fmt)
    if layout is None or matrix not in LUMA_WEIGHTS:
        return None
    sx, sy, dtype = layout
    kr, kb = LUMA_WEIGHTS[matrix]
    top = (1 << bits_per_sample(pix_fmt)) - 1
    # E'y in [0, 1] and E'cb, E'cr in [-0.5, 0.5] from RGB / 255, then to samples:
    # full range Y = (2^n - 1) E'y, C = (2^n - 1) E'c + 2^(n-1);
    # limited range Y = (219 E'y + 16) 2^(n-8), C = (224 E'c + 128) 2^(n-8).
    to_e = np.array([[kr, 1 - kr - kb, kb], [-kr, -(1 - kr - kb), 1 - kb], [1 - kr, -(1 - kr - kb), -kb]], np.float64)
    to_e[1] /= 2 * (1 - kb)
    to_e[2] /= 2 * (1 - kr)
    if color_range == RANGE_JPEG:
        gain, offset = np.array([top, top, top], np.float64), np.array([0, (top + 1) / 2, (top + 1) / 2])
    else:
        unit = (top + 1) / 256
        gain, offset = np.array([219, 224, 224]) * unit, np.array([16, 128, 128]) * unit
    to_samples = (to_e * (gain / 255)[:, None]).astype(np.float32)
    h, w = rgb.shape[:2]
    import cv2  # imported here: most commands never convert colour this way

    affine = np.hstack([to_samples, offset.astype(np.float32)[:, None]])
    yuv = cv2.transform(rgb.astype(np.float32), affine)  # per pixel, SIMD: numpy's matmul on (N, 3) is 10x slower
    chroma = yuv[..., 1:]
    if (sx, sy) != (1, 1):
        ph, pw = -(-h // sy) * sy, -(-w // sx) * sx  # odd sizes: the last row/column repeated
        if (ph, pw) != (h, w):
            chroma = np.pad(chroma, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        # the block mean as a sum of strided slices: a mean over reshaped axes is 10x slower
        total = sum(chroma[i::sy, j::sx] for i in range(sy) for j in range(sx))
        chroma = total * np.float32(1 / (sx * sy))
    scaled = [yuv[..., 0], chroma[..., 0], chroma[..., 1]]
    out = av.VideoFrame(w, h, pix_fmt)
    for plane, values in zip(out.planes, scaled):
        _write_plane(plane, np.clip(np.rint(values), 0, top).astype(dtype))
    return out


def rgb_from_deep_yuv(frame: av.VideoFrame, matrix: int, color_range: int, precise: bool = False) -> np.ndarray | None:
    """8-bit RGB (or ``precise``: float32 on 0..255) from planar YUV of more than 8 bits
    by the matrix's own formula, the inverse of yuv_from_rgb; None where that does not apply.  swscale scales full-range
    deep samples by a shift (1020, not 1023, is its white at 10 bits), so frames it read
    and frames written by the formula differed by up to 0.75 levels."""
    layout = planar_yuv_layout(frame.format.name)
    if layout is None or layout[2].itemsize == 1 or matrix not in LUMA_WEIGHTS:
        return None
    sx, sy, dtype = layout
    h, w = frame.height, frame.width

    def plane(k):
        values = _plane_samples(frame.planes[k], dtype).astype(np.float32)
        return values if k == 0 else values.repeat(sy, 0).repeat(sx, 1)[:h, :w]

    top = (1 << bits_per_sample(frame.format.name)) - 1
    y, cb, cr = plane(0), plane(1), plane(2)
    if color_range == RANGE_JPEG:
        y, cb, cr = y / top, (cb - (top + 1) / 2) / top, (cr - (top + 1) / 2) / top
    else:
        unit = (top + 1) / 256
        y, cb, cr = (y / unit - 16) / 219, (cb / unit - 128) / 224, (cr / unit - 128) / 224
    kr, kb = LUMA_WEIGHTS[matrix]
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return rgb_levels(np.stack([r, g, b], axis=-1) * 255, precise)


def rgb_levels(rgb: np.ndarray, precise: bool) -> np.ndarray:
    """RGB on 0..255: H x W x 3 uint8, rounded, or (``precise``) float32 as it is, for
    frames made from sources of more than 8 bits (see ColorConverter.to_rgb_precise)."""
    if precise:
        return np.clip(rgb, 0, 255).astype(np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


# Packed 16-bit RGB: the order of the samples in a pixel (swscale does not even reorder
# these exactly: rgb48 to bgra64 turned white into 65532, 65535, 65531).
PACKED_DEEP_RGB = {"rgb48": "rgb", "bgr48": "bgr", "rgba64": "rgba", "bgra64": "bgra"}


def deep_rgb_layout(pix_fmt: str) -> tuple[str, np.dtype, int] | None:
    """('gbr', dtype, top) for planar RGB of more than 8 bits (planes G, B, R; alpha
    after), ('packed', dtype, 65535) for packed 16-bit RGB, ('gray', dtype, top) for grey
    of more than 8 bits; None otherwise.  ``top``: the white sample."""
    bits = bits_per_sample(pix_fmt)
    if bits <= 8:
        return None
    dtype = np.dtype(">u2" if pix_fmt.endswith("be") else "<u2")
    if pix_fmt.startswith("gbr"):
        return "gbr", dtype, (1 << bits) - 1
    if pix_fmt[:-2] in PACKED_DEEP_RGB:
        return "packed", dtype, 65535
    if pix_fmt.startswith("gray") and not pix_fmt.startswith("grayf"):
        return "gray", dtype, (1 << bits) - 1
    return None


def rgb_from_deep_rgb(frame: av.VideoFrame, precise: bool = False) -> np.ndarray | None:
    """8-bit RGB from RGB or grey of more than 8 bits, each sample rounded from
    v * 255 / white (``precise``: float32, not rounded); None for other formats.  swscale does not round there: frames it
    read were 0.4-0.5 levels brighter on average than the same frame rounded."""
    layout = deep_rgb_layout(frame.format.name)
    if layout is None:
        return None
    kind, dtype, top = layout
    if kind == "gbr":
        g, b, r = (_plane_samples(frame.planes[k], dtype) for k in range(3))
        wide = np.stack([r, g, b], axis=-1)
    elif kind == "gray":
        wide = _plane_samples(frame.planes[0], dtype)[..., None].repeat(3, axis=-1)
    else:
        order = PACKED_DEEP_RGB[frame.format.name[:-2]]
        pixels = _plane_samples(frame.planes[0], dtype, len(order)).reshape(frame.height, frame.width, len(order))
        wide = pixels[..., [order.index(c) for c in "rgb"]]
    return rgb_levels(wide * (255 / top), precise)


def deep_rgb_from_rgb(rgb: np.ndarray, pix_fmt: str) -> av.VideoFrame | None:
    """8-bit RGB to planar or packed RGB of more than 8 bits by v * white / 255, rounded
    (white stays white); None for other formats (grey included: that is a luma sum).
    swscale shifts instead: 255 became 1020 of 1023 at 10 bits, 65283 of 65535 at 16."""
    layout = deep_rgb_layout(pix_fmt)
    if layout is None or layout[0] == "gray":
        return None
    kind, dtype, top = layout
    wide = np.rint(rgb * (top / 255)).astype(dtype)
    h, w = rgb.shape[:2]
    frame = av.VideoFrame(w, h, pix_fmt)
    opaque = np.full((h, w), top, dtype)
    if kind == "packed":
        order = PACKED_DEEP_RGB[pix_fmt[:-2]]
        pixels = np.stack([opaque if c == "a" else wide[..., "rgb".index(c)] for c in order], axis=-1).astype(dtype)  # stack drops the byte order
        _write_plane(frame.planes[0], pixels.reshape(h, w * len(order)))
        return frame
    for plane, channel in zip(frame.planes, (1, 2, 0, None)):  # planes G, B, R, then alpha: opaque
        _write_plane(plane, opaque if channel is None else wide[..., channel])
    return frame


@functools.lru_cache(maxsize=64)
def full_chroma_format(pix_fmt: str) -> str | None:
    """The 4:4:4 format of the same family and depth as a chroma-subsampled YUV format
    (yuv420p -> yuv444p, yuv422p10le -> yuv444p10le, nv12 -> yuv444p), or None."""
    name = _SEMI_PLANAR[pix_fmt][1] if pix_fmt in _SEMI_PLANAR else None
    if name is None:
        part = next((p for p in _CHROMA_BLOCK if p in pix_fmt), None)
        if part is None:
            return None
        name = pix_fmt.replace(part, "444", 1)
    try:
        av.VideoFormat(name)
    except (ValueError, TypeError):
        return None
    return name

_reformatters = threading.local()


def reformatter(purpose: str) -> VideoReformatter:
    """A VideoReformatter for one purpose in the calling thread.  It keeps its swscale
    context from frame to frame; ``frame.reformat()`` builds a new one at every call,
    which costs more than the conversion itself at SD sizes (640x480 to RGB: 1.2 ms
    against 0.4 ms).  Per thread because a context is not safe to share."""
    table = getattr(_reformatters, "table", None)
    if table is None:
        table = _reformatters.table = {}
    r = table.get(purpose)
    if r is None:
        r = table[purpose] = VideoReformatter()
    return r


def bits_per_sample(pix_fmt: str) -> int:
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return 8


def is_rgb_format(pix_fmt: str) -> bool:
    """RGB-family pixel formats (packed or planar, any depth; palettes too)."""
    return pix_fmt.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "0rgb", "0bgr")) or pix_fmt == "pal8"


def _copy_planes(frame: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """The frame's planes, byte for byte, in a new frame of an identically laid out format."""
    out = av.VideoFrame(frame.width, frame.height, pix_fmt)
    for src, dst in zip(frame.planes, out.planes):
        rows = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
        buf = np.zeros((dst.height, dst.line_size), np.uint8)
        width = min(src.line_size, dst.line_size)
        buf[:, :width] = rows[:, :width]
        dst.update(buf)
    return out


class ColorConverter:
    """Converts frames of one video between its pixel format and RGB24, always with the
    same matrix, range and chroma filters, in both directions."""

    def __init__(self, pix_fmt: str, color: ColorSpec, height: int):
        self.pix_fmt = pix_fmt
        self.color = color
        self.is_rgb = is_rgb_format(pix_fmt)
        self.matrix = color.matrix_for(height)
        self.range = color.range_for(pix_fmt)

    def to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """H x W x 3 uint8 RGB."""
        if frame.format.name == "rgb24":
            return frame.to_ndarray()
        exact = self._deep_to_rgb(frame)
        return exact if exact is not None else self._swscale_to_rgb(frame, "rgb24").to_ndarray()

    def to_rgb_frame(self, frame: av.VideoFrame, fmt: str = "rgb24") -> av.VideoFrame:
        """The frame in an RGB format (rgb24, or rgb48be to keep more than 8 bits)."""
        if frame.format.name == fmt:
            return frame
        exact = self._deep_to_rgb(frame) if fmt == "rgb24" else None
        return av.VideoFrame.from_ndarray(exact, format="rgb24") if exact is not None else self._swscale_to_rgb(frame, fmt)

    @property
    def deep(self) -> bool:
        """Whether frames of this format have more than 8 bits that :meth:`to_rgb_precise` reads."""
        if bits_per_sample(self.pix_fmt) <= 8:
            return False
        if deep_rgb_layout(self.pix_fmt) is not None:
            return True
        return not self.is_rgb and planar_yuv_layout(self.pix_fmt) is not None and self.matrix in LUMA_WEIGHTS

    def to_rgb_precise(self, frame: av.VideoFrame) -> np.ndarray | None:
        """H x W x 3 float32 on 0..255, not rounded to 8 bits, for a source of more than 8
        bits that a formula reads (deep YUV, RGB, grey); None otherwise.  Frames made
        from these and written back by :meth:`from_rgb` keep the source's precision
        instead of 8-bit steps (banding beside the source frames in smooth gradients)."""
        return self._deep_to_rgb(frame, precise=True)

    def _deep_to_rgb(self, frame: av.VideoFrame, precise: bool = False) -> np.ndarray | None:
        """More than 8 bits by formula: RGB and grey (rgb_from_deep_rgb), planar YUV by
        the matrix (rgb_from_deep_yuv); rounded to uint8 unless ``precise``; None for the rest."""
        exact = rgb_from_deep_rgb(frame, precise)
        if exact is not None or self.is_rgb:
            return exact
        return rgb_from_deep_yuv(frame, self.matrix, self.range, precise)

    def _swscale_to_rgb(self, frame: av.VideoFrame, fmt: str) -> av.VideoFrame:
        if self.is_rgb:
            return reformatter("to_rgb").reformat(frame, format=fmt)
        if frame.format.name.startswith("yuvj"):  # swscale reads yuvj as full range whatever it is told
            frame = _copy_planes(frame, frame.format.name.replace("yuvj", "yuv"))
        full = full_chroma_format(frame.format.name)
        if full is not None:  # chroma to full resolution in YUV first (see _CHROMA_BLOCK)
            frame = replicate_chroma(frame, full) or reformatter("to_444").reformat(frame, format=full, interpolation=TO_RGB)
        return reformatter("to_rgb").reformat(frame, format=fmt, src_colorspace=self.matrix, src_color_range=self.range,
                                              dst_color_range=RANGE_JPEG, interpolation=TO_RGB)

    def from_rgb(self, rgb: np.ndarray, pix_fmt: str | None = None) -> av.VideoFrame:
        """An RGB array back to a frame in ``pix_fmt`` (default: the source's), tagged
        with the source's colour description."""
        pix_fmt = pix_fmt or self.pix_fmt
        precise = rgb.dtype != np.uint8  # float levels (to_rgb_precise): only the formulas keep them
        # Full range by the formula (swscale truncates its chroma); limited range by
        # swscale, which is exact there for 8-bit RGB and five times faster.
        exact = yuv_from_rgb(rgb, pix_fmt, self.matrix, self.range) if self.range == RANGE_JPEG or precise else None
        if exact is None:
            exact = deep_rgb_from_rgb(rgb, pix_fmt)
        if exact is not None:
            return self.tag(exact)
        if precise:
            rgb = rgb_levels(rgb, precise=False)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if pix_fmt != "rgb24":
            rgb_target = is_rgb_format(pix_fmt)
            # swscale writes yuvj as full range whatever it is told: written as yuv, then copied
            written = pix_fmt.replace("yuvj", "yuv") if pix_fmt.startswith("yuvj") else pix_fmt
            frame = reformatter("from_rgb").reformat(
                frame,
                format=written,
                dst_colorspace=None if rgb_target else self.matrix,
                src_color_range=RANGE_JPEG,
                dst_color_range=RANGE_JPEG if rgb_target else self.range,
                interpolation=FROM_RGB,
            )
            if written != pix_fmt:
                frame = _copy_planes(frame, pix_fmt)
        return self.tag(frame)

    def convert(self, frame: av.VideoFrame, pix_fmt: str) -> av.VideoFrame:
        """A source frame in another pixel format, same matrix and range."""
        if frame.format.name == pix_fmt:
            return frame
        if frame.format.name.replace("yuvj", "yuv") == pix_fmt.replace("yuvj", "yuv"):
            # yuvj422p and yuv422p tagged full-range hold the same samples (encoders such
            # as FFV1 only take the latter): copied, not sent through RGB, which moved
            # MJPEG source frames by up to 2 levels.
            return self.tag(_copy_planes(frame, pix_fmt))
        return self.from_rgb(self.to_rgb(frame), pix_fmt)

    def tag(self, frame: av.VideoFrame) -> av.VideoFrame:
        c = self.color
        if not self.is_rgb:
            frame.colorspace = self.matrix if c.colorspace == SPC_UNSPECIFIED else c.colorspace
            frame.color_range = self.range
        frame.color_primaries = c.primaries
        frame.color_trc = c.trc
        return frame


@dataclass
class VideoInfo:
    """What we know about the input before decoding it."""

    path: str
    width: int
    height: int
    pix_fmt: str
    codec: str
    time_base: Fraction
    rate: Fraction | None
    start: Fraction
    duration: Fraction | None
    frame_count: int | None
    color: ColorSpec
    rotation: int = 0
    sample_aspect_ratio: Fraction | None = None
    audio_streams: int = 0
    tags: dict = field(default_factory=dict)  # the container's (title, creation_time, location, ...)
    video_tags: dict = field(default_factory=dict)  # the video stream's (language, handler_name, ...)
    hdr: dict = field(default_factory=dict)  # HDR10 static metadata of the first frame (see hdr10_metadata)

    @property
    def nominal_rate(self) -> Fraction:
        """The average frame rate, or 25 fps when the container says nothing."""
        return self.rate if self.rate else Fraction(25)

    def estimated_frames(self) -> int | None:
        if self.frame_count:
            return self.frame_count
        if self.duration and self.rate:
            return max(1, round(self.duration * self.rate))
        return None


@dataclass
class SourceFrame:
    """One decoded input frame with its presentation time in seconds (exact)."""

    index: int
    time: Fraction
    frame: av.VideoFrame
    duration: Fraction | None = None
    _rgb: np.ndarray | None = field(default=None, repr=False)
    _rgb_precise: np.ndarray | None = field(default=None, repr=False)
    cut_score: tuple[int, float] | None = field(default=None, repr=False)  # (index of the frame before, score): scenes.CutDetector.prepare

    def rgb(self, conv: ColorConverter) -> np.ndarray:
        if self._rgb is None:
            precise = self._rgb_precise
            # rounded from the precise copy when there is one: the same formula, read once
            self._rgb = rgb_levels(precise, False) if precise is not None and precise.dtype != np.uint8 else conv.to_rgb(self.frame)
        return self._rgb

    def rgb_precise(self, conv: ColorConverter) -> np.ndarray:
        """The frame as float32 RGB on 0..255 at the source's precision where it has more
        than 8 bits (:meth:`ColorConverter.to_rgb_precise`), else its 8-bit RGB."""
        if self._rgb_precise is None:
            deep = conv.to_rgb_precise(self.frame)
            self._rgb_precise = deep if deep is not None else self.rgb(conv)
        return self._rgb_precise


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
            self.container = av.open("pipe:0" if self.is_pipe else self.path, mode="r")
        except av.error.FFmpegError as e:
            hint = "; a damaged header, or a frame size too large to decode?" if getattr(e, "errno", None) in (errno.EBUSY, errno.ENOMEM) else ""
            raise InputError(f"{self.path}: not a readable video ({_ffmpeg_reason(e)}{hint})") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path}: contains no video stream")
        self.stream = self.container.streams.video[0]
        if threads:
            self.stream.thread_type = "AUTO"
        self.info = self._probe()
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
        if guessed and (not average or abs(guessed / average - 1) < Fraction(1, 20)):
            rate = guessed
        else:
            rate = average or guessed
        start = Fraction(s.start_time) * tb if s.start_time is not None else Fraction(0)
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
            sample_aspect_ratio=_fraction(cc.sample_aspect_ratio),
            audio_streams=len(self.container.streams.audio),
            tags=carried_tags(self.container.metadata),
            video_tags=carried_tags(s.metadata),
        )

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
                if packet.dts is not None and _in_range(packet, start, end):
                    yield packet
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            for frame in frames:
                if frame.is_corrupt:
                    self.corrupt_frames += 1
                if not first_rotation_seen:
                    first_rotation_seen = True
                    self.info.rotation = _rotation(frame)
                    self.info.hdr = hdr10_metadata(frame)
                if frame.pts is not None:
                    heapq.heappush(stamps, Fraction(frame.pts) * tb)
                window.append(frame)
                if len(window) > REORDER_WINDOW:
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
                yield next(demux)
            except StopIteration:
                return
            except av.error.FFmpegError:
                # A broken container: count it and stop reading; what was decoded stays.
                self.decode_errors += 1
                return

    def _seek(self, start: Fraction) -> None:
        """To the key frame at or before ``start`` (frames before it are decoded and dropped)."""
        target = start + self.info.start
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
        if self.info.frame_count:
            declared.append(strict(self.info.frame_count * step))
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


def _in_range(packet: av.Packet, start: Fraction | None, end: Fraction | None) -> bool:
    """Whether a copied packet starts inside [start, end) (start time of its stream 0)."""
    if start is None and end is None:
        return True
    s = packet.stream
    t = Fraction(packet.pts if packet.pts is not None else packet.dts) * s.time_base - Fraction(s.start_time or 0) * s.time_base
    return (start is None or t >= start) and (end is None or t < end)


def _rotation(frame: av.VideoFrame) -> int:
    try:
        return int(round(frame.rotation or 0))
    except (AttributeError, ValueError, TypeError):
        return 0


# Container and stream tags a muxer writes itself, or that describe the old encoding.
TECHNICAL_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration", "vendor_id", "_statistics_tags",
                  "_statistics_writing_app", "_statistics_writing_date_utc", "number_of_frames", "number_of_bytes", "bps"}


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")  # image files read as a sequence
TEXT_SUBTITLE_CODECS = ("subrip", "srt", "ass", "ssa", "webvtt", "text")
TEXT_SUBTITLES_IN = {"mp4": "mov_text", "mov": "mov_text", "webm": "webvtt"}  # the text format each container holds


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


def x265_hdr_params(hdr: dict) -> str:
    """x265's master-display (xy in 0.00002, luminance in 0.0001 cd/m2) and max-cll."""
    parts = ["hdr10=1"]
    if "primaries" in hdr and "luminance" in hdr:
        xy = lambda p: f"({round(p[0] / 0.00002)},{round(p[1] / 0.00002)})"  # noqa: E731
        pr, lum = hdr["primaries"], hdr["luminance"]
        parts.append(f"master-display=G{xy(pr['g'])}B{xy(pr['b'])}R{xy(pr['r'])}WP{xy(hdr['white_point'])}"
                     f"L({round(lum['max'] / 0.0001)},{round(lum['min'] / 0.0001)})")
    if "max_cll" in hdr:
        parts.append(f"max-cll={hdr['max_cll']},{hdr['max_fall']}")
    return ":".join(parts)


def svtav1_hdr_params(hdr: dict) -> str:
    parts = []
    if "primaries" in hdr and "luminance" in hdr:
        xy = lambda p: f"({p[0]:.4f},{p[1]:.4f})"  # noqa: E731
        pr, lum = hdr["primaries"], hdr["luminance"]
        parts.append(f"mastering-display=G{xy(pr['g'])}B{xy(pr['b'])}R{xy(pr['r'])}WP{xy(hdr['white_point'])}"
                     f"L({lum['max']:.4f},{lum['min']:.4f})")
    if "max_cll" in hdr:
        parts.append(f"content-light={hdr['max_cll']},{hdr['max_fall']}")
    return ":".join(parts)


def _ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(":")[-1].strip() if ":" in msg and len(msg) > 80 else msg


# --------------------------------------------------------------------------- output

CONTAINER_CODECS = {
    # codecs a container cannot hold: an early, clear error instead of a muxer failure
    ".mp4": {"ffv1"},
    ".mov": {"libsvtav1"},
    ".webm": {"libx264", "libx265", "ffv1"},
}
DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 30}
# Containers that hold a video stream of these codecs (what the extension says).
VIDEO_CONTAINERS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".nut", ".ts")
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
PRESETS = {"libx264": X26X_PRESETS, "libx265": X26X_PRESETS, "libsvtav1": tuple(str(i) for i in range(14))}
# At these CRFs the encoder is transparent whatever the preset (x264 veryfast: 45.9 and
# 47.5 dB from its input on corpus box.mp4 and bikes.mp4), while medium costs 2.5-3x the
# CPU time (box 640x480: 12.3 against 4.5 ms a frame), time taken from the model on a
# CPU.  Slower presets only make smaller files: --preset medium or slow for those.
DEFAULT_PRESET = {"libx264": "veryfast", "libx265": "veryfast"}
# '-o -': a stream on stdout in one of these (--format), with a codec it can carry.
PIPE_FORMATS = {"nut": ("nut", "rawvideo"), "y4m": ("yuv4mpegpipe", "rawvideo"), "matroska": ("matroska", "ffv1"),
                "mpegts": ("mpegts", "libx264")}
Y4M_PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray16le")


@dataclass
class EncodeOptions:
    codec: str | None = None  # None: chosen from the file extension
    crf: int | None = None
    pix_fmt: str | None = None  # None: the source's, if the codec takes it
    preset: str | None = None
    threads: int = 0  # encoder threads; 0: the codec's choice
    format: str | None = None  # '-o -' only: nut (default), y4m, matroska or mpegts

    def resolved_codec(self, path: str) -> str:
        if self.codec:
            return self.codec
        if str(path) == "-":
            return PIPE_FORMATS[self.format or "nut"][1]
        return "libsvtav1" if Path(path).suffix.lower() == ".webm" else "libx264"

    def validate(self, path: str | os.PathLike) -> None:
        """Codec/container mismatches, before any work is done."""
        p = Path(path)
        codec = self.resolved_codec(str(path))
        if codec not in av.codecs_available:
            raise UsageError(f"codec {codec} is not available in this PyAV build")
        if self.format is not None and str(path) != "-":
            raise UsageError("--format is for '-o -' (a stream on stdout); a file's extension says its format")
        if str(path) == "-":
            self._validate_pipe(codec)
        elif p.suffix.lower() in IMAGE_EXTENSIONS:
            raise UsageError(f"{p}: one image cannot hold a video; for numbered images give a pattern "
                             f"({p.with_name(p.stem + '_%06d' + p.suffix)}) or a folder ending in /")
        elif p.suffix.lower() not in VIDEO_CONTAINERS:
            raise UsageError(f"{p}: {p.suffix or 'no extension'} is not a video container vfi writes "
                             f"(use {', '.join(VIDEO_CONTAINERS)})")
        if codec in CONTAINER_CODECS.get(p.suffix.lower(), set()):
            raise UsageError(f"{p}: {codec} cannot be stored in {p.suffix}; use .mkv")
        try:
            av.format.ContainerFormat(_muxer_for(p), "w")
        except (ValueError, av.error.FFmpegError):
            raise UsageError(f"{p}: unknown output container {p.suffix!r}") from None
        if self.preset is not None:
            choices = PRESETS.get(codec)
            if choices is None:
                raise UsageError(f"--preset is for libx264, libx265 and libsvtav1, not {codec}")
            if str(self.preset) not in choices:
                raise UsageError(f"--preset {self.preset!r} is not one of {codec}'s: {', '.join(choices)}")

    def _validate_pipe(self, codec: str) -> None:
        fmt = self.format or "nut"
        if fmt not in PIPE_FORMATS:
            raise UsageError(f"--format must be one of {', '.join(PIPE_FORMATS)}, not {fmt!r}")
        if fmt == "y4m" and codec != "rawvideo":
            raise UsageError("y4m carries raw video only (no --codec)")
        if fmt == "mpegts" and codec in ("ffv1", "rawvideo"):
            raise UsageError(f"MPEG-TS cannot carry {codec}; use --codec libx264 or --format matroska")


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


class VideoWriter:
    """Encodes frames for ``path`` into a temporary file in the same folder; the caller
    moves it to its final name once :meth:`finish` (and the rest of the job) succeeded."""

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
        copy_audio_from=(),
        audio_encode=None,
        metadata: dict[str, str] | None = None,
    ):
        self.is_pipe = str(path) == "-"  # a stream on stdout: written as it goes, no temporary file
        self.path = Path(path)
        suffix = self.path.suffix
        options.validate(path)
        codec = options.resolved_codec(str(path))
        self.pipe_format = (options.format or "nut") if self.is_pipe else None
        self.tmp = None if self.is_pipe else temporary_path(self.path)
        self.closed = False
        self.container = None
        try:  # from here on, any failure (Ctrl-C and SIGTERM too) removes the temporary file
            try:
                if self.is_pipe:
                    self.container = av.open("pipe:1", mode="w", format=PIPE_FORMATS[self.pipe_format][0])
                else:
                    fmt = av.format.ContainerFormat(_muxer_for(self.path), "w").name
                    self.container = av.open(str(self.tmp), mode="w", format=fmt)
            except (av.error.FFmpegError, ValueError) as e:
                raise UsageError(f"{self.path}: unknown output container {suffix!r} ({e})") from None
            self._setup(codec, width, height, rate, time_base, source, options, copy_audio_from, audio_encode, metadata)
        except BaseException:
            self.abort()
            raise

    def _setup(self, codec, width, height, rate, time_base, source, options, copy_audio_from, audio_encode, metadata):
        self.warnings: list[str] = []  # what could not be carried
        self.container.metadata.update(source.tags)
        if metadata:
            self.container.metadata.update(metadata)
        self.stream = self._add_video_stream(codec, width, height, rate, time_base, source, options)
        self._carry_streams(copy_audio_from)
        self.audio_out = None
        if audio_encode is not None:
            self.audio_out = audio_encode(self.container)
        try:
            self.container.start_encoding()
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: cannot start writing: {_ffmpeg_reason(e)}") from None

    def _add_video_stream(self, codec, width, height, rate, time_base, source: VideoInfo, options: EncodeOptions):
        """The output's video stream: size, pixel format, clock, encoder options, and the
        source's colour description, aspect, rotation and tags."""
        if codec == "libx265" and width < X265_MIN_WIDTH:
            raise UsageError(f"libx265 cannot encode video {width} px wide here (under {X265_MIN_WIDTH} px it corrupts "
                             "memory); use libx264 or ffv1")
        stream = self.container.add_stream(codec, rate=rate)
        cc = stream.codec_context
        cc.width, cc.height = width, height
        self.pix_fmt = _choose_pix_fmt(codec, options.pix_fmt, source.pix_fmt, width, height)
        if self.pipe_format == "y4m" and self.pix_fmt not in Y4M_PIX_FMTS:
            self.pix_fmt = "yuv420p" if self.pix_fmt.startswith("yuvj420") else "yuv444p"  # what YUV4MPEG can say
        cc.pix_fmt = self.pix_fmt
        # YUV4MPEG has no timestamps: its header's frame rate is the stream's time base
        # (1/25600 said "25600 fps"), and frames simply follow one another at that rate.
        self.frame_clock = self.container.format.name == "yuv4mpegpipe"
        if self.frame_clock:
            time_base = 1 / Fraction(rate)
        self.frames_written = 0
        cc.time_base = time_base
        stream.time_base = time_base
        cc.framerate = rate
        cc.thread_type = "AUTO"
        cc.thread_count = options.threads
        cc.options = self._encoder_options(codec, options, source)
        c = source.color
        if c.colorspace != SPC_UNSPECIFIED or not is_rgb_format(self.pix_fmt):
            cc.colorspace = ColorConverter(self.pix_fmt, c, height).matrix if c.colorspace == SPC_UNSPECIFIED else c.colorspace
            cc.color_range = c.range_for(self.pix_fmt)
        cc.color_primaries = c.primaries
        cc.color_trc = c.trc
        if source.sample_aspect_ratio:
            cc.sample_aspect_ratio = source.sample_aspect_ratio
        if source.rotation:
            stream.set_display_rotation(source.rotation)
        stream.metadata.update(source.video_tags)
        return stream

    def _encoder_options(self, codec: str, options: EncodeOptions, source: VideoInfo) -> dict[str, str]:
        """CRF, preset, HDR10 metadata and FFV1's settings, as the encoder takes them."""
        opts: dict[str, str] = {}
        if codec in DEFAULT_CRF:
            opts["crf"] = str(options.crf if options.crf is not None else DEFAULT_CRF[codec])
        elif options.crf is not None and codec != "ffv1":
            opts["crf"] = str(options.crf)
        preset = options.preset or DEFAULT_PRESET.get(codec)
        if preset:
            opts["preset"] = preset
        if codec == "libx265":
            opts["x265-params"] = "log-level=error" + (":" + x265_hdr_params(source.hdr) if source.hdr else "")
        elif codec == "libsvtav1" and source.hdr:
            opts["svtav1-params"] = svtav1_hdr_params(source.hdr)
        elif source.hdr:
            self.warnings.append(f"HDR10 mastering-display/content-light metadata not carried: {codec} does not take it "
                                 "(use --codec libx265 or libsvtav1)")
        if codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner otherwise
        if codec == "ffv1":
            opts.update({"level": "3", "slicecrc": "1"})
        return opts

    def _carry_streams(self, streams) -> None:
        """Audio, subtitle, data and attachment streams: copied where the container holds
        them, converted where it cannot (audio re-encoded, text subtitles to its text
        format), else said in a warning (audio it cannot take at all is an error)."""
        self.audio_map = {}
        self.audio_encoders: dict[int, AudioEncoder] = {}  # input stream index -> re-encoder, for audio the container cannot hold
        self.subtitle_converters: dict[int, tuple] = {}  # input stream index -> (decoder, mov_text or WebVTT stream)
        for a in streams:
            if a.type == "audio" and not self._can_hold(a):
                self._reencode_audio(a)
                continue
            try:
                self.audio_map[a.index] = out = self.container.add_stream_from_template(a)
                out.metadata.update(carried_tags(a.metadata))
            except (av.error.FFmpegError, ValueError) as e:
                if self._convert_text_subtitles(a):
                    continue
                if a.type != "audio":  # subtitles, data, attachments: said, not fatal
                    self.warnings.append(f"{a.type} stream {a.index} ({a.codec_context.name if a.codec_context else '?'}) "
                                         f"not carried: {self.path.suffix or 'this format'} cannot hold it (.mkv can)")
                    continue
                raise UsageError(
                    f"{self.path}: cannot copy audio ({a.codec_context.name}) into {self.path.suffix}: {e}; "
                    "use .mkv or --audio none"
                ) from None

    def write(self, frame: av.VideoFrame, pts: int) -> None:
        frame.pts = self.frames_written if self.frame_clock else pts
        self.frames_written += 1
        frame.time_base = self.stream.codec_context.time_base
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: encoding failed: {_ffmpeg_reason(e)}") from None
        except OSError as e:
            raise OutputError(f"{self.path}: write failed: {e.strerror or e}") from None

    def _can_hold(self, a) -> bool:
        """Whether the output container takes this stream's codec as it is."""
        if a.codec_context is None:
            return True  # nothing to re-encode it from: copying is the only try
        return a.codec_context.codec.canonical_name in self.container.supported_codecs  # 'mp3', not its decoder 'mp3float'

    def _reencode_audio(self, a) -> None:
        """Audio whose codec the container cannot hold (AAC in WebM) is re-encoded
        (Opus in WebM, AAC elsewhere), as ffmpeg does by default, and said."""
        enc = AudioEncoder(a).add_output(self.container)
        enc.out.metadata.update(carried_tags(a.metadata))
        self.audio_encoders[a.index] = enc
        name = a.codec_context.codec.canonical_name  # 'mp3', not its decoder 'mp3float'
        self.warnings.append(f"audio stream {a.index} ({name}) re-encoded as {enc.out.codec_context.name}: "
                             f"{self.path.suffix or 'this format'} cannot hold {name}")

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
        """A packet of a copied stream (audio, subtitles, data)."""
        if packet.stream.index in self.subtitle_converters:
            self._mux_converted_subtitle(packet)
            return
        encoder = self.audio_encoders.get(packet.stream.index)
        if encoder is not None:
            self.container.mux(encoder.feed(packet))
            return
        out = self.audio_map.get(packet.stream.index)
        if out is None:
            return
        packet.stream = out
        self.container.mux(packet)

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

    def mux(self, packets) -> None:
        self.container.mux(packets)

    def finish(self) -> Path | None:
        """Flushes the encoder and finishes the temporary file (``self.tmp``), which the
        caller puts in place with the job's other outputs (:func:`vfi.outputs.commit`);
        None for a pipe, which has no temporary file."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            for encoder in self.audio_encoders.values():
                self.container.mux(encoder.flush())
            self.container.close()
        except (av.error.FFmpegError, OSError) as e:
            self.abort()
            raise OutputError(f"{self.path}: could not finish the file: {e}") from None
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


def _muxer_for(path: Path) -> str:
    ext = path.suffix.lower()
    return {
        ".mp4": "mp4",
        ".m4v": "mp4",
        ".mov": "mov",
        ".mkv": "matroska",
        ".webm": "webm",
        ".avi": "avi",
        ".nut": "nut",
        ".ts": "mpegts",
    }.get(ext, ext.lstrip(".") or "mp4")


# The x265 in PyAV's wheels corrupts the heap on frames 33-63 px wide (glibc aborts the
# process, at once or later): measured over widths and heights 16-128, only those widths.
X265_MIN_WIDTH = 64
EVEN_SIZE_ENCODERS = ("libx264", "libx265")  # their chroma-subsampled formats need even sizes (SVT-AV1 pads)


def _choose_pix_fmt(codec: str, wanted: str | None, source_fmt: str, width: int, height: int) -> str:
    supported = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    if wanted:
        if supported and wanted not in supported:
            raise UsageError(f"--pix-fmt {wanted} is not supported by {codec} (try one of: {', '.join(supported[:8])})")
        if (width % 2 or height % 2) and codec in EVEN_SIZE_ENCODERS and _chroma_subsampled(wanted):
            raise UsageError(f"--pix-fmt {wanted}: {codec} needs an even width and height for it, and the video is "
                             f"{width}x{height} (leave --pix-fmt out to get 4:4:4)")
        return wanted
    # Keep the source's format when the encoder takes it: source frames then pass bit for bit.
    candidate = source_fmt.replace("yuvj", "yuv")
    if source_fmt in supported:
        candidate = source_fmt
    if supported and candidate not in supported:
        rgb_source = is_rgb_format(source_fmt)
        rgb_out = [f for f in ("gbrp", "bgr0", "bgra") if f in supported]
        if codec == "ffv1" and rgb_source and rgb_out:
            candidate = rgb_out[0]  # lossless output of an RGB source (cinepak, PNG, QuickTime RLE) stays RGB
        else:
            candidate = "yuv420p" if "yuv420p" in supported else supported[0]
    if (width % 2 or height % 2) and codec in EVEN_SIZE_ENCODERS and _chroma_subsampled(candidate):
        # 4:2:0 and 4:2:2 need even sizes in these encoders; 4:4:4 of the same depth keeps
        # every pixel of an odd size.
        bits = av.VideoFormat(candidate, 2, 2).components[0].bits
        full = "yuv444p" if bits == 8 else f"yuv444p{bits}le"
        candidate = full if full in supported else "yuv444p" if "yuv444p" in supported else candidate
    return candidate


def _chroma_subsampled(pix_fmt: str) -> bool:
    """Whether the format stores chroma at less than full resolution (4:2:0, 4:2:2, NV12...)."""
    luma, *chroma = av.VideoFormat(pix_fmt, 5, 5).components
    return any(c.width != luma.width or c.height != luma.height for c in chroma)
