"""The command line: every bad input gives one line, a non-zero exit, no traceback
and no output file."""

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import pytest

from conftest import make_video, moving_frames, vfi


def assert_clean_failure(res, code, needle, out=None):
    assert res.exit_code == code, res.output
    text = res.output.strip()
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    assert needle in text, text
    if out is not None:
        assert not out.exists()
        assert not [p for p in out.parent.iterdir() if ".part" in p.name], "partial file left behind"


@pytest.fixture
def small(tmp_path):
    return make_video(tmp_path / "small.mp4", moving_frames(12, 32, 48), Fraction(24))


def test_upsample_ok(small, tmp_path):
    res = vfi("upsample", small, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend", "-q")
    assert res.exit_code == 0, res.output
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.streams.video[0].frames == 24


def test_missing_input(tmp_path):
    assert_clean_failure(vfi("upsample", tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4", "--factor", "2"), 1, "no such file", tmp_path / "o.mp4")


def test_debug_shows_the_traceback_wherever_it_is_given(tmp_path):
    from vfi.errors import InputError

    for args in (("--debug", "upsample", tmp_path / "missing.mp4"), ("upsample", tmp_path / "missing.mp4", "--debug")):
        res = vfi(*args, "-o", tmp_path / "out.mp4", "--factor", "2")
        assert isinstance(res.exception, InputError), res.output  # raised, not turned into one line
    plain = vfi("upsample", tmp_path / "missing.mp4", "-o", tmp_path / "out.mp4", "--factor", "2")
    assert plain.exit_code == 1 and not isinstance(plain.exception, InputError)


def test_folder_as_input(tmp_path):
    assert_clean_failure(vfi("upsample", tmp_path, "-o", tmp_path / "o.mp4", "--factor", "2"), 1, "no images in this folder", tmp_path / "o.mp4")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_input(small, tmp_path):
    small.chmod(0)
    assert_clean_failure(vfi("upsample", small, "-o", tmp_path / "o.mp4", "--factor", "2"), 1, "permission denied", tmp_path / "o.mp4")


def test_not_a_video(tmp_path):
    f = tmp_path / "notes.mp4"
    f.write_text("this is not a video\n" * 50)
    assert_clean_failure(vfi("upsample", f, "-o", tmp_path / "o.mp4", "--factor", "2"), 1, "not a readable video", tmp_path / "o.mp4")


def test_no_video_stream(tmp_path):
    f = tmp_path / "sound.m4a"
    with av.open(str(f), "w") as c:
        s = c.add_stream("aac", rate=48000)
        import numpy as np
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        c.mux(s.encode(frame))
        c.mux(s.encode(None))
    assert_clean_failure(vfi("upsample", f, "-o", tmp_path / "o.mp4", "--factor", "2"), 1, "no video stream", tmp_path / "o.mp4")


def test_zero_frames(tmp_path):
    f = tmp_path / "empty.avi"  # AVI opens fine with a video stream and no frames
    with av.open(str(f), "w") as c:
        s = c.add_stream("mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
    assert_clean_failure(vfi("upsample", f, "-o", tmp_path / "o.mkv", "--factor", "2"), 1, "no decodable video frames", tmp_path / "o.mkv")


def test_truncated_input(tmp_path):
    src = make_video(tmp_path / "full.mkv", moving_frames(48, 64, 96), Fraction(24), codec="ffv1")
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    out = tmp_path / "o.mkv"
    res = vfi("upsample", cut, "-o", out, "--factor", "2", "--method", "blend", "-q")
    assert_clean_failure(res, 1, "truncated or corrupt", out)
    # --salvage keeps what decoded
    res = vfi("upsample", cut, "-o", out, "--factor", "2", "--method", "blend", "--salvage")
    assert res.exit_code == 0 and out.exists() and "warning" in res.output


def test_target_not_above_source(small, tmp_path):
    assert_clean_failure(vfi("upsample", small, "-o", tmp_path / "o.mp4", "--fps", "24"), 2, "not above the source", tmp_path / "o.mp4")
    assert_clean_failure(vfi("upsample", small, "-o", tmp_path / "o.mp4", "--fps", "20"), 2, "not above the source", tmp_path / "o.mp4")


def test_factor_too_small(small, tmp_path):
    assert_clean_failure(vfi("slowmo", small, "-o", tmp_path / "o.mp4", "--factor", "1.5"), 2, "at least 2", tmp_path / "o.mp4")
    assert_clean_failure(vfi("upsample", small, "-o", tmp_path / "o.mp4", "--factor", "1"), 2, "above 1", tmp_path / "o.mp4")


def test_bad_rate_text(small, tmp_path):
    res = vfi("upsample", small, "-o", tmp_path / "o.mp4", "--fps", "fast")
    assert res.exit_code == 2 and "not a frame rate" in res.output and "Traceback" not in res.output


def test_output_unwritable(small, tmp_path):
    out = tmp_path / "missing-folder" / "o.mp4"
    assert_clean_failure(vfi("upsample", small, "-o", out, "--factor", "2"), 1, "does not exist")


def test_output_equals_input(small):
    assert_clean_failure(vfi("upsample", small, "-o", small, "--factor", "2"), 2, "would overwrite the input")
    assert small.stat().st_size > 0


def test_existing_output_needs_overwrite(small, tmp_path):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"keep me")
    assert_clean_failure(vfi("upsample", small, "-o", out, "--factor", "2"), 2, "--overwrite")
    assert out.read_bytes() == b"keep me"
    assert vfi("upsample", small, "-o", out, "--factor", "2", "--method", "blend", "--overwrite", "-q").exit_code == 0
    assert out.stat().st_size > 100


def test_ffv1_in_mp4_is_refused(small, tmp_path):
    assert_clean_failure(vfi("upsample", small, "-o", tmp_path / "o.mp4", "--factor", "2", "--codec", "ffv1"), 2, "use .mkv", tmp_path / "o.mp4")


def test_ctrl_c_removes_partial_output(tmp_path):
    src = make_video(tmp_path / "long.mkv", moving_frames(150, 240, 320, speed=3), Fraction(24), codec="ffv1")
    out = tmp_path / "o.mkv"
    proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "slowmo", str(src), "-o", str(out), "--factor", "8",
                             "--method", "mci", "--codec", "ffv1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if ".part" in p.name]:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "interrupted" in text
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_python_dash_m_vfi_is_the_same_command_line():
    import vfi

    done = subprocess.run([sys.executable, "-m", "vfi", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"vfi, version {vfi.__version__}"
    done = subprocess.run([sys.executable, "-m", "vfi", "upsample"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Error: Missing argument" in done.stderr and "'vfi upsample -h'" in done.stderr
