"""Optical flow and the motion-compensated model (vfi.flow, vfi.models.flow_fusion,
the flow-fusion method, flow datasets and their training)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from conftest import make_video, moving_frames, texture
from vfi.data import PrepOptions, TripletDataset, prep
from vfi.flow import FEATURES, FlowEstimator, flows_to_time, fusion_inputs
from vfi.metrics import psnr
from vfi.models import MODELS, Interpolator
from vfi.models.flow_fusion import FlowFusion


def shifted(h, w, dx, dy=0, seed=0):
    big = texture(h + 40, w + 40, seed)
    return big[20:20 + h, 20:20 + w], big[20 - dy:20 - dy + h, 20 - dx:20 - dx + w]


def test_flow_finds_a_known_shift_both_ways():
    a, b = shifted(96, 128, 3, 2)  # b is a moved 3 px right and 2 px down
    f01, f10 = FlowEstimator()(a, b)
    inner = (slice(16, -16), slice(16, -16))
    assert np.allclose(np.median(f01[inner].reshape(-1, 2), axis=0), [3, 2], atol=0.3)
    assert np.allclose(np.median(f10[inner].reshape(-1, 2), axis=0), [-3, -2], atol=0.3)


def test_flow_on_a_large_frame_is_computed_small_and_scaled_back():
    a, b = shifted(360, 1280, 8)
    f01, _ = FlowEstimator(max_width=640)(a, b)
    assert f01.shape == (360, 1280, 2)
    assert abs(np.median(f01[40:-40, 40:-40, 0]) - 8) < 0.6  # in full-size pixels


def test_flow_to_time_for_linear_motion():
    v = np.full((4, 5, 2), [4.0, -2.0], np.float32)
    ft0, ft1 = flows_to_time(v, -v, 0.25)
    assert np.allclose(ft0, -0.25 * v) and np.allclose(ft1, 0.75 * v)


def test_a_window_of_the_inputs_is_that_crop_of_the_whole():
    a, b = shifted(80, 100, 5)
    f01, f10 = FlowEstimator()(a, b)
    whole = fusion_inputs(a, b, f01, f10, 0.4)
    assert whole.shape == (80, 100, len(FEATURES)) and whole.dtype == np.float32
    crop = fusion_inputs(a, b, f01, f10, 0.4, (10, 20, 48, 56))
    assert np.allclose(crop, whole[10:58, 20:76], atol=1e-5)  # vectorised tails may round differently


def test_reversed_time_swaps_the_inputs_exactly():
    """What training's time-reversal augmentation assumes."""
    from vfi.train import FEATURE_T, REVERSED_FEATURES

    a, b = shifted(48, 64, 4)
    f01, f10 = FlowEstimator()(a, b)
    forward = fusion_inputs(a, b, f01, f10, 0.3)
    backward = fusion_inputs(b, a, f10, f01, 0.7)
    swapped = forward[..., REVERSED_FEATURES].copy()
    swapped[..., FEATURE_T] = 1 - swapped[..., FEATURE_T]
    assert np.allclose(swapped, backward, atol=1e-6)


def test_untrained_model_is_the_warped_average_with_half_the_detail():
    a, b = shifted(40, 48, 2)
    f01, f10 = FlowEstimator()(a, b)
    x = torch.from_numpy(fusion_inputs(a, b, f01, f10, 0.5)).permute(2, 0, 1).unsqueeze(0)
    model = FlowFusion().eval()
    with torch.no_grad():
        y = model(x)
        w0, w1 = x[:, 0:3], x[:, 3:6]
        blend = (w0 + w1) / 2
        low = model.low(blend)
        d0, d1, db = w0 - model.low(w0), w1 - model.low(w1), blend - low
        chosen = torch.where(d0 * d1 > 0, torch.where(d0.abs() > d1.abs(), d0, d1), db)
    assert torch.allclose(y, low + 0.5 * chosen + 0.5 * db, atol=1e-6)


def test_flow_fusion_tiles_match_untiled():
    spec = MODELS["flow-fusion"]
    torch.manual_seed(3)
    model = spec.create()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)  # a model that does something everywhere
    a, b = shifted(70, 90, 3)
    f01, f10 = FlowEstimator()(a, b)
    feats = fusion_inputs(a, b, f01, f10, 0.5)
    whole = Interpolator(spec, model, torch.device("cpu"), tile=0, precision="fp32").fuse(feats)
    for tile in (32, 40, 64):
        tiled = Interpolator(spec, model, torch.device("cpu"), tile=tile, precision="fp32").fuse(feats)
        diff = np.abs(whole.astype(int) - tiled.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, tile


def test_method_makes_any_t_directly_with_one_flow_per_pair():
    from vfi.methods import FlowFusionMethod
    from vfi.video import ColorConverter, ColorSpec, SourceFrame

    spec = MODELS["flow-fusion"]
    interp = Interpolator(spec, spec.create(), torch.device("cpu"), precision="fp32")
    method = FlowFusionMethod(interp)
    method.setup(ColorConverter("rgb24", ColorSpec(), 96))
    flows, fusions = [], []
    flow, fuse = method.flow, interp.fuse
    method.flow = lambda *x: flows.append(1) or flow(*x)
    interp.fuse = lambda x: fusions.append(1) or fuse(x)
    frames = list(moving_frames(5, 96, 128, speed=2))  # 2 px a frame: frame k is at t = k/4 between 0 and 4
    a, b = (SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(frames[k], format="rgb24")) for i, k in ((0, 0), (1, 4)))
    out = method.interpolate(a, b, [0.25, 0.5, 0.75])
    assert len(flows) == 1 and len(fusions) == 3
    for k, img in zip((1, 2, 3), out):
        assert psnr(img[:, 16:-16], frames[k][:, 16:-16]) > 30, k  # away from the edges that enter and leave


@pytest.fixture(scope="module")
def flow_dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("flow")
    src = make_video(d / "clip.mkv", moving_frames(24, 64, 96, speed=3), Fraction(24), codec="ffv1")
    path, _ = prep([str(src)], d / "ds", PrepOptions(preset="flow", spans=(2, 3), val_fraction=0.25))
    return path


def test_flow_dataset_holds_both_flows_of_every_window(flow_dataset):
    data = TripletDataset(flow_dataset)
    assert data.preset == "flow"
    # spans 2 and 3 over 24 frames: 22 windows of one middle frame, 21 of two
    assert len(data.triplets) == 22 + 2 * 21
    times = sorted({round(data.time(i), 4) for i in range(len(data.triplets))})
    assert times == [0.3333, 0.5, 0.6667]
    for i in (0, len(data.triplets) - 1):
        _, a, m, b = data.triplets[i]
        f01, f10 = data.flows(i)
        want01, want10 = FlowEstimator()(np.asarray(data.arrays[0][a]), np.asarray(data.arrays[0][b]))
        assert np.allclose(f01, want01, atol=0.02) and np.allclose(f10, want10, atol=0.02)  # stored as float16
        assert abs(np.median(f01[8:-8, 8:-8, 0]) + 3 * (b - a)) < 0.5  # the view pans right: content moves left


def test_flow_fusion_trains_and_its_weights_run_in_upsample(flow_dataset, tmp_path):
    from click.testing import CliRunner

    from vfi.cli import main
    from vfi.train import TrainConfig, train

    summary = train(TrainConfig(model="flow-fusion", data=str(flow_dataset), out=str(tmp_path / "run"), epochs=2, batch_size=4,
                                crop=24, context=8, lr=3e-3, max_val=8), log=lambda m: None)
    h = summary["history"]
    assert [e["epoch"] for e in h] == [0, 1, 2] and all(np.isfinite(e["val_loss"]) for e in h)
    assert summary["samples_seen"] == 2 * len(TripletDataset(flow_dataset).train)
    w = tmp_path / "run" / "flow-fusion.safetensors"
    src = make_video(tmp_path / "in.mkv", moving_frames(6, 48, 64), Fraction(24), codec="ffv1")
    res = CliRunner().invoke(main, ["upsample", str(src), "-o", str(tmp_path / "o.mkv"), "--fps", "60", "--weights", str(w),
                                    "--codec", "ffv1", "-q"])
    assert res.exit_code == 0, res.output
