"""Optical flow and the motion-compensated model (vfi.flow, vfi.models.flow_fusion,
the flow-fusion method, flow datasets and their training)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from conftest import busy_flow_fusion, make_video, moving_frames, texture
from vfi.data import PrepOptions, TripletDataset, prep
from vfi.flow import FEATURES, FlowEstimator, PairMotion, flows_to_time, fusion_inputs, path_weights
from vfi.metrics import psnr
from vfi.models import MODELS, Interpolator
from vfi.models.flow_fusion import FlowFusion


def shifted(h, w, dx, dy=0, seed=0):
    big = texture(h + 40, w + 40, seed)
    return big[20:20 + h, 20:20 + w], big[20 - dy:20 - dy + h, 20 - dx:20 - dx + w]


def hwc(x):
    """A (1, C, H, W) tensor as the H x W x C array."""
    return x[0].permute(1, 2, 0).numpy()


def pair_motion(a, b, **kw):
    f01, f10 = FlowEstimator()(a, b)
    est = FlowEstimator()
    return PairMotion(f01, f10, a.shape[:2], grey0=est.grey(a), grey1=est.grey(b), **kw)


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


def test_quadratic_paths_pass_through_the_three_frames():
    for u2 in (-1.0, -0.5, -2.0):  # evenly spaced frames, and the irregular times of a variable-rate video
        g1, g2 = np.float32([6.0, 1.0]), np.float32([-2.0, 3.0])
        at = lambda s: sum(w * g for w, g in zip(path_weights(s, 1.0, u2), (g1, g2)))  # noqa: E731
        assert np.allclose(at(0.0), 0) and np.allclose(at(1.0), g1) and np.allclose(at(u2), g2)
    # x(s) = 6 s + 2 s^2 through x(-1) = -4, x(0) = 0, x(1) = 8: at s = 1/2 it is at 3.5, not 4
    assert np.isclose(sum(w * g for w, g in zip(path_weights(0.5, 1.0, -1.0), (8.0, -4.0))), 3.5)
    assert path_weights(0.5, 1.0, None) == (0.5, 0.0)  # no third frame: the straight line


def test_speeding_up_motion_is_found_where_it_really_is_at_t():
    """A pan that speeds up: the view is at 4 i + 2 i^2 px in frame i (0, 6, 16, 30).
    Between frames 1 and 2 the content moves 8 s + 2 s^2 px (s from frame 1), so at
    t = 1/2 it has moved 4.5 px; the straight line through the pair alone says 5.  With
    the frames before and after, the path bends as the content's does."""
    before, a, b, after = moving_frames(4, 96, 128, speed=4, accel=2)
    est = FlowEstimator()
    f = lambda x, y: FlowEstimator()(x, y)[0]  # noqa: E731
    inner = (slice(24, -24), slice(40, -40))
    bent = PairMotion(f(a, b), f(b, a), a.shape[:2], f(a, before), f(b, after), grey0=est.grey(a), grey1=est.grey(b))
    straight = PairMotion(f(a, b), f(b, a), a.shape[:2], grey0=est.grey(a), grey1=est.grey(b))
    for motion, want in ((bent, 4.5), (straight, 5.0)):
        ft0 = cv2_resize(hwc(motion.at(0.5))[..., 0:2].copy(), a.shape[:2])  # where the frame at t reads frame 1: back along the motion
        assert abs(np.median(ft0[inner][..., 0]) - want) < 0.15, (want, np.median(ft0[inner][..., 0]))


def cv2_resize(field, size):
    import cv2

    return cv2.resize(field, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) if field.shape[:2] != size else field


def test_splatting_carries_a_small_fast_object_to_where_it_is_at_t():
    """A 6 px square crossing 24 px between frames.  Super SloMo's blend of the two flows
    reads the background where the square is at t (the flows there are the background's):
    the square vanishes.  Carried along its own flow it is there, where what was under
    its path does not match across the pair (here: a patch that changes), so the square,
    which matches, outweighs it."""
    h, w = 48, 96
    rng = np.random.default_rng(1)
    a, b = np.full((h, w, 3), 40, np.uint8), np.full((h, w, 3), 40, np.uint8)
    a[:, 28:42], b[:, 28:42] = rng.integers(0, 255, (2, h, 14, 3), dtype=np.uint8)
    a[20:26, 20:26], b[20:26, 44:50] = 220, 220
    f01, f10 = np.zeros((h, w, 2), np.float32), np.zeros((h, w, 2), np.float32)
    f01[20:26, 20:26, 0], f10[20:26, 44:50, 0] = 24, -24
    est = FlowEstimator()
    for kind, square in (("quadratic", True), ("linear", False)):
        motion = PairMotion(f01, f10, (h, w), kind=kind, grey0=est.grey(a), grey1=est.grey(b))
        x = hwc(fusion_inputs(a, b, motion, 0.5))
        w0, w1 = x[21:25, 33:37, 0:3] * 255, x[21:25, 33:37, 3:6] * 255
        assert ((w0.mean() > 180) and (w1.mean() > 180)) == square, (kind, w0.mean(), w1.mean())


def test_a_window_of_the_inputs_is_that_crop_of_the_whole():
    a, b = shifted(80, 100, 5)
    motion = pair_motion(a, b)
    whole = hwc(fusion_inputs(a, b, motion, 0.4))
    assert whole.shape == (80, 100, len(FEATURES)) and whole.dtype == np.float32
    crop = hwc(fusion_inputs(a, b, motion, 0.4, (10, 20, 48, 56)))
    assert np.allclose(crop, whole[10:58, 20:76], atol=1e-5)  # vectorised tails may round differently


def test_reversed_time_swaps_the_inputs_exactly():
    """What training's time-reversal augmentation assumes."""
    from vfi.models.adapters import reversed_time_features

    REVERSED_FEATURES, FEATURE_T = reversed_time_features()

    frames = list(moving_frames(7, 48, 64, speed=2, accel=1))  # speeding up: the paths bend
    before, a, b, after = frames[0], frames[2], frames[4], frames[6]
    est = FlowEstimator()
    f = lambda x, y: FlowEstimator()(x, y)[0]  # noqa: E731
    motion = PairMotion(f(a, b), f(b, a), a.shape[:2], f(a, before), f(b, after), grey0=est.grey(a), grey1=est.grey(b))
    assert motion.f0b is not None and motion.f1a is not None
    forward = hwc(fusion_inputs(a, b, motion, 0.3))
    backward = hwc(fusion_inputs(b, a, motion.reversed(), 0.7))
    swapped = forward[..., REVERSED_FEATURES].copy()
    swapped[..., FEATURE_T] = 1 - swapped[..., FEATURE_T]
    assert np.allclose(swapped, backward, atol=1e-4)


def test_untrained_model_is_the_warped_average_with_half_the_detail():
    a, b = shifted(40, 48, 2)
    x = fusion_inputs(a, b, pair_motion(a, b), 0.5)
    model = FlowFusion().eval()
    with torch.no_grad():
        y = model(x)
        w0, w1 = x[:, 0:3], x[:, 3:6]
        blend = (w0 + w1) / 2
        low = model.low(blend)
        d0, d1, db = w0 - model.low(w0), w1 - model.low(w1), blend - low
        chosen = torch.where(d0 * d1 > 0, torch.where(d0.abs() > d1.abs(), d0, d1), db)
    assert torch.allclose(y, low + 0.5 * chosen + 0.5 * db, atol=1e-6)



def test_fusion_in_strips_of_rows_is_the_whole_frame_fusion():
    """On a CPU the fusion goes in strips of FUSION_ROWS rows (they stay in the caches);
    with the detail filter's reach of real rows around each strip it is the whole
    frame's fusion, to float rounding."""
    from vfi.models.flow_fusion import FUSION_ROWS

    a, b = shifted(2 * FUSION_ROWS + 13, 48, 2)
    w0, w1 = (torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in (a, b))
    out = torch.randn(1, 5, *w0.shape[-2:], generator=torch.Generator().manual_seed(0))
    model = FlowFusion().eval()
    with torch.inference_mode():
        strips = model.combine(w0, w1, 0.3, out)
        whole = model._fuse(w0, w1, float(np.log(0.7 / 0.3)), out, 0, w0.shape[-2])
    assert strips.shape == whole.shape == w0.shape
    assert torch.allclose(strips, whole, atol=1e-6), float((strips - whole).abs().max())

def test_flow_fusion_tiles_match_untiled():
    spec, model = busy_flow_fusion()
    a, b = shifted(70, 90, 3)
    feats = fusion_inputs(a, b, pair_motion(a, b), 0.5)
    whole = Interpolator(spec, model, torch.device("cpu"), tile=0, precision="fp32").fuse(feats)
    for tile in (32, 40, 64):
        tiled = Interpolator(spec, model, torch.device("cpu"), tile=tile, precision="fp32").fuse(feats)
        diff = np.abs(whole.astype(int) - tiled.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, tile


def _method():
    from vfi.methods import FlowFusionMethod
    from vfi.io.colour import ColorConverter, ColorSpec

    spec = MODELS["flow-fusion"]
    interp = Interpolator(spec, spec.create(), torch.device("cpu"), precision="fp32")
    method = FlowFusionMethod(interp)
    method.setup(ColorConverter("rgb24", ColorSpec(), 96))
    calls = []
    flow = method.flow.flow
    method.flow.flow = lambda *x: calls.append(1) or flow(*x)
    return method, interp, calls


def _source_frames(frames):
    from vfi.io.frames import SourceFrame

    return [SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(f, format="rgb24")) for i, f in enumerate(frames)]


def test_method_makes_any_t_directly_with_two_flows_per_pair():
    method, interp, flows = _method()
    fusions = []
    decide = interp.decide
    interp.decide = lambda *x: fusions.append(1) or decide(*x)  # one tile a frame at this size
    frames = list(moving_frames(5, 96, 128, speed=2))  # 2 px a frame: frame k is at t = k/4 between 0 and 4
    a, b = _source_frames([frames[0], frames[4]])
    out = method.interpolate(a, b, [0.25, 0.5, 0.75])
    assert len(flows) == 2 and len(fusions) == 3  # both ways, once; one fusion per frame
    for k, img in zip((1, 2, 3), out):
        assert psnr(img[:, 16:-16], frames[k][:, 16:-16]) > 30, k  # away from the edges that enter and leave


def test_neighbouring_pairs_share_their_flows():
    """Pair (1, 2) needs the flow from 2 to 3, which pair (2, 3) needs as its own: each
    directed flow is computed once, so a job still costs two flows per pair."""
    method, _, flows = _method()
    f = _source_frames(moving_frames(6, 48, 64, speed=2, accel=1))
    for k in range(1, 4):  # pairs (1, 2), (2, 3), (3, 4), each with the frames around it
        method.interpolate(f[k], f[k + 1], [0.5], before=f[k - 1], after=f[k + 2])
    # 1->2, 2->1, 1->0, 2->3 | 3->2, 3->4 | 4->3, 4->5
    assert len(flows) == 8
    motion = method.motion(f[2], f[3], before=f[1], after=f[4])
    assert motion.f0b is not None and motion.f1a is not None and len(flows) == 8


def test_a_held_frame_says_nothing_about_the_motion():
    method, _, _ = _method()
    frames = list(moving_frames(3, 48, 64, speed=2))
    f = _source_frames([frames[0], frames[0], frames[1], frames[2]])  # frame 0 held
    motion = method.motion(f[1], f[2], before=f[0], after=f[3])
    assert motion.f0b is None and motion.f1a is not None


def test_the_engine_gives_a_pair_its_neighbours_only_within_the_shot(tmp_path, monkeypatch):
    from vfi import engine
    from vfi.engine import Job, run
    from vfi.methods import Blend

    seen = []

    class Recorder(Blend):
        neighbours = True

        def interpolate(self, a, b, ts, before=None, after=None):
            seen.append((a.index, before and before.index, after and after.index))
            return super().interpolate(a, b, ts)

    monkeypatch.setattr(engine, "build_method", lambda job: Recorder())
    src = make_video(tmp_path / "cut.mkv", moving_frames(8, 48, 64, speed=2, cut_at=4), Fraction(24), codec="ffv1")
    run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=2, method="blend"))
    # pairs (0,1) .. (6,7); the pair (3,4) spans the cut and is not made; none reaches across it
    assert seen == [(0, None, 2), (1, 0, 3), (2, 1, None), (4, None, 6), (5, 4, 7), (6, 5, None)], seen


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
    for i in (0, len(data.triplets) // 2, len(data.triplets) - 1):
        _, a, m, b = data.triplets[i]
        motion = data.motion(i)
        f01, f10 = hwc(motion.f01), hwc(motion.f10)
        want01, want10 = FlowEstimator()(np.asarray(data.arrays[0][a]), np.asarray(data.arrays[0][b]))
        assert np.allclose(f01, want01, atol=0.02) and np.allclose(f10, want10, atol=0.02)  # stored as float16
        assert abs(np.median(f01[8:-8, 8:-8, 0]) + 3 * (b - a)) < 0.5  # the view pans right: content moves left
        # and to the frames as far again beyond the pair, where the clip has them
        span, n = b - a, len(data.arrays[0])
        assert (motion.f0b is not None) == (a - span >= 0) and (motion.f1a is not None) == (b + span < n)
        if motion.f0b is not None:
            assert abs(np.median(hwc(motion.f0b)[8:-8, 8:-8, 0]) - 3 * span) < 0.5


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


def test_method_frames_at_a_coarse_network_scale_match_across_tiles_and_the_training_path():
    """With the network at scale 3 (a narrow ``net_width``), the cues are made at its
    scale: tiles still give the untiled frame, and the frame stays within a few levels of
    the full-size input the network was trained on (:func:`fusion_inputs`)."""
    from vfi.methods import FlowFusionMethod
    from vfi.io.colour import ColorConverter, ColorSpec

    spec, model = busy_flow_fusion()
    model.net_width = 64
    a, b = shifted(120, 180, 3)
    motion = pair_motion(a, b)
    assert model.working_scale(180) == 3
    frames = {}
    for tile in (0, 60, 96):
        interp = Interpolator(spec, model, torch.device("cpu"), tile=tile, precision="fp32")
        method = FlowFusionMethod(interp)
        method.setup(ColorConverter("rgb24", ColorSpec(), 180))
        frames[tile] = method._frame(a, b, motion, 0.5)
    for tile in (60, 96):
        diff = np.abs(frames[0].astype(int) - frames[tile].astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, tile
    x = fusion_inputs(a, b, motion, 0.5)
    x = x if isinstance(x, torch.Tensor) else torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0)
    with torch.no_grad():
        full = model.combine(x[:, 0:3], x[:, 3:6], x[:, 10:11], model._up(model.head(model.body(model._down(x, 3))).float(), x.shape[-2:], 3))
    trained = full[0].permute(1, 2, 0).mul(255).round().clamp(0, 255).byte().numpy()
    diff = np.abs(frames[0].astype(int) - trained.astype(int))
    assert np.mean(diff) < 0.1 and diff.max() <= 4
def _steady_flows(h=24, w=32, **sides):
    """Flows on an h x w grid, each the same everywhere: f01, f10, f0b, f1a as (dx, dy)."""
    return {k: np.full((h, w, 2), v, np.float32) for k, v in sides.items()}


def test_a_bend_both_sides_see_is_followed_and_one_side_alone_sees_is_not():
    """Content at x(s) = 3 s + s^2 (s in the pair's intervals, frame 0 at s = 0): from
    frame 0 the frames before and after are at -2 and 10, so each side of the pair sees
    the same bend.  A frame after the pair from elsewhere (a jump cut) says the content
    went back to -10: its bend disagrees with the one before the pair, and both paths are
    straight."""
    import vfi.flow as flow

    whole = _steady_flows(f01=[4, 0], f10=[-4, 0], f0b=[-2, 0], f1a=[6, 0])
    cut = dict(whole, f1a=np.full_like(whole["f1a"], [-14, 0]))
    for t in (0.25, 0.5):
        d0, d1 = PairMotion(**whole, size=(24, 32)).paths(t)
        want0 = 3 * t + t * t  # the parabola, from frame 0 ...
        want1 = want0 - 4  # ... and back from frame 1
        assert torch.allclose(d0[0, 0], torch.tensor(want0)) and torch.allclose(d1[0, 0], torch.tensor(want1))
        d0, d1 = PairMotion(**cut, size=(24, 32)).paths(t)
        assert torch.allclose(d0[0, 0], torch.tensor(4 * t)) and torch.allclose(d1[0, 0], torch.tensor(-4 * (1 - t)))
    try:  # without path trust the jump cut bends both paths
        flow.PATH_TRUST = False
        d0, _ = PairMotion(**cut, size=(24, 32)).paths(0.5)
        assert not torch.allclose(d0[0, 0], torch.tensor(2.0))
    finally:
        flow.PATH_TRUST = True


def test_a_lone_third_frame_bends_a_path_only_as_far_as_the_pairs_own_motion():
    """Only a frame before the pair: nothing to confirm its bend with; a bend of 1 px per
    interval squared on a 4 px motion is followed, one of 12 px is not."""
    small = _steady_flows(f01=[4, 0], f10=[-4, 0], f0b=[-2, 0])
    large = _steady_flows(f01=[4, 0], f10=[-4, 0], f0b=[20, 0])
    d0, d1 = PairMotion(**small, size=(24, 32)).paths(0.5)
    assert torch.allclose(d0[0, 0], torch.tensor(1.5 + 0.25)) and torch.allclose(d1[0, 0], torch.tensor(-2.0))
    d0, _ = PairMotion(**large, size=(24, 32)).paths(0.5)
    assert torch.allclose(d0[0, 0], torch.tensor(2.0))


def test_path_trust_measures_bends_in_frame_pixels():
    """The same flows (640 x 360, as DIS measures them on frames up to 640 px wide) under
    a 640-px frame and a 1280-px one: the bend a lone frame before the pair gives is twice
    as many frame pixels in the larger, and a still pair may not bend that far."""
    still = np.zeros((360, 640, 2), np.float32)
    before = still.copy()
    before[..., 0] = 0.8
    trust = {w: float(PairMotion(still, still, (w * 9 // 16, w), f0b=before).trust[0].mean()) for w in (640, 1280)}
    assert trust[640] == 1.0 and trust[1280] < 0.5, trust


def test_jump_cuts_in_real_footage_cost_nothing_against_straight_paths(tmp_path):
    """Big Buck Bunny cut into 5-frame runs from far apart in the clip (a run follows one
    at least 30 frames away), as a vlog's jump cuts or frames dropped without a gap in
    the timestamps give; scene cuts not looked for (as when the detector misses them).
    On the pairs inside a run, whose frames around them come from another run: with path
    trust, the default is at least as good as straight paths (no frames around the pair)
    and better than following every bend."""
    import vfi.flow as flow
    from conftest import read_frames
    from vfi.evaluate import evaluate_clip, make_contenders

    frames = [f for _, f in read_frames(Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4", "rgb24")]
    starts = (0, 40, 10, 55, 20, 65, 30)
    src = make_video(tmp_path / "jumps.mkv", [frames[s + k] for s in starts for k in range(5)], Fraction(25), codec="ffv1",
                     pix_fmt="yuv444p")
    inside = {5 * r + k for r in range(len(starts)) for k in (1, 2, 3)}  # the pair and the dropped frame in one run

    def scores(neighbours="true", trust=True):
        flow.PATH_TRUST = trust
        try:
            res = evaluate_clip(str(src), make_contenders([], [("flow-fusion", None)]), scene_threshold=0, neighbours=neighbours)
        finally:
            flow.PATH_TRUST = True
        got = dict(zip(res.indices, res.values["flow-fusion"]["psnr"]))
        return np.mean([got[i] for i in sorted(inside & set(got))])

    trusted, untrusted, straight = scores(), scores(trust=False), scores("none")
    assert trusted >= straight - 0.02, (trusted, straight)
    assert trusted > untrusted + 1.0, (trusted, untrusted)


def test_jump_cuts_in_a_near_still_shot_stay_near_straight_paths(tmp_path):
    """A near-still shot (a Big Buck Bunny frame drifting a quarter pixel a frame, as a
    tripod shot or a stalled screen capture) cut into 5-frame runs whose places differ
    by up to 1.6 px.  The frames around a pair come from other runs, and the flows are
    under a pixel: bends of half a pixel made of the jumps must not pass for the
    motion's own.  On the pairs inside a run the default stays within 0.8 dB of straight
    paths (with the pixel terms at 0.5 px: 1.25 dB under)."""
    import cv2

    from vfi.evaluate import evaluate_clip, make_contenders

    still = _bundled_frames()[40]
    places = np.random.default_rng(3).uniform(-0.8, 0.8, size=(7, 2))
    frames = [cv2.warpAffine(still, np.float32([[1, 0, x + 0.25 * k], [0, 1, y]]), still.shape[1::-1], flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT) for x, y in places for k in range(5)]
    src = make_video(tmp_path / "still.mkv", frames, Fraction(25), codec="ffv1", pix_fmt="yuv444p")
    inside = {5 * r + k for r in range(len(places)) for k in (1, 2, 3)}

    def score(neighbours):
        res = evaluate_clip(str(src), make_contenders([], [("flow-fusion", None)]), scene_threshold=0, neighbours=neighbours)
        got = dict(zip(res.indices, res.values["flow-fusion"]["psnr"]))
        assert inside <= set(got)
        return np.mean([got[i] for i in sorted(inside)])

    default, straight = score("true"), score("none")
    assert default >= straight - 0.8, (default, straight)


def _bundled_frames() -> list[np.ndarray]:
    from conftest import read_frames

    return [f for _, f in read_frames(Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4", "rgb24")]


def _screen_frame(i: int) -> np.ndarray:
    """A screen recording's frame i: a terminal whose output gains a line a frame, a
    counter that ticks, and under them a panning video with a static logo over it."""
    import cv2

    lines = ["$ ls -la /usr/share", "total 1284", "drwxr-xr-x  2 root root 4096 bin", "-rw-r--r--  1 root  612 README",
             "$ make test", "pytest -q tests/", "....................... [ 40%]", "......F................ [ 80%]"]
    img = np.full((192, 320, 3), 24, np.uint8)
    img[128:] = texture(64, 340, 7)[:, 3 * i: 3 * i + 320]
    cv2.putText(img, "LOGO", (260, 182), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    for k, line in enumerate(lines[:3 + i]):
        cv2.putText(img, line, (4, 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (220, 220, 220), 1, cv2.LINE_AA)
    cv2.putText(img, f"{1000 + 37 * i:05d}", (260, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (80, 255, 80), 1, cv2.LINE_AA)
    return img


def _off_the_fade(made: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """How far ``made`` is from the nearest of a, b and their blends (one weight for the
    whole region, least squares): the 99th percentile of the per-pixel distance, levels."""
    x, d = a.astype(np.float64), b.astype(np.float64) - a
    weight = np.clip(((made - x) * d).sum() / max((d * d).sum(), 1e-9), 0, 1)
    return float(np.percentile(np.abs(made - (x + weight * d)), 99))


def test_text_that_appears_or_changes_is_shown_whole_or_faded_never_warped_into_strokes(tmp_path):
    """A screen recording (lossless RGB) made twice as fast by the default through the
    engine: in every made frame the terminal's new line and the ticking counter are one
    source frame's, the other's or their blend (no warped strokes), and the static logo
    over the moving video keeps its letters.  Without the cross-fade where content
    changes in place the new line is warped into strokes."""
    import vfi.flow as flow
    from conftest import read_frames
    from vfi.engine import Job, run

    frames = [_screen_frame(i) for i in range(6)]
    src = make_video(tmp_path / "screen.mkv", frames, Fraction(10), codec="ffv1", pix_fmt="bgr0")
    new_line = lambda k: (slice(14 * (4 + k) - 11, 14 * (4 + k) + 4), slice(0, 210))  # noqa: E731  the line frame k + 1 adds
    counter, logo = (slice(0, 20), slice(256, 320)), (slice(168, 186), slice(258, 306))
    letters = frames[0][logo].min(axis=2) > 200  # the logo's strokes, the same in every frame

    def made_frames(fallback=True):
        flow.CHANGE_FALLBACK = fallback
        try:
            run(Job(input=str(src), output=str(tmp_path / f"out{fallback:d}" / "%06d.png"), factor=2))
        finally:
            flow.CHANGE_FALLBACK = True
        return [f for _, f in read_frames(tmp_path / f"out{fallback:d}" / "%06d.png", "rgb24")]

    out = made_frames()
    assert len(out) >= 11
    for k in range(5):
        made, a, b = out[2 * k + 1].astype(np.float64), frames[k], frames[k + 1]
        for region in (new_line(k), counter):
            assert _off_the_fade(made[region], a[region], b[region]) <= 20, (k, region)
        assert np.abs(made[logo][letters] - a[logo][letters]).mean() <= 12, k
    garbled = made_frames(fallback=False)
    assert max(_off_the_fade(garbled[2 * k + 1][new_line(k)].astype(np.float64), frames[k][new_line(k)],
                             frames[k + 1][new_line(k)]) for k in range(5)) > 60


def test_warps_of_8_bit_frames_held_as_float_are_rounded_to_levels_as_on_a_cpu():
    # a GPU holds 8-bit frames as float: their warps must still be rounded as the CPU's are
    from vfi.flow import warped_inputs
    from vfi.kernels import torch_kernels

    a, b = shifted(48, 64, 3, 1, seed=3)
    motion = pair_motion(a, b)
    as_bytes = warped_inputs(a, b, motion, 0.4)
    floats = [torch.from_numpy(x).permute(2, 0, 1)[None].float() for x in (a, b)]
    with torch_kernels():
        as_floats = warped_inputs(*floats, motion, 0.4, levels=True)
        unrounded = warped_inputs(*floats, motion, 0.4)
    off_levels = lambda x: ((x * 255) - (x * 255).round()).abs().max()  # noqa: E731
    for got, want in zip(as_floats[:2], as_bytes[:2]):
        assert off_levels(got) < 1e-3
        assert (got - want).abs().max() * 255 <= 1
    assert off_levels(unrounded[0]) > 0.1


def test_a_slow_drift_of_fine_line_art_in_a_large_frame_is_not_taken_for_change_in_place():
    # Dense thin lines drifting 2.5 px between the pair's 1280x720 frames: the flow works on
    # a grid 4 frame pixels a cell, where that is under a cell; measured in frame pixels it
    # is motion, and the frame is motion-compensated, not cross-faded (with the still test
    # in grid cells a third of it was).
    import cv2

    from vfi.flow import _upsample_window

    rng = np.random.default_rng(0)
    art = np.full((740, 1320, 3), (60, 160, 200), np.uint8)
    for _ in range(6000):
        p = rng.integers(0, [1320, 740], size=2)
        q = p + rng.integers(-60, 60, size=2)
        cv2.line(art, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), (250, 250, 240), 1, cv2.LINE_AA)
    a = art[10:730, 10:1290]
    b = cv2.warpAffine(art, np.float32([[1, 0, -2.5], [0, 1, -0.5]]), (1320, 740), flags=cv2.INTER_CUBIC)[10:730, 10:1290]
    est = FlowEstimator()
    ga, gb = est.grey(a), est.grey(b)
    motion = PairMotion(est.flow(ga, gb), est.flow(gb, ga), a.shape[:2], grey0=ga, grey1=gb)
    changed = motion.changed(motion.at(0.5))
    share = 0.0 if changed is None else float((_upsample_window(changed, motion.size, (0, 0, *motion.size)) > 0.05).float().mean())
    assert share < 0.05, share
