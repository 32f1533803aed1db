"""Colour conversion between the source's pixel format and RGB: the source's colour
matrix and range, the same way for every frame, so that frames made in RGB do not
flicker against the source frames around them (:class:`ColorConverter`)."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

# FFmpeg's enum values (AVColorSpace, AVColorRange, ...); PyAV passes them through as ints.
SPC_RGB, SPC_BT709, SPC_UNSPECIFIED, SPC_BT470BG, SPC_SMPTE170M = 0, 1, 2, 5, 6
RANGE_UNSPECIFIED, RANGE_MPEG, RANGE_JPEG = 0, 1, 2
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


def plane_samples(plane, dtype: np.dtype, per_pixel: int = 1) -> np.ndarray:
    """A plane's samples (``per_pixel`` interleaved per pixel), line padding dropped."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width * per_pixel * dtype.itemsize].view(dtype)


def write_plane(plane, samples: np.ndarray) -> None:
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
    luma = plane_samples(frame.planes[0], dtype)
    if semi:
        uv = plane_samples(frame.planes[1], dtype, 2)
        chroma = [uv[:, 0::2], uv[:, 1::2]]
        if name == "nv21":
            chroma.reverse()
    else:
        chroma = [plane_samples(frame.planes[1], dtype), plane_samples(frame.planes[2], dtype)]
    out = av.VideoFrame(w, h, full)
    for plane, values in zip(out.planes, [luma] + [c.repeat(fy, 0).repeat(fx, 1)[:h, :w] for c in chroma]):
        write_plane(plane, values)
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


def without_alpha(pix_fmt: str) -> str | None:
    """The same planes without the alpha plane (yuva420p -> yuv420p, gbrap16le ->
    gbrp16le), for a planar format with alpha; None otherwise."""
    if not pix_fmt.startswith(("yuva", "gbrap")):
        return None
    name = pix_fmt.replace("yuva", "yuv", 1) if pix_fmt.startswith("yuva") else pix_fmt.replace("gbrap", "gbrp", 1)
    try:
        av.VideoFormat(name)
    except (ValueError, TypeError):
        return None
    return name


def colour_planes(pix_fmt: str) -> str:
    """The format of a planar format's colour planes, its alpha plane left out
    (yuva444p12le -> yuv444p12le); other formats as they are."""
    return without_alpha(pix_fmt) or pix_fmt


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
        write_plane(plane, np.clip(np.rint(values), 0, top).astype(dtype))
    return out


def rgb_from_deep_yuv(frame: av.VideoFrame, matrix: int, color_range: int, precise: bool = False) -> np.ndarray | None:
    """8-bit RGB (or ``precise``: float32 on 0..255) from planar YUV of more than 8 bits
    by the matrix's own formula, the inverse of yuv_from_rgb; None where that does not apply.  swscale scales full-range
    deep samples by a shift (1020, not 1023, is its white at 10 bits), so frames it read
    and frames written by the formula differed by up to 0.75 levels."""
    layout = planar_yuv_layout(colour_planes(frame.format.name))
    if layout is None or layout[2].itemsize == 1 or matrix not in LUMA_WEIGHTS:
        return None
    sx, sy, dtype = layout
    h, w = frame.height, frame.width

    def plane(k):
        values = plane_samples(frame.planes[k], dtype).astype(np.float32)
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
        g, b, r = (plane_samples(frame.planes[k], dtype) for k in range(3))
        wide = np.stack([r, g, b], axis=-1)
    elif kind == "gray":
        wide = plane_samples(frame.planes[0], dtype)[..., None].repeat(3, axis=-1)
    else:
        order = PACKED_DEEP_RGB[frame.format.name[:-2]]
        pixels = plane_samples(frame.planes[0], dtype, len(order)).reshape(frame.height, frame.width, len(order))
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
        write_plane(frame.planes[0], pixels.reshape(h, w * len(order)))
        return frame
    for plane, channel in zip(frame.planes, (1, 2, 0, None)):  # planes G, B, R, then alpha: opaque
        write_plane(plane, opaque if channel is None else wide[..., channel])
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
        return not self.is_rgb and planar_yuv_layout(colour_planes(self.pix_fmt)) is not None and self.matrix in LUMA_WEIGHTS

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
