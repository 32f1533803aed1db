"""The classical methods (vfi.methods) on frames made here."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import make_video, moving_frames, read_frames
from vfi.engine import Job, run
from vfi.io.colour import ColorConverter, ColorSpec, rgb_levels
from vfi.io.frames import SourceFrame
from vfi.methods import Blend, DisWarp
from vfi.metrics import psnr

BUNDLED = Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4"


@pytest.mark.parametrize("dtype, precise", [(np.uint8, False), (np.float32, True)])
def test_blend_made_in_strips_equals_the_whole_frame_cross_fade(dtype, precise):
    rng = np.random.default_rng(1)
    a, b = ((rng.random((600, 41, 3)) * 255).astype(dtype) for _ in range(2))
    blend = Blend()
    blend.precise = precise
    for t in (0.25, 0.5, 0.7):
        whole = rgb_levels((1 - t) * a.astype(np.float32) + t * b.astype(np.float32), precise)
        made = blend.fade(a, b, t)
        assert made.dtype == whole.dtype and np.array_equal(made, whole)


def source_frames(rgbs):
    conv = ColorConverter("rgb24", ColorSpec(), rgbs[0].shape[0])
    return conv, [SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(x, format="rgb24")) for i, x in enumerate(rgbs)]


def test_dis_warp_makes_real_footage_middle_frames_better_than_the_cross_fade_and_keeps_the_ends():
    frames = [f for _, f in read_frames(BUNDLED, "rgb24")]
    dis, blend = DisWarp(), Blend()
    conv, sfs = source_frames(frames)
    dis.setup(conv), blend.setup(conv)
    gains = []
    for i in range(10, 60, 10):  # frame i from i - 1 and i + 1, as vfi eval scores it
        a, b = sfs[i - 1], sfs[i + 1]
        made, faded = dis.interpolate(a, b, [0.5])[0], blend.interpolate(a, b, [0.5])[0]
        assert made.shape == frames[i].shape and made.dtype == np.uint8
        gains.append(psnr(made, frames[i]) - psnr(faded, frames[i]))
    assert np.mean(gains) > 2 and min(gains) > -0.5, gains
    start, end = dis.interpolate(sfs[20], sfs[21], [0.0, 1.0])
    assert np.abs(start.astype(int) - frames[20]).max() <= 1 and np.abs(end.astype(int) - frames[21]).max() <= 1


def test_dis_warp_runs_as_a_job_method(tmp_path):
    src = make_video(tmp_path / "in.mkv", moving_frames(12, 64, 96, speed=3), Fraction(24), codec="ffv1")
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), fps=Fraction(60), method="dis"))
    assert res.method == "dis" and res.frames_out == len(read_frames(tmp_path / "o.mkv"))
    assert res.synthesised > 0


def test_dis_warp_in_strips_of_rows_is_the_whole_frame():
    frames = [f for _, f in read_frames(BUNDLED, "rgb24")][:2]
    conv, (a, b) = source_frames(frames)
    strips, whole = DisWarp(), DisWarp()
    strips.rows, whole.rows = 7, 10_000
    strips.setup(conv), whole.setup(conv)
    for x, y in zip(strips.interpolate(a, b, [0.3, 0.5]), whole.interpolate(a, b, [0.3, 0.5])):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("h, w, pix_fmt", [(64, 96, "yuv420p10le"), (6, 8, "yuv420p")])
def test_dis_warp_takes_deep_and_tiny_sources(tmp_path, h, w, pix_fmt):
    src = make_video(tmp_path / "in.mkv", moving_frames(6, h, w, speed=1), Fraction(24), codec="ffv1", pix_fmt=pix_fmt)
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=Fraction(2), method="dis"))
    made = read_frames(tmp_path / "o.mkv", "rgb24")
    assert res.frames_out == len(made) == 12 and made[1][1].shape == (h, w, 3)


def test_the_encoder_takes_one_thread_only_beside_a_model_on_the_cpu():
    import torch

    from conftest import busy_flow_fusion
    from vfi.methods import FlowFusionMethod
    from vfi.models import Interpolator

    spec, model = busy_flow_fusion()
    assert FlowFusionMethod(Interpolator(spec, model, torch.device("cpu"))).one_thread_encoder
    # another device (meta: the shapes of any accelerator's tensors): the cores are the flow's and the encoder's
    assert not FlowFusionMethod(Interpolator(spec, model, torch.device("meta"))).one_thread_encoder
    assert not Blend().one_thread_encoder and DisWarp().one_thread_encoder


def test_dis_warp_keeps_a_deep_sources_precision():
    rng = np.random.default_rng(3)
    deep = [(rng.random((40, 56, 3)) * 65535).astype(np.uint16) for _ in range(2)]
    conv = ColorConverter("rgb48le", ColorSpec(), 40)
    a, b = (SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(x, format="rgb48le")) for i, x in enumerate(deep))
    dis = DisWarp()
    dis.setup(conv)
    dis.precise = True
    start, middle = dis.interpolate(a, b, [0.0, 0.5])
    assert middle.dtype == np.float32 and middle.shape == (40, 56, 3)
    precise = a.rgb_precise(conv)
    assert np.abs(precise - precise.round()).max() > 0.1  # levels between 8-bit steps ...
    assert np.abs(start - precise).max() < 0.01  # ... kept, not rounded to them
