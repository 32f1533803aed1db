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
