"""What the encoder is told: :class:`EncodeOptions` (codec, CRF, pixel format, preset,
pipe format) checked against the output before any work, the encoder's own options
(CRF, preset, HDR10 metadata, FFV1's settings), and the pixel format chosen for it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from ..errors import UsageError
from ..pipeline import LARGE_FRAME_PIXELS
from .alpha import alpha_format
from .colour import is_rgb_format
from .formats import CONTAINER_CODECS, IMAGE_EXTENSIONS, PIPE_FORMATS, VIDEO_CONTAINERS, muxer_for

DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 30, "libvpx-vp9": 31}
X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
PRESETS = {"libx264": X26X_PRESETS, "libx265": X26X_PRESETS, "libsvtav1": tuple(str(i) for i in range(14))}
# At these CRFs the encoder is transparent whatever the preset (x264 veryfast: 45.9 and
# 47.5 dB from its input on corpus box.mp4 and bikes.mp4), while medium costs 2.5-3x the
# CPU time (box 640x480: 12.3 against 4.5 ms a frame), time taken from the model on a
# CPU.  Slower presets only make smaller files: --preset medium or slow for those.
DEFAULT_PRESET = {"libx264": "veryfast", "libx265": "veryfast"}
LARGE_FRAME_LOOKAHEAD = 5  # x264's rc-lookahead above LARGE_FRAME_PIXELS (veryfast's own: 10)


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
            av.format.ContainerFormat(muxer_for(p), "w")
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


def encoder_thread_type(codec: str, width: int, height: int) -> str:
    """How the encoder's threads split the work.  x264 above 1440p works on slices of
    one frame, not on 1.5 frames per core: each frame thread holds its own 4K frames,
    so frame threads took 270 MB more at 4K on 2 cores and 1.0 GB more with 16 threads,
    for the same speed and size (PSNR 50.96 dB both, 0.3 % larger; benchmarks/README.md)."""
    if codec == "libx264" and width * height > LARGE_FRAME_PIXELS:
        return "SLICE"
    return "AUTO"


def encoder_options(codec: str, options: EncodeOptions, source) -> tuple[dict[str, str], list[str]]:
    """CRF, preset, HDR10 metadata and FFV1's settings, as the encoder takes them; and
    warnings for what it cannot take."""
    opts: dict[str, str] = {}
    warnings: list[str] = []
    if codec in DEFAULT_CRF:
        opts["crf"] = str(options.crf if options.crf is not None else DEFAULT_CRF[codec])
    elif options.crf is not None and codec != "ffv1":
        opts["crf"] = str(options.crf)
    preset = options.preset or DEFAULT_PRESET.get(codec)
    if preset:
        opts["preset"] = preset
    if codec == "libx264" and source.width * source.height > LARGE_FRAME_PIXELS:
        # a shorter lookahead above 1440p: 0.24 dB lower PSNR at CRF 18 on 4K (51.0 dB),
        # 150 MB less memory (benchmarks/README.md)
        opts["x264-params"] = f"rc-lookahead={LARGE_FRAME_LOOKAHEAD}"
    if codec == "libx265":
        opts["x265-params"] = "log-level=error" + (":" + x265_hdr_params(source.hdr) if source.hdr else "")
    elif codec == "libsvtav1" and source.hdr:
        opts["svtav1-params"] = svtav1_hdr_params(source.hdr)
    elif source.hdr:
        warnings.append(f"HDR10 mastering-display/content-light metadata not carried: {codec} does not take it "
                    "(use --codec libx265 or libsvtav1)")
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner otherwise
    if codec == "ffv1":
        opts.update({"level": "3", "slicecrc": "1"})
    if codec == "libvpx-vp9":
        opts.update({"b": "0", "row-mt": "1", "cpu-used": "4"})  # constant quality (CRF), rows in parallel, a fast setting
    return opts, warnings


SVT_AV1_MAX_RATE = 240  # frames per second: SVT-AV1 refuses to start above it


def codec_for_rate(codec: str, rate, asked: bool) -> tuple[str, list[str]]:
    """The codec that can encode video at ``rate``, and what is said about it: WebM
    above SVT-AV1's 240 fps is VP9 (which has no such limit); an AV1 asked for
    (``asked``: --codec) above it cannot be."""
    if codec != "libsvtav1" or rate <= SVT_AV1_MAX_RATE:
        return codec, []
    if asked or "libvpx-vp9" not in av.codecs_available:
        raise UsageError(f"libsvtav1 encodes up to {SVT_AV1_MAX_RATE} fps, not {float(rate):.6g}: "
                         "use --codec libx264 (.mp4, .mkv) or leave --codec out for VP9 in .webm")
    return "libvpx-vp9", [f"{float(rate):.6g} fps is above AV1's {SVT_AV1_MAX_RATE} (SVT-AV1): encoded as VP9 (libvpx-vp9)"]


# The x265 in PyAV's wheels corrupts the heap on frames 33-63 px wide (glibc aborts the
# process, at once or later): measured over widths and heights 16-128, only those widths.
X265_MIN_WIDTH = 64
EVEN_SIZE_ENCODERS = ("libx264", "libx265")  # their chroma-subsampled formats need even sizes (SVT-AV1 pads)


def choose_pix_fmt(codec: str, wanted: str | None, source_fmt: str, width: int, height: int) -> str:
    supported = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    if wanted:
        if supported and wanted not in supported:
            raise UsageError(f"--pix-fmt {wanted} is not supported by {codec} (try one of: {', '.join(supported[:8])})")
        if (width % 2 or height % 2) and codec in EVEN_SIZE_ENCODERS and _chroma_subsampled(wanted):
            raise UsageError(f"--pix-fmt {wanted}: {codec} needs an even width and height for it, and the video is "
                             f"{width}x{height} (leave --pix-fmt out to get 4:4:4)")
        return wanted
    keep_alpha = alpha_format(codec, source_fmt)
    if keep_alpha and (not supported or keep_alpha in supported):
        return keep_alpha  # an RGBA source's transparency
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
