"""vfi.vapoursynth: a clip at a new rate, scene cuts held.  The rate change itself
(which output frame shows what, pairs made once) runs without VapourSynth; the
VapourSynth function needs its core library, which PyPI's package builds against and
Debian does not ship: that test skips without it."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import vfi
from conftest import moving_frames
from vfi.vapoursynth import RateChange


def _change(frames, source_rate, rate, method="blend"):
    calls = []

    def source_frame(i):
        calls.append(i)
        return frames[i]

    return RateChange(source_frame, len(frames), Fraction(source_rate), Fraction(rate), vfi.Interpolator(method=method)), calls


def test_a_whole_factor_keeps_every_source_frame_and_holds_cuts():
    frames = list(moving_frames(6, 36, 64, cut_at=3))
    change, _ = _change(frames, 24, 72)
    assert len(change) == 18
    out = [change(n) for n in range(len(change))]
    for i, f in enumerate(frames):
        assert np.array_equal(out[3 * i], f)
    assert np.array_equal(out[7], frames[2]) and np.array_equal(out[8], frames[3])  # across the cut: the nearer frame
    assert not any(np.array_equal(out[4], f) for f in frames)  # a made frame


def test_any_rate_places_frames_by_exact_time():
    frames = list(moving_frames(5, 36, 64))
    change, calls = _change(frames, 24, 60)
    assert len(change) == 13  # 5 frames at 24 fps last 5/24 s: 12.5 frames at 60 fps, the last shown whole
    assert change.where(5) == (2, 0) and change.where(1) == (0, Fraction(2, 5))
    assert np.array_equal(change(5), frames[2])
    change(1)
    calls.clear()
    change(2)  # made with frame 1: the pair's frames were all made at once
    assert calls == []


def test_the_vapoursynth_function_changes_a_clip_s_rate():
    vs = pytest.importorskip("vapoursynth", reason="VapourSynth's core library is not installed (Debian does not ship it; "
                                                   "PyPI's vapoursynth builds against it)")
    from vfi.vapoursynth import interpolate

    frames = list(moving_frames(4, 36, 64))
    clip = vs.core.std.BlankClip(width=64, height=36, format=vs.RGB24, length=4, fpsnum=24, fpsden=1)

    def source(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][..., p])
        return out

    clip = vs.core.std.ModifyFrame(clip, clip, source)
    out = interpolate(clip, factor=2, method="blend")
    assert (out.num_frames, out.fps_num, out.fps_den) == (8, 48, 1)
    got = np.dstack([np.asarray(out.get_frame(2)[p]) for p in range(3)])
    assert np.array_equal(got, frames[1])
