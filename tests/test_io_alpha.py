"""Transparency (vfi.io.alpha): RGBA PNG sequences of 8 and 16 bits, FFV1 YUVA and
ProRes 4444 keep their alpha (and their depth) into FFV1, PNG, TIFF and ProRes, made
frames get the cross-fade of their neighbours' alpha, each source frame's alpha is read
once, and an output that cannot carry it says so."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

import vfi.io.frames
from conftest import make_alpha_video, moving_frames, read_frames
from vfi.engine import Job, run
from vfi.io.alpha import alpha_plane
from vfi.io.colour import bits_per_sample
from vfi.io.encoding import EncodeOptions


@pytest.fixture
def rgba_sequence(tmp_path):
    """Four RGBA PNGs, the alpha a ramp that grows from frame to frame."""
    folder = tmp_path / "rgba"
    folder.mkdir()
    for i, rgb in enumerate(moving_frames(4, 32, 48)):
        alpha = np.full((32, 48, 1), 40 + 60 * i, np.uint8)
        alpha[:, :8] = 0  # a transparent edge
        Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / f"{i + 1:03d}.png")
    return folder


def alphas(frames):
    return [f[..., 3] for _, f in frames]


def expected_alpha(made_index: int) -> np.ndarray:
    """Output frame k at factor 2: source k/2, or halfway between two sources."""
    lo, hi = made_index // 2, min(made_index // 2 + 1, 3)
    value = 40 + 60 * lo if made_index % 2 == 0 or lo == 3 else 40 + 60 * (lo + hi) / 2
    alpha = np.full((32, 48), round(value), np.uint8)
    alpha[:, :8] = 0
    return alpha


def test_rgba_pngs_keep_their_alpha_into_ffv1(rgba_sequence, tmp_path):
    out = tmp_path / "out.mkv"
    res = run(Job(input=f"{rgba_sequence}/", output=str(out), factor=Fraction(2), method="blend", encode=EncodeOptions(codec="ffv1")))
    assert not [w for w in res.warnings if "alpha" in w]
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "bgra"
    got = alphas(read_frames(out, "rgba"))
    assert len(got) == 8
    for k in range(7):  # the last frame is a hold of the last source
        assert np.abs(got[k].astype(int) - expected_alpha(k)).max() <= 1, k


def test_rgba_pngs_keep_their_alpha_into_png(rgba_sequence, tmp_path):
    run(Job(input=f"{rgba_sequence}/", output=f"{tmp_path}/out/", factor=Fraction(2), method="blend"))
    with av.open(str(tmp_path / "out" / "000002.png")) as c:
        frame = next(c.decode(video=0))
    assert frame.format.name == "rgba"
    assert np.abs(frame.to_ndarray()[..., 3].astype(int) - expected_alpha(1)).max() <= 1
    with av.open(str(tmp_path / "out" / "000001.png")) as c:
        src = next(c.decode(video=0)).to_ndarray()
    with av.open(str(rgba_sequence / "001.png")) as c:
        assert np.array_equal(src, next(c.decode(video=0)).to_ndarray())  # source frames bit for bit


def test_an_output_that_cannot_carry_alpha_says_so(rgba_sequence, tmp_path):
    res = run(Job(input=f"{rgba_sequence}/", output=str(tmp_path / "out.mp4"), factor=Fraction(2), method="blend"))
    said = [w for w in res.warnings if "transparency (alpha) not kept" in w]
    assert len(said) == 1, res.warnings
    assert said[0] in json.loads((tmp_path / "out.mp4.vfi.json").read_text())["warnings"]
    res = run(Job(input=f"{rgba_sequence}/", output=f"{tmp_path}/jpg/%04d.jpg", factor=Fraction(2), method="blend"))
    assert len([w for w in res.warnings if "transparency (alpha) not kept" in w]) == 1


ALPHA_SOURCES = {  # file name, encoder, pixel format
    "rgba64be png": ("png16/%03d.png", "png", "rgba64be"),
    "yuva444p16le ffv1": ("y16.mkv", "ffv1", "yuva444p16le"),
    "yuva420p ffv1": ("y8.mkv", "ffv1", "yuva420p"),
    "prores 4444": ("pr.mov", "prores_ks", "yuva444p10le"),
}
ALPHA_OUTPUTS = {"ffv1": ("o.mkv", "ffv1"), "png": ("png/", None), "tiff": ("tif/%04d.tif", None), "prores": ("o.mov", "prores_ks")}


@pytest.fixture(scope="module")
def alpha_sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("alpha")
    (d / "png16").mkdir()
    made = {k: make_alpha_video(d / name, codec, fmt) for k, (name, codec, fmt) in ALPHA_SOURCES.items()}
    return {k: f"{p.parent}/" if "%" in p.name else str(p) for k, p in made.items()}


def decoded(path: str) -> list:
    """Every frame of a video, or of a folder's images in order."""
    from pathlib import Path

    p = Path(path.split("%")[0])
    files = sorted(f for f in p.iterdir() if f.suffix in (".png", ".tif")) if p.is_dir() else [p]
    frames = []
    for f in files:
        with av.open(str(f)) as c:
            frames += list(c.decode(video=0))
    return frames


def opacity(frame) -> np.ndarray:
    """Alpha on 0..1, from the samples as stored (swscale widens 8-bit alpha unevenly)."""
    plane, top = alpha_plane(frame)
    return plane / top


@pytest.mark.parametrize("output", list(ALPHA_OUTPUTS))
@pytest.mark.parametrize("source", list(ALPHA_SOURCES))
def test_alpha_and_its_depth_are_kept(alpha_sources, tmp_path, source, output):
    name, codec = ALPHA_OUTPUTS[output]
    out = str(tmp_path / name) + ("/" if name.endswith("/") else "")
    res = run(Job(input=alpha_sources[source], output=out, factor=Fraction(2), method="blend", encode=EncodeOptions(codec=codec)))
    assert not [w for w in res.warnings if "alpha" in w], res.warnings
    src, got = decoded(alpha_sources[source]), decoded(out)
    assert len(got) == 8 and all(len(f.format.components) == 4 for f in got), [f.format.name for f in got]
    if bits_per_sample(src[0].format.name) > 8:
        assert bits_per_sample(got[0].format.name) > 8, got[0].format.name  # 16 bits stay more than 8
    steps = {8: 255, 16: 65535}.get(bits_per_sample(got[0].format.name), 1023)  # ProRes: 10 bits, decoded as 12
    for k in range(7):  # source frames and the frames halfway, the last a hold
        want = opacity(src[k // 2]) if k % 2 == 0 else (opacity(src[k // 2]) + opacity(src[k // 2 + 1])) / 2
        assert np.abs(opacity(got[k]) - want).max() <= 1.01 / steps, (k, np.abs(opacity(got[k]) - want).max() * steps)
    if got[0].format.name == src[0].format.name and output != "prores":  # the source's own, lossless: source frames bit for bit
        assert all(bytes(a) == bytes(b) for a, b in zip(got[0].planes, src[0].planes))


def test_each_source_frames_alpha_is_read_once(alpha_sources, tmp_path, monkeypatch):
    read = []

    def counted(frame):
        read.append(frame.pts)
        return alpha_plane(frame)

    monkeypatch.setattr(vfi.io.frames, "alpha_plane", counted)
    out = tmp_path / "o.mkv"
    run(Job(input=alpha_sources["rgba64be png"], output=str(out), factor=Fraction(4), method="blend", encode=EncodeOptions(codec="ffv1")))
    assert len(decoded(str(out))) == 16 and len(read) == 4, read  # 16 frames (12 made) from 4 sources


def test_frames_ffmpeg_makes_get_the_cross_faded_alpha(rgba_sequence, tmp_path):
    """mci's frames come from FFmpeg's minterpolate, without alpha: they were written
    opaque between transparent source frames."""
    out = tmp_path / "out.mkv"
    run(Job(input=f"{rgba_sequence}/", output=str(out), factor=Fraction(2), method="mci", encode=EncodeOptions(codec="ffv1")))
    got = alphas(read_frames(out, "rgba"))
    for k in range(7):
        assert np.abs(got[k].astype(int) - expected_alpha(k)).max() <= 1, k


def test_an_encoder_that_keeps_alpha_in_side_data_is_not_given_alpha():
    # libvpx puts the alpha in each packet's side data, which chunk files do not keep
    from vfi.io.alpha import alpha_format

    assert alpha_format("libvpx-vp9", "rgba") is None and alpha_format("libvpx-vp9", "yuva420p") is None
    assert alpha_format("ffv1", "rgba") is not None
