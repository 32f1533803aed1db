"""vfi.kernels: OpenCV's kernels (what a CPU runs) and PyTorch's (what CUDA runs) give
the same results, so the CPU tests cover the GPU's code path; and flow-fusion made
through either, tiled or whole, is the same frame."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from conftest import busy_flow_fusion, moving_frames, texture
from vfi import kernels
from vfi.models import MODELS, Interpolator


def smooth_texture(h, w, seed=0):
    import cv2

    return cv2.GaussianBlur(texture(h, w, seed), (5, 5), 1.0)


def both(fn):
    """fn() through OpenCV, then through PyTorch's kernels."""
    with torch.inference_mode():
        cv = fn()
        with kernels.torch_kernels():
            pt = fn()
    return cv, pt


def test_kernels_take_opencv_on_cpu_and_pytorch_when_told():
    x = torch.zeros(1, 3, 4, 4)
    with torch.inference_mode():
        assert kernels.use_cv2(x)
        with kernels.torch_kernels():
            assert not kernels.use_cv2(x)
    assert not kernels.use_cv2(torch.zeros(1, 3, 4, 4, requires_grad=True))  # training keeps its gradient


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_warps_agree(mode):
    img = torch.from_numpy(smooth_texture(60, 80)).permute(2, 0, 1).unsqueeze(0)
    rng = np.random.default_rng(1)
    gy, gx = np.mgrid[0:50, 0:70].astype(np.float32)
    x = torch.from_numpy(gx + rng.uniform(-6, 14, gx.shape).astype(np.float32))  # some reads past the edges
    y = torch.from_numpy(gy + rng.uniform(-6, 14, gy.shape).astype(np.float32))
    cv, pt = both(lambda: kernels.remap(img, x, y, mode, levels=True))
    assert cv.shape == pt.shape == (1, 3, 50, 70)
    diff = (cv - pt).abs()
    # OpenCV reads at positions rounded to 1/32 px: a level now and then
    assert diff.mean() < 0.3 and diff.max() <= 3, (float(diff.mean()), float(diff.max()))
    fcv, fpt = both(lambda: kernels.remap(img.float() / 255, x, y, mode))
    assert (fcv - fpt).abs().max() < 0.02


def test_resizes_and_blur_agree():
    x = torch.rand(1, 7, 37, 52)  # more channels than OpenCV takes at once, odd sizes
    for size, mode in (((74, 104), "bilinear"), ((111, 156), "bilinear"), ((18, 26), "area"), ((20, 30), "bilinear")):
        cv, pt = both(lambda: kernels.resize(x, size, mode))
        assert cv.shape == pt.shape == (1, 7, *size)
        assert torch.allclose(cv, pt, atol=1e-5), (size, mode)
    half = x[..., :36, :52]
    cv, pt = both(lambda: kernels.resize(half, (18, 26), "area"))
    assert torch.allclose(cv, pt, atol=1e-5)  # whole cells: both are the mean of 2 x 2
    g = torch.tensor([0.05, 0.25, 0.4, 0.25, 0.05])
    cv, pt = both(lambda: kernels.gaussian_blur(x[:, :3].contiguous(memory_format=torch.channels_last), g))
    assert torch.allclose(cv, pt, atol=1e-5)



def test_planes_laid_out_one_by_one_resize_and_blur_as_interleaved_ones():
    """Tensors plane by plane (what the fusion reads) go through OpenCV one plane at a
    time, in place: the same values as channels-last ones and as PyTorch's."""
    x = torch.rand(1, 5, 37, 52)
    interleaved = x.contiguous(memory_format=torch.channels_last)
    g = torch.tensor([0.05, 0.25, 0.4, 0.25, 0.05])
    with torch.inference_mode():
        for fn in (lambda v: kernels.resize(v, (74, 104)), lambda v: kernels.resize(v, (18, 26), "area"),
                   lambda v: kernels.gaussian_blur(v, g)):
            planar, inter = fn(x), fn(interleaved)
            assert planar.stride(-1) == 1 and planar.shape == inter.shape
            assert torch.allclose(planar, inter, atol=1e-6)
        with kernels.torch_kernels():
            assert torch.allclose(kernels.gaussian_blur(x, g), kernels.gaussian_blur(interleaved, g), atol=1e-5)
        rows = x[:, :, 3:30]  # a strip of rows: each plane still whole along its rows
        assert torch.allclose(kernels.gaussian_blur(rows, g), kernels.gaussian_blur(rows.contiguous(), g))

def _frames(n, h, w):
    from vfi.io.frames import SourceFrame

    return [SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(f, format="rgb24"))
            for i, f in enumerate(moving_frames(n, h, w, speed=3, accel=1))]


def _made(interp, frames, ts=(0.25, 0.5)):
    from vfi.methods import FlowFusionMethod
    from vfi.io.colour import ColorConverter, ColorSpec

    method = FlowFusionMethod(interp)
    method.setup(ColorConverter("rgb24", ColorSpec(), frames[0].frame.height))
    return method.interpolate(frames[1], frames[2], list(ts), before=frames[0], after=frames[3])


def test_made_frames_agree_through_either_kernels():
    spec, model = busy_flow_fusion()
    interp = Interpolator(spec, model, torch.device("cpu"), precision="fp32")
    frames = _frames(4, 72, 96)
    cv = _made(interp, frames)
    with kernels.torch_kernels():
        pt = _made(interp, frames)
    for a, b in zip(cv, pt):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.mean() < 0.3 and np.percentile(diff, 99) <= 2, (diff.mean(), diff.max())


def test_pairs_read_the_copies_they_share_and_make_the_same_frames():
    """What a GPU job does, on the CPU through PyTorch's kernels (CUDA's): each frame, grey
    copy and flow copied once and read by every pair beside it, the frames held as float
    (as on a GPU) with their 8-bit levels remembered.  The same frames, bit for bit."""
    from collections import Counter

    from vfi.io.colour import ColorConverter, ColorSpec
    from vfi.methods import DeviceCopies, FlowFusionMethod

    class FloatCopies(DeviceCopies):
        def __init__(self, device):
            super().__init__(device, keep=64)
            self.made = Counter()

        def _get(self, key, compute):
            def counted():
                self.made[key] += 1
                return compute()
            return super()._get(key, counted)

        def frame(self, index, rgb):
            x, levels = super().frame(index, rgb)
            return x.float(), levels  # a GPU holds 8-bit frames as float

    spec, model = busy_flow_fusion()
    interp = Interpolator(spec, model, torch.device("cpu"), precision="fp32")
    frames = _frames(6, 72, 96)
    made = {}
    for shared in (False, True):
        method = FlowFusionMethod(interp)
        method.setup(ColorConverter("rgb24", ColorSpec(), 72))
        assert method.copies is None  # on a CPU the tensors are views of the host's arrays
        if shared:
            method.copies = FloatCopies(torch.device("cpu"))
        with kernels.torch_kernels():
            made[shared] = [method.interpolate(frames[i], frames[i + 1], [0.5], before=frames[i - 1], after=frames[i + 2])[0]
                            for i in range(1, 4)]
    for a, b in zip(made[False], made[True]):
        assert np.array_equal(a, b)  # with the levels forgotten the warps would not be rounded to them
    counts = method.copies.made
    assert set(counts.values()) == {1}  # each copied once, whichever pairs read it
    assert sorted(k[1] for k in counts if k[0] == "rgb") == [1, 2, 3, 4]
    assert sorted(k[1] for k in counts if k[0] == "grey") == [1, 2, 3, 4]
    assert len([k for k in counts if k[0] == "flow"]) == 2 * 3 + 2  # both ways per pair, and the two ends' flows outward


def test_a_model_on_a_gpu_gets_copies_for_its_pairs():
    from vfi.methods import FlowFusionMethod

    spec, model = busy_flow_fusion()
    method = FlowFusionMethod(Interpolator(spec, model, torch.device("meta")))
    method.copies.array(("grey", 0), np.zeros((4, 4), np.uint8))
    assert method.copies.entries
    method.close()
    assert method.copies is not None and not method.copies.entries  # a finished job leaves nothing on the device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_made_frames_agree_on_cuda_and_on_the_cpu():
    # the whole per-pixel path on the GPU against the CPU's (OpenCV kernels), same network
    spec, model = busy_flow_fusion()
    frames = _frames(4, 72, 96)
    cpu = _made(Interpolator(spec, model, torch.device("cpu"), precision="fp32"), frames)
    gpu = _made(Interpolator(spec, model, torch.device("cuda"), precision="fp32"), frames)
    for a, b in zip(cpu, gpu):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.mean() < 0.3 and np.percentile(diff, 99) <= 2, (diff.mean(), diff.max())


@pytest.mark.parametrize("net_width", [0, 64])
def test_tiles_at_any_working_scale_match_the_whole_frame(net_width):
    """At the model's scale and at the coarser one a narrower network width picks (200 px
    wide at 64: scale 4), tiles with their margins give the untiled frame."""
    spec, model = busy_flow_fusion()
    model.net_width = net_width
    assert model.working_scale(200) == (4 if net_width else 2)
    frames = _frames(4, 90, 200)
    whole = _made(Interpolator(spec, model, torch.device("cpu"), tile=0, precision="fp32"), frames)
    for tile in (40, 64):
        tiled = _made(Interpolator(spec, model, torch.device("cpu"), tile=tile, precision="fp32"), frames)
        for a, b in zip(whole, tiled):
            diff = np.abs(a.astype(int) - b.astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.001, (tile, diff.max())


def test_the_network_works_at_most_net_width_wide():
    model = MODELS["flow-fusion"].create()
    assert model.net_width == 480
    assert [model.working_scale(w) for w in (320, 640, 960, 1280, 1920, 3840)] == [2, 2, 2, 3, 4, 8]
    for scale in (2, 3, 4, 8):
        margin, align = model.tiling(scale)
        assert margin % scale == 0 and align == scale and margin >= 8 * scale + 4


class _OneDevice(torch.overrides.TorchFunctionMode):
    """Fails any call that mixes tensors of two devices (0-d CPU tensors aside, which
    CUDA takes): the meta device checks that for most operations, not for convolutions."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        found = {a.device for a in (*args, *kwargs.values(), *(x for a in args if isinstance(a, (list, tuple)) for x in a))
                 if isinstance(a, torch.Tensor) and not (a.dim() == 0 and a.device.type == "cpu")}
        assert len(found) <= 1, f"{getattr(func, '__name__', func)} mixes {sorted(map(str, found))}"
        return func(*args, **kwargs)


def test_the_per_pixel_path_keeps_to_the_models_device():
    """Every per-pixel stage after the flow on tensors of another device than the CPU
    (meta: shapes only, the CUDA path's code): nothing made on the CPU meets them."""
    from pathlib import Path

    from conftest import read_frames
    from vfi import flow
    from vfi.flow import FlowEstimator, PairMotion, frame_tensor, warped_inputs

    frames = [f for _, f in read_frames(Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4", "rgb24")][:4]
    est = FlowEstimator()
    g = [est.grey(f) for f in frames]
    dis = lambda i, j: est.flow(g[i], g[j])  # noqa: E731
    spec, model = busy_flow_fusion()
    model = model.to("meta")
    with torch.inference_mode(), kernels.torch_kernels(), _OneDevice():
        motion = PairMotion(dis(1, 2), dis(2, 1), frames[1].shape[:2], f0b=dis(1, 0), f1a=dis(2, 3),
                            grey0=g[1], grey1=g[2], device="meta")
        assert all(x is not None and x.device.type == "meta" for x in motion.trust)
        fields = motion.at(0.4)
        changed = motion.changed(fields)  # off the CPU it is never read back to the host (meta cannot be)
        (x0, levels), (x1, _) = frame_tensor(frames[1], "meta"), frame_tensor(frames[2], "meta")
        whole = flow.frame_fields(fields, motion.size)
        for cell in (1, 2):
            w0, w1, cues = warped_inputs(x0, x1, motion, 0.4, (0, 0, 96, 128), fields, cell, whole, levels)
            y = model.combine(w0, w1, 0.4, model.decisions_from(w0, w1, cues, 0.4, cell))
            y = flow.cross_fade_where_changed(y, x0[..., :96, :128], x1[..., :96, :128], 0.4,
                                              flow._upsample_window(changed, motion.size, (0, 0, 96, 128)))
        assert y.device.type == changed.device.type == "meta" and y.shape == (1, 3, 96, 128)


def test_the_cross_fade_is_the_same_without_its_box():
    """PyTorch's path (CUDA) fades the whole window rather than wait for the device to
    find where anything changed: the same frame, exactly, as the CPU's box."""
    from pathlib import Path

    from conftest import read_frames
    from vfi import flow
    from vfi.flow import FlowEstimator, PairMotion, frame_tensor, warped_inputs

    frames = [f for _, f in read_frames(Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4", "rgb24")][:4]
    est = FlowEstimator()
    g = [est.grey(f) for f in frames]
    with torch.inference_mode():
        motion = PairMotion(est.flow(g[1], g[2]), est.flow(g[2], g[1]), frames[1].shape[:2], grey0=g[1], grey1=g[2])
        fields = motion.at(0.5)
        changed = flow._upsample_window(motion.changed(fields), motion.size, (0, 0, *motion.size))
        assert 0 < (changed > 0).float().mean() < 0.5  # real footage that changes in place somewhere
        (x0, _), (x1, _) = frame_tensor(frames[1]), frame_tensor(frames[2])
        y = warped_inputs(x0, x1, motion, 0.5, fields=fields)[0]
        box = flow.cross_fade_where_changed(y.clone(), x0, x1, 0.5, changed)
        with kernels.torch_kernels():
            whole = flow.cross_fade_where_changed(y.clone(), x0, x1, 0.5, changed)
    assert not torch.equal(box, y) and torch.equal(box, whole)


def test_a_frame_made_in_tiles_leaves_the_device_once():
    """PyTorch's path (CUDA's) gathers a frame's tiles where they are made and copies the
    frame to the host once, not once a tile; the tiles still give the whole frame."""
    import collections

    calls = collections.Counter()

    class Count(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            calls[getattr(func, "__name__", "")] += 1
            return func(*args, **(kwargs or {}))

    spec, model = busy_flow_fusion()
    frames = _frames(4, 90, 200)
    tiled = Interpolator(spec, model, torch.device("cpu"), tile=40, precision="fp32")
    assert len(list(tiled.tiles(90, 200, *model.tiling(2)))) == 15
    with kernels.torch_kernels():
        whole = _made(Interpolator(spec, model, torch.device("cpu"), tile=0, precision="fp32"), frames)
        with Count():
            made = _made(tiled, frames)
    assert calls["cpu"] == len(made) == 2
    for a, b in zip(whole, made):
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001, diff.max()


def test_grey_frames_shrink_alike_to_a_splat_grid_of_odd_size():
    """Frames whose flow grid halves to a fraction of a pixel (179 rows to 90) weigh the
    pixels a cell cuts alike through either kernels, so CUDA's match weights are the CPU's."""
    from pathlib import Path

    from conftest import read_frames
    from vfi.flow import FlowEstimator, PairMotion

    frames = [np.ascontiguousarray(f[:179]) for _, f in read_frames(Path(__file__).parents[1] / "examples" / "bbb_320x180.mp4", "rgb24")][:2]
    est = FlowEstimator()
    g = [est.grey(f) for f in frames]
    f01, f10 = est.flow(g[0], g[1]), est.flow(g[1], g[0])
    cv, pt = both(lambda: PairMotion(f01, f10, frames[0].shape[:2], grey0=g[0], grey1=g[1])._greys)
    assert cv[0].shape == (1, 1, 90, 160)
    for a, b in zip(cv, pt):
        diff = (a - b).abs()
        assert diff.max() <= 1 and diff.mean() < 0.01, (float(diff.max()), float(diff.mean()))
