"""Small real videos made with PyAV in a temp folder, helpers to read results, and the
command line run in-process."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from vfi.cli import main


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture with edges (something motion can be seen on)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, h // 8 + 2), max(2, w // 8 + 2), 3)).astype(np.float32)
    ys = np.linspace(0, small.shape[0] - 1.001, h)
    xs = np.linspace(0, small.shape[1] - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = (small[y0][:, x0] * (1 - fy) * (1 - fx) + small[y0 + 1][:, x0] * fy * (1 - fx)
           + small[y0][:, x0 + 1] * (1 - fy) * fx + small[y0 + 1][:, x0 + 1] * fy * fx)
    return img.clip(0, 255).astype(np.uint8)


def moving_frames(n: int, h: int, w: int, speed: int = 2, seed: int = 0, cut_at: int | None = None, accel: int = 0):
    """n frames of a texture panning right by ``speed`` px/frame (and, with ``accel``,
    ``accel * i * i`` px more at frame i: speeding up); a different texture from frame
    ``cut_at`` on (a scene cut)."""
    big = texture(h, w + speed * n + accel * n * n + 8, seed)
    other = texture(h, w + speed * n + accel * n * n + 8, seed + 100)[:, ::-1]
    for i in range(n):
        src = other if (cut_at is not None and i >= cut_at) else big
        x = speed * i + accel * i * i
        yield np.ascontiguousarray(src[:, x: x + w])


def make_video(path: Path, frames, rate=Fraction(24), *, codec="libx264", pix_fmt="yuv420p", times=None,
               time_base=None, audio: bool = False, audio_seconds=None, audio_rate: int = 48000, color=None, rotation=0, sar=None,
               options=None) -> Path:
    """Writes frames (RGB arrays) to ``path``. ``times``: presentation times in seconds
    (Fractions) for variable frame rate; default ``i / rate``."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    out = av.open(str(path), "w")
    vs = out.add_stream(codec, rate=rate)
    vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
    tb = time_base or (Fraction(1, 90000) if times is not None else 1 / Fraction(rate))
    vs.codec_context.time_base = tb
    vs.time_base = tb
    opts = {"crf": "10", "preset": "ultrafast"} if codec == "libx264" else {}
    opts.update(options or {})
    vs.codec_context.options = opts
    if color:
        for k, v in color.items():
            setattr(vs.codec_context, k, v)
    if sar:
        vs.codec_context.sample_aspect_ratio = sar
    if rotation:
        vs.set_display_rotation(rotation)
    astream = None
    if audio:
        astream = out.add_stream("aac", rate=audio_rate)
        astream.codec_context.layout = "stereo"
    for i, img in enumerate(frames):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        if color:
            f = f.reformat(format=pix_fmt, dst_colorspace=color.get("colorspace"), dst_color_range=color.get("color_range"))
        t = times[i] if times is not None else Fraction(i) / rate
        f.pts = round(t / tb)
        f.time_base = tb
        out.mux(vs.encode(f))
    out.mux(vs.encode(None))
    if astream is not None:
        seconds = audio_seconds or len(frames) / float(rate)
        n = int(audio_rate * seconds)
        t = np.arange(n) / audio_rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        pts = 0
        for start in range(0, n, 1024):
            chunk = np.stack([tone[start:start + 1024]] * 2)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
            af.sample_rate = audio_rate
            af.pts = pts
            af.time_base = Fraction(1, audio_rate)
            pts += chunk.shape[1]
            out.mux(astream.encode(af))
        out.mux(astream.encode(None))
    out.close()
    return path


def read_frames(path, fmt=None):
    """[(time in seconds as Fraction, ndarray)] of the first video stream."""
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            arr = f.to_ndarray(format=fmt) if fmt else f.to_ndarray()
            out.append((Fraction(f.pts) * s.time_base, arr))
    return out


def audio_packets(path):
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        s = c.streams.audio[0]
        return [(bytes(p), p.pts * s.time_base if p.pts is not None else None) for p in c.demux(s) if p.size]


@pytest.fixture
def clip(tmp_path):
    """A 24 fps, 48-frame, 96x64 panning clip with audio (x264 + AAC in MP4)."""
    return make_video(tmp_path / "clip.mp4", moving_frames(48, 64, 96), Fraction(24), audio=True)


def vfi(*args):
    """``vfi ARGS`` in this process (paths may be Path objects): Click's result."""
    return CliRunner().invoke(main, [str(a) for a in args])


def busy_flow_fusion():
    """flow-fusion's spec and an untrained model with random weights that does
    something everywhere (the untrained model only averages the warps)."""
    import torch

    from vfi.models import MODELS

    spec = MODELS["flow-fusion"]
    torch.manual_seed(3)
    model = spec.create()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return spec, model


def make_with_cover_art(path: Path, video: bool = True, fmt: str | None = None) -> Path:
    """A file with sound and cover art (a JPEG attached as a picture, as music files and
    phone videos carry), and, with ``video``, 12 frames of video."""
    out = av.open(str(path), "w", format=fmt)
    vs = None
    if video:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    aus = out.add_stream("aac", rate=48000)
    aus.codec_context.layout = "stereo"
    cover = out.add_stream("mjpeg")
    cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
    cover.disposition = av.stream.Disposition.attached_pic
    picture = av.VideoFrame.from_ndarray(texture(32, 32), format="rgb24").reformat(format="yuvj420p")
    for p in [*cover.encode(picture), *cover.encode(None)]:
        p.stream, p.pts, p.dts = cover, 0, 0
        out.mux(p)
    for i, img in enumerate(moving_frames(12, 48, 64) if video else []):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts, f.time_base = i, Fraction(1, 24)
        out.mux(vs.encode(f))
    if vs is not None:
        out.mux(vs.encode(None))
    silence = np.zeros((2, 1024), np.float32)
    for k in range(0, 24000, 1024):
        af = av.AudioFrame.from_ndarray(silence, format="fltp", layout="stereo")
        af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
        out.mux(aus.encode(af))
    out.mux(aus.encode(None))
    out.close()
    return path


def alpha_ramp(i: int, h: int, w: int, top: int = 65535) -> np.ndarray:
    """Frame ``i``'s alpha (H x W, uint16 on 0..``top``): a value that grows from frame to
    frame (over four frames, then again), a transparent left edge and an opaque top row."""
    alpha = np.full((h, w), round((0.02 + 0.3 * (i % 4)) * top), np.uint16)
    alpha[:, :8] = 0
    alpha[:2] = top
    return alpha


def make_alpha_video(path: Path, codec: str, pix_fmt: str, n: int = 4, h: int = 32, w: int = 48) -> Path:
    """A video with transparency (FFV1 YUVA, ProRes 4444, ...; an image2 pattern for
    PNG sequences) made from 16-bit RGBA: the panning texture (with a one-level step
    that only 16 bits hold) and :func:`alpha_ramp`."""
    rate = Fraction(24)
    image = str(path).endswith("%03d.png")
    with av.open(str(path), "w", format="image2" if image else None) as out:
        s = out.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        for i, rgb in enumerate(moving_frames(n, h, w)):
            rgba = np.dstack([rgb.astype(np.uint16) * 257 + i, alpha_ramp(i, h, w)])
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba64le").reformat(format=pix_fmt)
            frame.pts, frame.time_base = i, 1 / rate
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path
