"""vfi.Interpolator: frames between two RGB arrays, and a sequence streamed at N times its rate."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import vfi
from conftest import make_video, moving_frames
from vfi.engine import default_method

ROOT = Path(__file__).resolve().parent.parent


def test_between_gives_frames_at_the_times_asked():
    a, b = list(moving_frames(2, 36, 64))
    with vfi.Interpolator(method="blend") as it:
        made = it.between(a, b, [0.25, 0.5])
    assert [m.shape for m in made] == [a.shape, a.shape] and made[0].dtype == np.uint8
    expected = (a.astype(np.float32) * 0.75 + b.astype(np.float32) * 0.25)
    assert np.abs(made[0].astype(np.float32) - expected).max() <= 1.5  # the cross-fade, through the video's colour path
    assert not np.array_equal(made[0], made[1])


def test_stream_keeps_each_frame_makes_between_and_holds_across_a_cut():
    frames = list(moving_frames(6, 36, 64, cut_at=3))
    with vfi.Interpolator(method="blend") as it:
        out = list(it.stream(iter(frames), factor=3))
    assert len(out) == 3 * 5 + 1
    for i, f in enumerate(frames):
        assert np.array_equal(out[3 * i], f)
    # the pair (2, 3) straddles the cut: the nearer frame, never a blend
    assert np.array_equal(out[7], frames[2]) and np.array_equal(out[8], frames[3])
    assert not np.array_equal(out[4], frames[1]) and not np.array_equal(out[4], frames[2])


def test_the_default_model_streams_frames_with_its_flow_cache():
    frames = list(moving_frames(4, 36, 64, speed=3))
    with vfi.Interpolator() as it:
        out = list(it.stream(frames))
        assert it.name == default_method()
    assert len(out) == 7 and all(o.shape == (36, 64, 3) for o in out)
    # a made frame of a pan sits between its neighbours, not on either
    assert not np.array_equal(out[1], out[0]) and not np.array_equal(out[1], out[2])


def test_bad_frames_and_times_are_value_errors():
    a, b = list(moving_frames(2, 16, 16))
    with vfi.Interpolator(method="dup") as it:
        with pytest.raises(ValueError):
            it.between(a, b, [1.0])
        with pytest.raises(ValueError):
            it.between(a.astype(np.float32), b, [0.5])
        with pytest.raises(ValueError):
            list(it.stream([a, b], factor=0))


def test_the_readme_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = next(c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "Interpolator" in c)
    assert len(code.strip().splitlines()) <= 10
    make_video(tmp_path / "in.mp4", moving_frames(5, 36, 64))
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("examples/bbb_320x180.mp4", "in.mp4"), "README", "exec"), {})
    assert (tmp_path / "frames_x4.npy").exists()
