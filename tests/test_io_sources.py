"""Sources: video files, image folders and patterns, stdin, many inputs, trimming."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_video, make_with_cover_art, moving_frames, read_frames, vfi
from vfi.io.sources import ImageSequenceSource, image_files, open_source


def write_images(folder, frames, name="f{:d}.png", fmt="rgb24"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(img, format=fmt)
        if fmt == "rgb48le":
            frame = frame.reformat(format="rgb48be")  # what the PNG encoder takes
        cc = av.CodecContext.create("png", "w")
        cc.width, cc.height, cc.pix_fmt, cc.time_base = frame.width, frame.height, frame.format.name, Fraction(1, 25)
        (folder / name.format(i + 1)).write_bytes(b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)]))
    return folder


def test_folders_sort_naturally_and_patterns_by_number(tmp_path):
    write_images(tmp_path / "a", list(moving_frames(12, 16, 16)))
    assert [p.name for p in image_files(str(tmp_path / "a"))][:3] == ["f1.png", "f2.png", "f3.png"]
    assert [p.name for p in image_files(str(tmp_path / "a"))][-1] == "f12.png"  # 12 after 2, not after 1
    write_images(tmp_path / "b", list(moving_frames(3, 16, 16)), name="{:04d}.png")
    (tmp_path / "b" / "notes.txt").write_text("not an image")
    assert [p.name for p in image_files(str(tmp_path / "b" / "%04d.png"))] == ["0001.png", "0002.png", "0003.png"]


@pytest.mark.parametrize("as_pattern", [False, True])
def test_image_sequence_in_gives_2n_frames_at_twice_the_rate(tmp_path, as_pattern):
    frames = list(moving_frames(10, 32, 48))
    folder = write_images(tmp_path / "frames", frames, name="{:04d}.png")
    src = str(folder / "%04d.png") if as_pattern else str(folder)
    out = tmp_path / "o.mkv"
    res = vfi("upsample", src, "-o", out, "--input-fps", "24", "--factor", "2", "--method", "blend", "--codec", "ffv1")
    assert res.exit_code == 0, res.output
    got = read_frames(out, "rgb24")
    assert len(got) == 20
    assert all(abs(t - Fraction(k, 48)) <= Fraction(1, 1000) for k, (t, _) in enumerate(got))  # Matroska keeps ms
    assert np.array_equal(got[0][1], frames[0]) and np.array_equal(got[2][1], frames[1])  # RGB in, RGB out: exact


def test_image_sequence_defaults_to_25_fps_and_keeps_16_bits(tmp_path):
    rng = np.random.default_rng(0)
    deep = [rng.integers(0, 65536, (16, 24, 3), dtype=np.uint16) for _ in range(4)]
    folder = write_images(tmp_path / "deep", deep, fmt="rgb48le")
    src = ImageSequenceSource(str(folder))
    assert src.info.rate == 25 and src.info.pix_fmt.startswith("rgb48")
    out = tmp_path / "out"
    res = vfi("upsample", folder, "-o", f"{out}/%03d.png", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert files[0] == "001.png" and len(files) == 8
    with av.open(str(out / "003.png")) as c:
        f = next(c.decode(video=0))
        assert f.format.name.startswith("rgb48")
        got = f.to_ndarray(format="rgb48le")
    assert np.array_equal(got, deep[1])  # a source frame, all 16 bits


def test_stdin_streams_are_probed(tmp_path):
    code = ("import av, sys, numpy as np\n"
            "sys.path.insert(0, 'tests')\n"
            "from conftest import moving_frames\n"
            "out = av.open('pipe:1', 'w', format=sys.argv[1])\n"
            "s = out.add_stream('rawvideo' if sys.argv[1] != 'matroska' else 'ffv1', rate=24)\n"
            "s.width, s.height, s.pix_fmt = 48, 32, 'yuv420p'\n"
            "for i, img in enumerate(moving_frames(12, 32, 48)):\n"
            "    f = av.VideoFrame.from_ndarray(img, format='rgb24').reformat(format='yuv420p')\n"
            "    f.pts = i\n"
            "    out.mux(s.encode(f))\n"
            "out.mux(s.encode(None))\n"
            "out.close()\n")
    for fmt in ("yuv4mpegpipe", "nut", "matroska"):
        out = tmp_path / f"o_{fmt}.mkv"
        writer = subprocess.Popen([sys.executable, "-c", code, fmt], stdout=subprocess.PIPE)
        res = subprocess.run([sys.executable, "-m", "vfi.cli", "upsample", "-", "-o", str(out), "--factor", "2", "--method", "blend", "-q"],
                             stdin=writer.stdout, capture_output=True, text=True, timeout=120)
        writer.wait()
        assert res.returncode == 0, res.stderr
        assert len(read_frames(out)) == 24, fmt


def test_many_inputs_one_bad(tmp_path):
    a = make_video(tmp_path / "a.mp4", moving_frames(8, 32, 48), Fraction(24))
    b = make_video(tmp_path / "b.mkv", moving_frames(8, 32, 48, seed=1), Fraction(24), codec="ffv1")
    c = make_video(tmp_path / "c.mov", moving_frames(8, 32, 48, seed=2), Fraction(24))
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    res = vfi("upsample", a, b, bad, c, "-o", f"{tmp_path}/out/", "--factor", "2", "--method", "blend")
    assert res.exit_code == 1, res.output
    assert "failed" in res.output and "bad.mp4" in res.output and res.output.count("Error:") == 1
    made = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith(".json"))
    assert made == ["a.mp4", "b.mkv", "c.mov"]
    assert all(len(read_frames(tmp_path / "out" / m)) == 16 for m in made)


def test_a_folder_of_videos_with_batch(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(2):
        make_video(folder / f"v{i}.mp4", moving_frames(6, 32, 48, seed=i), Fraction(24))
    (folder / "readme.txt").write_text("skipped")
    res = vfi("slowmo", folder, "--batch", "-o", tmp_path / "slow", "--factor", "2", "--method", "blend", "-q")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "slow").iterdir() if p.suffix == ".mp4") == ["v0.mp4", "v1.mp4"]


def test_blur_report_of_several_videos(tmp_path):
    a = make_video(tmp_path / "a.mp4", moving_frames(4, 32, 48), Fraction(24))
    b = make_video(tmp_path / "b.mp4", moving_frames(4, 32, 48, seed=1), Fraction(24))
    res = vfi("blur-report", a, b)
    assert res.exit_code == 0 and res.output.count("Blur report") == 2, res.output
    assert "take one video" in vfi("blur-report", a, b, "--csv", tmp_path / "r.csv").output


def test_open_source_chooses_by_what_the_input_is(tmp_path):
    clip = make_video(tmp_path / "c.mp4", moving_frames(3, 16, 16), Fraction(24))
    write_images(tmp_path / "imgs", list(moving_frames(3, 16, 16)))
    with open_source(str(clip)) as s:
        assert type(s).__name__ == "VideoFileSource"
    with open_source(str(tmp_path / "imgs"), Fraction(30)) as s:
        assert type(s).__name__ == "ImageSequenceSource" and s.info.rate == 30 and s.info.frame_count == 3


def test_sound_with_cover_art_is_said_to_have_no_video(tmp_path):
    src = make_with_cover_art(tmp_path / "song.m4a", video=False, fmt="mp4")
    res = vfi("upsample", src, "-o", tmp_path / "o.mp4", "--factor", "2")
    assert res.exit_code == 1 and "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "no video stream (only cover art" in errors[0], res.output
    assert not (tmp_path / "o.mp4").exists()


def test_cover_art_is_copied_as_it_is_not_read_as_the_video(tmp_path):
    source = open_source(str(make_with_cover_art(tmp_path / "in.mp4")))
    assert (source.info.codec, source.info.width) == ("h264", 64)
    assert [(s.type, s.codec_context.name) for s in source.other_streams()] == [("video", "mjpeg")]
