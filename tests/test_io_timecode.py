"""Timecode (vfi.io.timecode): labels read and written as FFmpeg's libavutil does,
drop-frame included, and a job's output timecode names its first frame: moved by
``--start``, counted at the output's rate, or said where the output cannot hold it."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from conftest import make_video, moving_frames, vfi
from vfi.io.timecode import Timecode, parse_timecode, retimed

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize("label, frame", [("00:00:59;29", 1799), ("00:01:00;02", 1800), ("00:10:00;00", 17982),
                                          ("01:00:00;00", 107892), ("23:59:59;29", 2589407)])
def test_drop_frame_labels_count_as_libavutil_counts(label, frame):
    tc = parse_timecode(label, NTSC)
    assert (tc.frame, tc.drop, str(tc)) == (frame, True, label)


def test_every_drop_frame_count_has_its_own_label():
    for fps, rate in ((30, NTSC), (60, 2 * NTSC)):
        for n in range(0, fps * 60 * 21, 3):  # 21 minutes: the tenth minute's kept labels too
            assert parse_timecode(str(Timecode(n, fps, True)), rate).frame == n


@pytest.mark.parametrize("args, want", [
    (("01:00:00:00", 24, 24, Fraction(1, 2)), "01:00:00:12"),  # --start 0.5
    (("01:00:00:12", 24, 48, None), "01:00:00:24"),  # the same instant at twice the rate
    (("01:00:00:00", 24, 120, Fraction(1)), "01:00:01:000"),  # three digits above 100 fps, as FFmpeg writes
    (("00:00:59;28", NTSC, NTSC, Fraction(1, 10)), "00:01:00;03"),  # ;00 and ;01 skipped
    (("01:00:00;00", NTSC, 2 * NTSC, None), "01:00:00;00"),
    (("01:00:00;00", NTSC, 48, None), "01:00:00:00"),  # no drop-frame at 48 fps
    (("23:59:59:23", 24, 24, Fraction(1)), "00:00:00:23"),  # past midnight
    (("23:59:59;29", NTSC, 60, Fraction(1)), "00:00:00:53"),  # past midnight: the output's day, not drop-frame's
    (("01:00:00:30", 24, 24, None), None), (("not a timecode", 24, 24, None), None),
])
def test_retimed(args, want):
    text, src, out, start = args
    assert retimed(text, Fraction(src), Fraction(out), start) == want


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A MOV with a timecode track at 24 fps, and an MKV with a drop-frame ``timecode``
    tag at 29.97 (``ffmpeg -timecode``), both 2 s."""
    from test_io_streams import with_extras

    d = tmp_path_factory.mktemp("tc")
    clip24 = make_video(d / "c24.mp4", moving_frames(48, 64, 96), Fraction(24))
    clip30 = make_video(d / "c30.mp4", moving_frames(60, 64, 96), NTSC)
    return {"mov": with_extras(clip24, d / "tc.mov", timecode="01:00:00:00"),
            "mkv": with_extras(clip30, d / "tc.mkv", timecode="00:00:59;28")}


def timecode_of(path) -> str | None:
    with av.open(str(path)) as c:
        tags = {k.lower(): v for s in [c, *c.streams] for k, v in s.metadata.items()}
    return tags.get("timecode")


@pytest.mark.parametrize("ext", ["mov", "mp4", "mkv", "nut"])
def test_start_moves_the_timecode_to_the_first_frame(sources, tmp_path, ext):
    out = tmp_path / f"o.{ext}"
    res = vfi("slowmo", sources["mov"], "-o", out, "--factor", "2", "--method", "blend", "--start", "0.5", "-t", "0.25")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert timecode_of(out) == "01:00:00:12"  # slow motion keeps 24 fps: half a second is 12 frames
    out = tmp_path / f"dropframe.{ext}"
    res = vfi("slowmo", sources["mkv"], "-o", out, "--factor", "2", "--method", "blend", "--start", "0.1", "-t", "0.1")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert timecode_of(out) == "00:01:00;03"


def test_upsampling_counts_the_timecode_at_the_output_rate(sources, tmp_path):
    out = tmp_path / "o.mov"
    res = vfi("upsample", sources["mov"], "-o", out, "--factor", "2", "--method", "blend", "--start", "0.5", "-t", "0.25")
    assert res.exit_code == 0, res.output
    assert timecode_of(out) == "01:00:00:24"  # 0.5 s at 48 fps
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "data"]  # one timecode track, the muxer's own


def test_a_timecode_the_output_cannot_hold_is_said(sources, tmp_path):
    out = tmp_path / "fast.mov"  # a MOV timecode counts at most 255 frames a second: the muxer failed on closing
    res = vfi("upsample", sources["mov"], "-o", out, "--fps", "300", "--method", "blend", "-t", "0.1")
    assert res.exit_code == 0 and out.exists(), res.output
    said = [line for line in res.output.splitlines() if line.startswith("warning") and "timecode" in line]
    assert len(said) == 1 and "01:00:00:000 not carried" in said[0] and "(.mkv can)" in said[0], res.output
    res = vfi("upsample", sources["mov"], "-o", tmp_path / "img" / "%03d.png", "--factor", "2", "--method", "blend", "-t", "0.1")
    assert res.exit_code == 0 and "timecode 01:00:00:00 of the input is not carried: images have none" in res.output, res.output
    assert "data stream" not in res.output, res.output  # the timecode track is said once, as a timecode


def test_the_video_streams_timecode_wins_and_no_other_is_left(sources, tmp_path):
    """A file with a timecode of its own besides the video stream's: the video's is the
    one moved, and the file's is not left to a MOV muxer, which takes it first."""
    src = tmp_path / "both.mkv"
    with av.open(str(sources["mov"])) as i, av.open(str(src), "w") as o:
        v = o.add_stream_from_template(i.streams.video[0])
        v.metadata["timecode"] = "01:00:00:00"
        o.metadata["timecode"] = "02:00:00:00"
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = v
                o.mux(p)
    out = tmp_path / "o.mov"
    res = vfi("slowmo", src, "-o", out, "--factor", "2", "--method", "blend", "--start", "0.5", "-t", "0.25")
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        assert {s.metadata.get("timecode") for s in c.streams} == {"01:00:00:12"}
        assert "timecode" not in c.metadata


def test_a_timecode_that_cannot_be_read_is_kept_as_it_was_and_said(tmp_path):
    from test_io_streams import with_extras

    clip = make_video(tmp_path / "c24.mp4", moving_frames(24, 64, 96), Fraction(24))
    odd = with_extras(clip, tmp_path / "odd.mkv", timecode="01:00:00:30")  # frame 30 at 24 fps
    res = vfi("upsample", odd, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "blend", "-ss", "0.5")
    assert res.exit_code == 0, res.output
    said = [line for line in res.output.splitlines() if "timecode 01:00:00:30 kept as it was" in line]
    assert len(said) == 1 and timecode_of(tmp_path / "o.mkv") == "01:00:00:30", res.output
