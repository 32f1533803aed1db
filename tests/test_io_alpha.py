"""Transparency (vfi.io.alpha): an RGBA PNG sequence keeps its alpha into FFV1 and PNG,
made frames get the cross-fade of their neighbours' alpha, and an output that cannot
carry it says so."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from conftest import moving_frames, read_frames
from vfi.engine import Job, run
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
