"""vfi.vapoursynth: a clip at a new rate, scene cuts held.  The rate change itself
(which output frame shows what, pairs made once) runs without VapourSynth; the
VapourSynth function needs its core library, which PyPI's package builds against and
Debian does not ship: those tests skip without it
(README, VapourSynth, says how to build it)."""

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


def _vs():
    return pytest.importorskip("vapoursynth", reason="VapourSynth's core library is not installed (Debian does not ship it; "
                                                      "PyPI's vapoursynth builds against it: README, VapourSynth)")


def _clip(vs, frames, rate=24, **props):
    """An RGB24 clip of ``frames`` made in VapourSynth itself, each frame with ``props``
    and its ``_AbsoluteTime``, as a source filter gives them."""
    h, w = frames[0].shape[:2]
    blank = vs.core.std.BlankClip(width=w, height=h, format=vs.RGB24, length=len(frames), fpsnum=rate, fpsden=1)

    def source(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][..., p])
        out.props.update(props, _AbsoluteTime=n / rate)
        return out

    return vs.core.std.ModifyFrame(blank, blank, source)


def _rgb(frame):
    return np.dstack([np.asarray(frame[p]) for p in range(3)])


def test_the_vapoursynth_function_changes_a_clip_s_rate():
    vs = _vs()
    from vfi.vapoursynth import interpolate

    frames = list(moving_frames(6, 36, 70, cut_at=3))  # 70 wide: VapourSynth pads its rows, numpy sees the padding as strides
    clip = _clip(vs, frames, _Matrix=0, _Primaries=1, _Transfer=13, _FieldBased=0, _SceneChangeNext=1)
    out = interpolate(clip, factor=2, method="blend")
    assert (out.num_frames, out.fps_num, out.fps_den) == (12, 48, 1)
    got = [_rgb(out.get_frame(n)) for n in range(out.num_frames)]
    for i, f in enumerate(frames):
        assert np.array_equal(got[2 * i], f)
    made = vfi.Interpolator(method="blend").between(frames[0], frames[1], [0.5])[0]
    assert np.array_equal(got[1], made) and not any(np.array_equal(got[1], f) for f in frames)
    assert np.array_equal(got[5], frames[3])  # halfway across the cut: the frame after, not a blend

    props = out.get_frame(7).props
    assert (props["_Matrix"], props["_Primaries"], props["_Transfer"], props["_FieldBased"]) == (0, 1, 13, 0)
    assert (props["_DurationNum"], props["_DurationDen"]) == (1, 48)
    assert props["_AbsoluteTime"] == pytest.approx(7 / 48)
    assert "_SceneChangeNext" not in props


def test_the_vapoursynth_function_answers_requests_from_many_threads_in_any_order():
    vs = _vs()
    from vfi.vapoursynth import interpolate

    frames = list(moving_frames(5, 36, 64))
    clip = _clip(vs, frames)
    in_order = [_rgb(interpolate(clip, fps=60, method="blend").get_frame(n)) for n in range(13)]
    out = interpolate(clip, fps=60, method="blend")  # a fresh one: nothing made yet
    requests = [out.get_frame_async(n) for n in reversed(range(out.num_frames))]  # all at once, on the core's threads
    got = [_rgb(r.result()) for r in reversed(requests)]
    assert len(got) == 13 and all(np.array_equal(a, b) for a, b in zip(got, in_order))


def test_the_vapoursynth_function_refuses_what_it_cannot_take():
    vs = _vs()
    from vfi.vapoursynth import interpolate

    rgb = vs.core.std.BlankClip(width=64, height=36, format=vs.RGB24, length=4)
    with pytest.raises(ValueError, match="RGB24"):
        interpolate(vs.core.std.BlankClip(width=64, height=36, format=vs.YUV420P8, length=4), fps=60)
    with pytest.raises(ValueError, match="fps or factor"):
        interpolate(rgb)
    with pytest.raises(ValueError, match="constant frame rate"):  # two rates spliced: no one rate
        interpolate(vs.core.std.Splice([rgb, vs.core.std.AssumeFPS(rgb, fpsnum=30)], mismatch=True), factor=2)
    with pytest.raises(ValueError, match="one frame size"):
        interpolate(vs.core.std.Splice([rgb, vs.core.std.Crop(rgb, left=8)], mismatch=True), factor=2)
