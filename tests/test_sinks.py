"""Sinks: video files, image sequences, stdout; every one all-or-nothing where it can be."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np
from click.testing import CliRunner

from conftest import make_video, moving_frames, read_frames
from vfi.cli import main
from vfi.sinks import output_kind


def vfi(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_output_kinds():
    assert output_kind("-") == "pipe"
    assert output_kind("out/%05d.png") == "images" and output_kind("frames/") == "images"
    assert output_kind("out.mp4") == "file"


def test_png_sequence_out_keeps_source_frames_bit_for_bit(tmp_path):
    frames = list(moving_frames(8, 32, 48))
    src = make_video(tmp_path / "in.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="bgr0")  # lossless RGB
    res = vfi("upsample", src, "-o", f"{tmp_path}/out/%05d.png", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["00001.png", "00002.png"] and len(pngs) == 16
    source = [f for _, f in read_frames(src, "rgb24")]
    for k in range(8):
        with av.open(str(pngs[2 * k])) as c:
            assert np.array_equal(next(c.decode(video=0)).to_ndarray(format="rgb24"), source[k]), k
    kinds = json.loads((tmp_path / "out" / "vfi.json").read_text())["frames"]
    assert kinds.startswith("SISI")


def test_image_folder_out_is_atomic_and_refuses_to_clobber(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(600, 90, 160, speed=1), Fraction(24))
    out = tmp_path / "frames"
    proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "upsample", str(src), "-o", f"{out}/", "--factor", "4", "--method", "mci"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".vfi-") and p.is_dir() and any(p.iterdir()) for p in tmp_path.iterdir()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".vfi-")]
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    res = vfi("upsample", src, "-o", f"{out}/", "--factor", "2", "--method", "blend", "--overwrite", "-t", "0.5")
    assert res.exit_code == 2 and "other things" in res.output
    assert (out / "mine.txt").read_text() == "keep me"


def test_stdout_carries_only_video(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(12, 32, 48), Fraction(24), audio=True)
    for fmt, codec in (("nut", "rawvideo"), ("y4m", "rawvideo"), ("matroska", "ffv1"), ("mpegts", "h264")):
        res = subprocess.run([sys.executable, "-m", "vfi.cli", "upsample", str(src), "-o", "-", "--factor", "2", "--method", "blend",
                              "--format", fmt], capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr.decode()
        assert b"upsample" in res.stderr  # the summary went to stderr
        with av.open(io.BytesIO(res.stdout)) as c:
            v = c.streams.video[0]
            assert v.codec_context.name == codec, fmt
            assert sum(1 for _ in c.decode(v)) == 24, fmt
            if fmt in ("nut", "matroska", "mpegts"):
                assert len(c.streams.audio) == 1, fmt  # the sound goes along


def test_stdout_and_json_summary_do_not_mix(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(6, 32, 48), Fraction(24))
    res = vfi("upsample", src, "-o", "-", "--factor", "2", "--method", "blend", "--json")
    assert res.exit_code == 2 and "--json" in res.output
    ok = vfi("upsample", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend", "--json", "-q")
    assert ok.exit_code == 0 and json.loads(ok.output)["frames_out"] == 12
