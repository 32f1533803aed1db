"""FFmpeg filters on frames (vfi.io.filters): a rotated source comes out upright where
the output cannot say how to turn it (images, NUT, Y4M, AVI, TS), as ffmpeg writes it,
and keeps its display matrix where it can (MP4, MOV, Matroska)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_video, moving_frames, read_frames
from vfi.engine import Job, run
from vfi.io.filters import FrameFilter, upright_chain


def test_each_quarter_turn_is_ffmpegs_filter():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    for rotation in (0, 90, 180, -90, 270, -180):
        chain = upright_chain(rotation)
        if chain is None:
            assert rotation % 360 == 0
            continue
        out = FrameFilter(chain).push(av.VideoFrame.from_ndarray(img, format="rgb24"))[0]
        assert np.array_equal(out.to_ndarray(), np.rot90(img, k=rotation // 90)), rotation


@pytest.fixture
def phone_clip(tmp_path):
    """A clip stored sideways and tagged to be shown turned (what phones write, 'rotate=90')."""
    return make_video(tmp_path / "phone.mp4", moving_frames(4, 48, 64), Fraction(24), rotation=-90, sar=Fraction(4, 3),
                      options={"crf": "0", "preset": "ultrafast"})


def upright(frames):
    return np.rot90(frames[0][1], k=-1)


@pytest.mark.parametrize("output", ["out/%04d.png", "out.nut", "out.avi", "out.ts"])
def test_a_rotated_source_is_turned_upright_where_the_output_cannot_say_so(phone_clip, tmp_path, output):
    src = read_frames(phone_clip, "rgb24")
    out = tmp_path / output
    run(Job(input=str(phone_clip), output=str(out), factor=Fraction(2), method="blend"))
    if output.endswith(".png"):
        with av.open(str(tmp_path / "out" / "0001.png")) as c:
            first = next(c.decode(video=0))
    else:
        with av.open(str(out)) as c:
            first = next(c.decode(video=0))
            assert round(first.rotation or 0) == 0
    assert (first.width, first.height) == (48, 64)
    got = first.to_ndarray(format="rgb24").astype(int)
    right, wrong = np.abs(got - upright(src)).mean(), np.abs(got - np.rot90(src[0][1], k=1)).mean()
    assert right < 6 and wrong > 4 * right, (right, wrong)  # x264 at CRF 18 loses a little


@pytest.mark.parametrize("output", ["out.mp4", "out.mkv"])
def test_a_rotated_source_keeps_its_display_matrix_where_the_output_holds_one(phone_clip, tmp_path, output):
    run(Job(input=str(phone_clip), output=str(tmp_path / output), factor=Fraction(2), method="blend"))
    with av.open(str(tmp_path / output)) as c:
        first = next(c.decode(video=0))
        assert (first.width, first.height, round(first.rotation)) == (64, 48, -90)


def interlaced_clip(path, codec="libx264", options=None):
    """A clip coded interlaced (its frames flagged so, its stream tagged with a field order)."""
    opts = options or {"x264-params": "interlaced=1:tff=1", "crf": "10", "preset": "ultrafast"}
    return make_video(path, moving_frames(12, 64, 96, speed=6), Fraction(25), codec=codec, options=opts)


def combing(img: np.ndarray) -> float:
    """How much every other line differs from the lines around it (fields apart in time)."""
    y = img.astype(float).mean(axis=2)
    return float(np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean())


@pytest.mark.parametrize("name, codec, options", [
    ("tff.mkv", "libx264", None),
    ("mpeg2.ts", "mpeg2video", {"flags": "+ildct+ilme"}),
])
def test_interlaced_sources_are_deinterlaced_by_default_and_said(tmp_path, name, codec, options):
    src = interlaced_clip(tmp_path / name, codec, options)
    out, kept = tmp_path / "out.mkv", tmp_path / "kept.mkv"
    res = run(Job(input=str(src), output=str(out), factor=Fraction(2), method="blend"))
    assert [w for w in res.warnings if "deinterlaced with bwdif" in w], res.warnings
    off = run(Job(input=str(src), output=str(kept), factor=Fraction(2), method="blend", deinterlace="off"))
    assert [w for w in off.warnings if "as if progressive" in w], off.warnings
    assert res.frames_out == off.frames_out == 24
    with av.open(str(out)) as c:
        assert not next(c.decode(video=0)).interlaced_frame
    assert (tmp_path / "out.mkv.vfi.json").exists()


def test_bwdif_removes_the_combs_of_field_pairs():
    # Two fields of a moving picture woven into each frame: combs; bwdif smooths them out.
    pictures = list(moving_frames(4, 64, 96, speed=12))
    woven = []
    for a, b in zip(pictures, pictures[1:]):
        woven.append(a.copy())
        woven[-1][1::2] = b[1::2]
    graph = FrameFilter("bwdif=mode=send_frame:parity=tff:deint=all")
    out = []
    for img in woven:
        out += graph.push(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv444p"))
    out += graph.flush()
    assert len(out) == len(woven)
    for frame, img in zip(out, woven):
        assert combing(frame.to_ndarray(format="rgb24")) < combing(img) / 4


def test_progressive_sources_are_left_alone(tmp_path):
    src = make_video(tmp_path / "p.mkv", moving_frames(6, 32, 48), Fraction(25), codec="ffv1")
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=Fraction(2), method="blend"))
    assert not [w for w in res.warnings if "interlaced" in w]
    on = run(Job(input=str(src), output=str(tmp_path / "on.mkv"), factor=Fraction(2), method="blend", deinterlace="on"))
    assert on.frames_out == res.frames_out
