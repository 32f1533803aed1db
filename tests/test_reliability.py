"""Reliability: no code runs from a checkpoint, no input is destroyed, nothing is left
half-written, nothing hangs, every error is one clear line.  Each test makes the bad
input it needs (pickled, truncated, bit-flipped, tiny, NaN, signalled)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from conftest import make_video, moving_frames, read_frames, vfi
from vfi.errors import OutputError
from vfi.outputs import OutputLock, commit, temporary_path


def one_error_line(res, code):
    assert res.exit_code == code, res.output
    lines = res.output.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in res.output, res.output
    return errors[0]


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".vfi-") or ".part" in p.name)


@pytest.fixture
def clip(tmp_path):
    return make_video(tmp_path / "in.mp4", moving_frames(24, 48, 64), Fraction(24))


def vfi_process(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "vfi.cli", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


# ---------------------------------------------------------------- 1, 2: security and data loss

class _RunsCode:
    """Unpickling this creates a folder: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_resume_never_runs_code_from_a_checkpoint(tmp_path):
    from vfi.train import load_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "code-ran"
    torch.save({"model": {}, "optimizer": {}, "config": {"model": "sparse-cnn"}, "epoch": 0, "batches_done": 0, "step": 0,
                "history": [], "payload": _RunsCode(str(marker))}, run / "checkpoint.pt")
    with pytest.raises(Exception, match="not a usable vfi checkpoint"):
        load_checkpoint(run / "checkpoint.pt", "cpu")
    assert not marker.exists()
    # and through the command, with a dataset to resume on
    data = tmp_path / "ds"
    src = make_video(tmp_path / "c.mkv", moving_frames(12, 40, 48), Fraction(24), codec="ffv1")
    assert vfi("prep", src, "-o", data, "-q").exit_code == 0
    line = one_error_line(vfi("train", "--data", data, "-o", run, "--resume", "--epochs", "1", "--crop", "24"), 1)
    assert "not a usable vfi checkpoint" in line and not marker.exists()
    (run / "checkpoint.pt").write_text("not a checkpoint at all\n")
    assert "not a usable vfi checkpoint" in one_error_line(vfi("train", "--data", data, "-o", run, "--resume", "--crop", "24"), 1)


def test_blur_report_never_overwrites_the_input_or_the_output(clip, tmp_path):
    before = digest(clip)
    line = one_error_line(vfi("upsample", clip, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend",
                              "--blur-report", clip, "--overwrite"), 2)
    assert "would overwrite the input" in line and digest(clip) == before
    line = one_error_line(vfi("upsample", clip, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend",
                              "--blur-report", tmp_path / "o.mp4"), 2)
    assert "given for both" in line and not (tmp_path / "o.mp4").exists()
    # blur-report's own outputs: not the video, not the reference, not each other
    assert "would overwrite the video" in one_error_line(vfi("blur-report", clip, "--csv", clip), 2)
    assert "given for both" in one_error_line(vfi("blur-report", clip, "--csv", tmp_path / "r", "--json", tmp_path / "r"), 2)
    assert digest(clip) == before


# ---------------------------------------------------------------- 3-5: half-written results

def test_all_outputs_or_none(clip, tmp_path):
    (tmp_path / "o.mp4.vfi.json").mkdir()  # the sidecar cannot be written: refused before any work
    line = one_error_line(vfi("upsample", clip, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend"), 2)
    assert "sidecar" in line and not (tmp_path / "o.mp4").exists() and leftovers(tmp_path) == []
    # A move that fails at the end takes back the ones before it.
    a, b = temporary_path(tmp_path / "a.txt"), temporary_path(tmp_path / "b.txt")
    a.write_text("a")
    b.write_text("b")
    blocked = tmp_path / "b.txt"
    blocked.mkdir()
    (blocked / "x").write_text("in the way")
    with pytest.raises(OutputError):
        commit([(a, tmp_path / "a.txt", True), (b, blocked, True)])
    assert not (tmp_path / "a.txt").exists() and leftovers(tmp_path) == []


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path):
    tmp = temporary_path(tmp_path / "o.mp4")
    tmp.write_text("new")
    (tmp_path / "o.mp4").write_text("someone else's")
    with pytest.raises(OutputError, match="appeared while"):
        commit([(tmp, tmp_path / "o.mp4", False)])
    assert (tmp_path / "o.mp4").read_text() == "someone else's" and leftovers(tmp_path) == []


def test_two_runs_cannot_write_the_same_output(clip, tmp_path):
    out = tmp_path / "o.mp4"
    with OutputLock(out):  # what a running vfi holds
        line = one_error_line(vfi("upsample", clip, "-o", out, "--factor", "2", "--method", "blend", "--overwrite"), 1)
    assert "another vfi is writing" in line and not out.exists()
    assert vfi("upsample", clip, "-o", out, "--factor", "2", "--method", "blend", "-q").exit_code == 0
    assert leftovers(tmp_path) == []  # the lock is gone with the job


@pytest.fixture
def long_clip(tmp_path):
    return make_video(tmp_path / "long.mp4", moving_frames(600, 90, 160, speed=1), Fraction(24))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(long_clip, tmp_path, sig):
    out = tmp_path / "o.mp4"
    proc = vfi_process("upsample", long_clip, "-o", out, "--factor", "4", "--method", "mci")
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".vfi-") and ".part" in p.name for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(sig)
    text = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + sig, text
    assert "Traceback" not in text and "no output was left behind" in text
    assert not out.exists() and leftovers(tmp_path) == []


def test_sigterm_in_prep_leaves_no_partial_dataset(tmp_path):
    sources = [make_video(tmp_path / f"s{i}.mkv", moving_frames(90, 96, 128, seed=i), Fraction(24), codec="ffv1") for i in range(4)]
    proc = vfi_process("prep", *sources, "-o", tmp_path / "ds", "--preset", "flow", "--spans", "2,3,4")
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".vfi-") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    text = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 143, text
    assert not (tmp_path / "ds").exists() and leftovers(tmp_path) == []


def test_sigterm_in_train_saves_a_checkpoint_and_says_one_true_thing(tmp_path):
    src = make_video(tmp_path / "c.mkv", moving_frames(40, 40, 56, speed=2), Fraction(24), codec="ffv1")
    assert vfi("prep", src, "-o", tmp_path / "ds", "-q").exit_code == 0
    out = tmp_path / "run"
    proc = vfi_process("train", "--data", tmp_path / "ds", "-o", out, "--epochs", "50", "--batch-size", "2", "--crop", "24")
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "epoch_001.png").exists():
        time.sleep(0.2)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    text = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 143, text
    assert "checkpoint saved" in text and "no output was left behind" not in text and "Traceback" not in text
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] >= 1


# ---------------------------------------------------------------- 6-8: hangs and runaway memory

@pytest.mark.parametrize("rate", [["--fps", "1e9"], ["--fps", "1e400"], ["--factor", "1e400"], ["--factor", "5000"]])
def test_absurd_rates_are_usage_errors_at_once(clip, tmp_path, rate):
    t0 = time.time()
    one_error_line(vfi("upsample", clip, "-o", tmp_path / "o.mp4", *rate, "--method", "blend"), 2)
    assert time.time() - t0 < 10 and not (tmp_path / "o.mp4").exists()


def test_blur_report_tiles_are_bounded_by_the_frame(tmp_path):
    src = make_video(tmp_path / "c.mp4", moving_frames(4, 144, 176), Fraction(24))
    t0 = time.time()
    line = one_error_line(vfi("blur-report", src, "--local", tmp_path / "l.png", "--tiles", "1000x1000"), 2)
    assert "--tiles" in line and time.time() - t0 < 20 and not (tmp_path / "l.png").exists()


def _peak_rss_of_job(tmp_path, gap_seconds: float, name: str) -> int:
    """Peak RSS (KiB) of a child process that upsamples a 320x240 clip with a hold of
    ``gap_seconds`` (one timestamp gap) to 60 fps."""
    times = [Fraction(i, 24) for i in range(6)] + [Fraction(5, 24) + Fraction(gap_seconds).limit_denominator(1000) + Fraction(i, 24) for i in range(1, 6)]
    src = make_video(tmp_path / f"{name}.mkv", moving_frames(11, 240, 320), Fraction(24), codec="ffv1", times=times, time_base=Fraction(1, 1000))
    code = ("import resource, sys; from vfi.engine import Job, run; "
            f"run(Job(input={str(src)!r}, output={str(tmp_path / (name + '_out.mkv'))!r}, fps=60, method='blend'));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.strip().splitlines()[-1])


def test_memory_does_not_grow_with_the_frames_made_between_two_source_frames(tmp_path):
    short = _peak_rss_of_job(tmp_path, 0.0, "nohold")
    held = _peak_rss_of_job(tmp_path, 30.0, "hold")  # 1,800 frames made in one gap: 400 MiB of RGB as a list
    assert held < short * 1.3 + 40_000, (short, held)


# ---------------------------------------------------------------- 9-14: wrong answers

def _flip_bytes(src: Path, dst: Path, count: int = 200, seed: int = 0) -> None:
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    mid = len(data) // 2
    for i in rng.choice(np.arange(mid - len(data) // 8, mid + len(data) // 8), count, replace=False):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_bit_flipped_input_is_reported(tmp_path):
    src = make_video(tmp_path / "c.mp4", moving_frames(96, 144, 176, speed=3), Fraction(24), options={"crf": "18", "g": "250"})
    bad = tmp_path / "flipped.mp4"
    _flip_bytes(src, bad)
    line = one_error_line(vfi("upsample", bad, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend"), 1)
    assert "corrupt" in line and not (tmp_path / "o.mp4").exists()
    res = vfi("upsample", bad, "-o", tmp_path / "s.mp4", "--factor", "2", "--method", "blend", "--salvage")
    assert res.exit_code == 0 and "warning" in res.output and "corrupt" in res.output
    warnings = json.loads((tmp_path / "s.mp4.vfi.json").read_text())["warnings"]
    assert any("corrupt" in w for w in warnings)


@pytest.mark.parametrize("size", [(16, 16), (17, 33), (18, 34), (16, 64), (8, 8)])
def test_mci_works_on_tiny_frames(tmp_path, size):
    h, w = size
    src = make_video(tmp_path / "t.mkv", moving_frames(8, h, w), Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    res = vfi("upsample", src, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "mci", "--codec", "ffv1", "-q")
    assert res.exit_code == 0, res.output
    frames = read_frames(tmp_path / "o.mkv", "rgb24")
    assert len(frames) == 16 and frames[1][1].shape[:2] == (h, w)
    ev = vfi("eval", src, "--methods", "mci,blend")
    assert ev.exit_code == 0, ev.output


def test_train_on_frames_smaller_than_the_validation_crop(tmp_path):
    src = make_video(tmp_path / "c.mkv", moving_frames(16, 96, 160), Fraction(24), codec="ffv1")
    assert vfi("prep", src, "-o", tmp_path / "ds", "-q").exit_code == 0
    res = vfi("train", "--data", tmp_path / "ds", "-o", tmp_path / "run", "--epochs", "1", "--crop", "32", "-q")
    assert res.exit_code == 0, res.output


def test_a_loss_that_becomes_nan_stops_training(tmp_path):
    src = make_video(tmp_path / "c.mkv", moving_frames(16, 48, 64), Fraction(24), codec="ffv1")
    assert vfi("prep", src, "-o", tmp_path / "ds", "-q").exit_code == 0
    assert "--blur-weight" in one_error_line(vfi("train", "--data", tmp_path / "ds", "-o", tmp_path / "r0", "--loss", "blur", "--crop", "24",
                                                 "--blur-weight", "nan"), 2)
    for lr in ("nan", "-1", "0", "inf"):
        assert "--lr" in one_error_line(vfi("train", "--data", tmp_path / "ds", "-o", tmp_path / "r0", "--lr", lr), 2)
    # a finite recipe that overflows: float32 MSE of a huge prediction is inf
    res = vfi("train", "--data", tmp_path / "ds", "-o", tmp_path / "r1", "--epochs", "2", "--crop", "24", "--init", "keras",
              "--lr", "1e30")
    line = one_error_line(res, 1)
    assert "loss became" in line
    assert not (tmp_path / "r1" / "sparse-cnn.safetensors").exists()


def test_nan_weights_are_refused_with_a_clear_line(clip, tmp_path):
    from vfi.models import MODELS, save_weights

    model = MODELS["sparse-cnn"].create()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    w = save_weights(tmp_path / "nan.safetensors", MODELS["sparse-cnn"], model)
    line = one_error_line(vfi("upsample", clip, "-o", tmp_path / "o.mp4", "--factor", "2", "--weights", w), 1)
    assert "NaN" in line and "unexpected" not in line


def test_eval_of_a_clip_without_triplets_is_an_error(tmp_path):
    src = make_video(tmp_path / "two.mp4", moving_frames(2, 32, 48), Fraction(24))
    assert "no usable triplets" in one_error_line(vfi("eval", src, "--methods", "blend"), 1)


def test_a_file_whose_every_frame_has_pts_zero_decodes_whole(tmp_path):
    path = tmp_path / "pts0.mkv"
    out = av.open(str(path), "w")
    s = out.add_stream("ffv1", rate=30)
    s.width, s.height, s.pix_fmt = 48, 32, "yuv420p"
    for img in moving_frames(30, 32, 48):
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = 0
        for p in s.encode(f):
            p.pts = p.dts = 0
            out.mux(p)
    for p in s.encode(None):
        p.pts = p.dts = 0
        out.mux(p)
    out.close()
    res = vfi("upsample", path, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "blend", "--codec", "ffv1", "-q")
    assert res.exit_code == 0, res.output
    assert len(read_frames(tmp_path / "o.mkv")) == 60


# ---------------------------------------------------------------- 15-20: exit codes and messages

@pytest.mark.parametrize("args,needle", [
    (["-o", "{d}/out.gif"], "not a video container"),
    (["-o", "{d}/out.mp3"], "not a video container"),
    (["-o", "{d}/out.wav"], "not a video container"),
    (["-o", "{d}/out.mp4", "--preset", "bogus"], "--preset"),
    (["-o", "{d}/out.mkv", "--codec", "ffv1", "--preset", "fast"], "--preset"),
    (["-o", "{d}/out.mp4", "--factor", "1e400"], "too large"),
])
def test_usage_errors_exit_2_with_one_line(clip, tmp_path, args, needle):
    args = [a.format(d=tmp_path) for a in args]
    res = vfi("upsample", clip, *args, *([] if "--factor" in args else ["--factor", "2"]), "--method", "blend")
    assert needle in one_error_line(res, 2)
    assert "x264 [error]" not in res.output


def test_a_250_character_output_name_works(clip, tmp_path):
    out = tmp_path / ("n" * 246 + ".mp4")
    assert vfi("upsample", clip, "-o", out, "--factor", "2", "--method", "blend", "-q").exit_code == 0
    assert out.exists() and leftovers(tmp_path) == []
    res = vfi("blur-report", out, "-q", "--json", tmp_path / "r.json")
    assert res.exit_code == 0
    kinds = {f["kind"] for f in json.loads((tmp_path / "r.json").read_text())["frames"]}
    assert "synthesised" in kinds  # the (shortened) sidecar was found


def test_clear_messages_for_damaged_files(clip, tmp_path):
    src = make_video(tmp_path / "c.mkv", moving_frames(12, 40, 48), Fraction(24), codec="ffv1")
    assert vfi("prep", src, "-o", tmp_path / "ds", "-q").exit_code == 0
    (tmp_path / "ds" / "manifest.json").write_text("{not json")
    assert "manifest" in one_error_line(vfi("train", "--data", tmp_path / "ds", "-o", tmp_path / "r"), 1)
    assert vfi("prep", src, "-o", tmp_path / "ds2", "-q").exit_code == 0
    (tmp_path / "ds2" / "frames_000.npy").write_bytes(b"\x93NUMPY garbage")
    assert "dataset array" in one_error_line(vfi("train", "--data", tmp_path / "ds2", "-o", tmp_path / "r"), 1)
    (tmp_path / "empty").mkdir()
    line = one_error_line(vfi("prep", tmp_path / "empty", "-o", tmp_path / "ds3"), 1)
    assert "unexpected" not in line
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\nabcdefgh")
    line = one_error_line(vfi("upsample", huge, "-o", tmp_path / "o.mp4", "--factor", "2"), 1)
    assert "huge.y4m" in line and "unexpected" not in line
    if Path("/proc").is_dir():
        line = one_error_line(vfi("upsample", clip, "-o", "/proc/x.mp4", "--factor", "2", "--method", "blend"), 1)
        assert "unexpected" not in line


@pytest.mark.parametrize("args", [["upsample", "--fpss", "3"], ["upsample"], ["upsample", "x.mp4", "-o", "y.mp4", "--method", "foo"],
                                  ["nosuch"], ["train", "--epochs", "-1", "--data", "."], ["eval", "--every", "zero"]])
def test_option_errors_are_one_error_line(args):
    res = vfi(*args)
    line = one_error_line(res, 2)
    assert len(res.output.strip().splitlines()) == 1 and "-h" in line


def test_dropped_streams_are_said(tmp_path):
    src = tmp_path / "subs.mkv"
    with av.open(str(src), "w") as c:
        vs = c.add_stream("ffv1", rate=24)
        vs.width, vs.height, vs.pix_fmt = 48, 32, "yuv420p"
        c.add_stream("ass")  # a subtitle stream (no packets needed to be dropped)
        for i, img in enumerate(moving_frames(8, 32, 48)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            c.mux(vs.encode(f))
        c.mux(vs.encode(None))
    # slow motion cannot keep subtitles in time, MP4 cannot hold ASS: each says so
    for cmd, out in (("slowmo", tmp_path / "o.mkv"), ("upsample", tmp_path / "o.mp4")):
        res = vfi(cmd, src, "-o", out, "--factor", "2", "--method", "blend")
        assert res.exit_code == 0 and "warning" in res.output and "subtitle" in res.output, res.output
        assert any("subtitle" in w for w in json.loads(Path(str(out) + ".vfi.json").read_text())["warnings"])


def test_slowmo_stretch_says_which_audio_streams_it_drops(tmp_path):
    src = tmp_path / "two_audio.mkv"
    with av.open(str(src), "w") as c:
        vs = c.add_stream("ffv1", rate=24)
        vs.width, vs.height, vs.pix_fmt = 48, 32, "yuv420p"
        tracks = [c.add_stream("aac", rate=48000) for _ in range(2)]
        for t in tracks:
            t.codec_context.layout = "stereo"
        for i, img in enumerate(moving_frames(24, 32, 48)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            c.mux(vs.encode(f))
        c.mux(vs.encode(None))
        for t in tracks:
            for k in range(0, 48000, 1024):
                af = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
                af.sample_rate, af.pts = 48000, k
                c.mux(t.encode(af))
            c.mux(t.encode(None))
    res = vfi("slowmo", src, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "blend", "--audio", "stretch")
    assert res.exit_code == 0 and "only the first of 2 audio streams" in res.output, res.output
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert len(c.streams.audio) == 1
