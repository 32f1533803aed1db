"""Writing video (vfi.io.writing): what the output cannot carry is said, in one
warning line and in the sidecar."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import pytest
import torch

from conftest import make_video, make_with_cover_art, moving_frames
from vfi.engine import Job, run
from vfi.io.encoding import EncodeOptions


@pytest.fixture
def anamorphic(tmp_path):
    return make_video(tmp_path / "dvd.mp4", moving_frames(4, 48, 64), Fraction(24), sar=Fraction(4, 3))


@pytest.mark.parametrize("output, codec", [("out.mkv", "ffv1"), ("out.nut", "ffv1"), ("out.webm", None)])
def test_a_sample_aspect_ratio_the_output_cannot_carry_is_said(anamorphic, tmp_path, output, codec):
    out = tmp_path / output
    result = run(Job(input=str(anamorphic), output=str(out), factor=Fraction(2), method="blend", encode=EncodeOptions(codec=codec)))
    said = [w for w in result.warnings if "sample aspect ratio 4:3 not kept" in w]
    assert len(said) == 1, result.warnings
    assert said[0] in json.loads((tmp_path / f"{output}.vfi.json").read_text())["warnings"]
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio in (None, 1)  # the warning is true


@pytest.mark.parametrize("output, codec", [("out.mkv", "libx264"), ("out.mp4", None), ("out.mp4", "libsvtav1")])
def test_a_sample_aspect_ratio_is_kept_where_the_output_can(anamorphic, tmp_path, output, codec):
    out = tmp_path / output
    result = run(Job(input=str(anamorphic), output=str(out), factor=Fraction(2), method="blend", encode=EncodeOptions(codec=codec)))
    assert not [w for w in result.warnings if "aspect" in w]
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)


def cover_art(path):
    with av.open(str(path)) as c:
        return [s for s in c.streams.video if s.disposition & av.stream.Disposition.attached_pic or s.codec_context.name == "mjpeg"]


@pytest.mark.parametrize("output", ["out.mp4", "out.mkv"])
def test_cover_art_is_kept_where_the_output_can_hold_it(tmp_path, output):
    src = make_with_cover_art(tmp_path / "in.mp4")
    result = run(Job(input=str(src), output=str(tmp_path / output), factor=Fraction(2), method="blend"))
    assert not [w for w in result.warnings if "cover" in w]
    assert len(cover_art(tmp_path / output)) == 1
    with av.open(str(tmp_path / output)) as c:  # the video is the video, not the picture
        assert (c.streams.video[0].codec_context.name, c.streams.video[0].frames or 24) == ("h264", 24)


@pytest.mark.parametrize("output", ["out.mov", "out.ts", "out/"])
def test_cover_art_the_output_cannot_hold_is_said(tmp_path, output):
    src = make_with_cover_art(tmp_path / "in.mp4")
    result = run(Job(input=str(src), output=f"{tmp_path}/{output}", factor=Fraction(2), method="blend"))
    said = [w for w in result.warnings if "cover art" in w and "not carried" in w]
    assert len(said) == 1, result.warnings
    if not output.endswith("/"):
        assert cover_art(tmp_path / output) == []
        assert said[0] in json.loads((tmp_path / f"{output}.vfi.json").read_text())["warnings"]


def test_an_attachment_webm_cannot_hold_is_said(tmp_path):
    src = tmp_path / "anime.mkv"
    out = av.open(str(src), "w")
    vs = out.add_stream("libx264", rate=24)
    vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
    out.add_attachment("font.ttf", "application/x-truetype-font", b"\x00\x01\x00\x00" * 64)
    for i, img in enumerate(moving_frames(6, 48, 64)):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        f.pts, f.time_base = i, Fraction(1, 24)
        out.mux(vs.encode(f))
    out.mux(vs.encode(None))
    out.close()
    result = run(Job(input=str(src), output=str(tmp_path / "o.webm"), factor=Fraction(2), method="blend"))
    said = [w for w in result.warnings if "attachment" in w and "font.ttf" in w and ".webm cannot hold" in w]
    assert len(said) == 1, result.warnings
    assert said[0] in json.loads((tmp_path / "o.webm.vfi.json").read_text())["warnings"]
    run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=Fraction(2), method="blend"))
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert [s.type for s in c.streams] == ["video", "attachment"]


@pytest.mark.parametrize("width, height, sliced", [(2576, 1456, True), (320, 180, False)])
def test_x264_splits_frames_above_1440p_into_slices_not_frames_in_flight(tmp_path, width, height, sliced):
    # x264 writes its settings into the stream: frame threads hold 4K frames each
    clip = make_video(tmp_path / "in.mkv", moving_frames(3, height, width), Fraction(24), codec="ffv1")
    out = tmp_path / "out.mp4"
    run(Job(input=str(clip), output=str(out), factor=Fraction(2), method="dup"))
    with av.open(str(out)) as c:
        first = bytes(next(c.demux(video=0)))
    assert (b"sliced_threads=1" in first) == sliced
    assert b"sliced_threads=" in first


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("device, one_thread", [("cpu", True), pytest.param("cuda", False, marks=CUDA)])
def test_x264_takes_one_thread_beside_a_model_on_the_cpu_and_its_own_pool_beside_a_gpu(tmp_path, device, one_thread):
    # on the CPU the model keeps every core busy; with a GPU a one-thread encoder would cap the job
    clip = make_video(tmp_path / "in.mkv", moving_frames(4, 64, 96), Fraction(24), codec="ffv1")
    out = tmp_path / "out.mp4"
    run(Job(input=str(clip), output=str(out), factor=Fraction(2), method="flow-fusion", device=device))
    with av.open(str(out)) as c:
        first = bytes(next(c.demux(video=0)))
    assert b" threads=" in first
    assert (b" threads=1 " in first) == one_thread
