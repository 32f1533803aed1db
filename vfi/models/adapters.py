"""How frames go in and out of each model: one adapter object per kind of input, kept
beside the network, its weights and its recipe in the registry (:mod:`vfi.models`).
Training, evaluation, figures and inference ask the model's adapter what to do with
frames; none of them branches on a model's name or kind.

An adapter says: the dataset preset the model learns from, the channels of its input,
the scale of its frames (``levels``: the value of white), whether its input holds the
time ``t``, how a training pair is cut from a dataset triplet, and how an RGB frame
pair becomes its input and its output an RGB frame.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import crop_origin, draw_flips, mirror, window
from ..flow import WHOLE_FIELDS_PIXELS
from .autoencoders import HEIGHT, WIDTH

AUTO_TILE_PIXELS = 1280 * 720  # CUDA: larger frames go through in tiles by default
DEFAULT_TILE = 512
# CPU: tiles small enough that a tile's activations stay near the caches run the sparse
# CNN 1.5x (fp32) to 2x (bf16) faster than whole 720p frames, margins included; sizes
# measured on a 2-core Sapphire Rapids machine (benchmarks/README.md).
CPU_TILE = {"fp32": 256, "bf16": 384, "fp16": 384}
# flow-fusion, by device (CPU: True): tiles bound its memory.  One thread, 2-core AMD
# EPYC, ms per frame at 1080p in tiles of 512 / 768 / 1280 / whole: 483 / 452 / 412 /
# 567.  So on a CPU: the faster 1280 up to 1080p (the 1080p job's peak RSS 1.10 -> 1.61
# GB, its CPU time 17 % less, with the whole-frame fields of vfi.flow.frame_fields).
# Above, 1024: each tile's window carries the network's reach (72 px a side at 4K), so
# small tiles repeat work; with large blocks handed back to the system
# (vfi.pipeline.tune_allocator) the 31-frame 4K job takes 51.7-53.3 s and 1.31-1.33 GB
# in tiles of 1024 against 65.3-68.8 s and 1.30-1.32 GB in 512, 48.3 s and 1.38 GB in
# 1280, 49.5 s and 1.46 GB in 2048 (2-core Xeon; benchmarks/README.md).  A GPU takes up
# to 2048 x 2048 at once (4K in four tiles).
FLOW_TILE = {True: 1024, False: 2048}
FLOW_TILE_CPU_SMALL = 1280  # CPU tile for frames of at most FLOW_SMALL_PIXELS
FLOW_SMALL_PIXELS = WHOLE_FIELDS_PIXELS  # chosen together: 1280 tiles pay with the whole-frame fields

PAIR_WORDS = {"pair": "frames t-1 and t+1", "prev": "frame t-1", "next": "frame t+1"}


def _tile_if_larger(tile: int, h: int, w: int) -> int:
    return tile if (h > tile or w > tile) else 0


def _tensor(frame: np.ndarray) -> torch.Tensor:
    """An H x W x C array (a read-only memmap too) as a (C, H, W) float tensor."""
    return torch.from_numpy(np.array(frame)).permute(2, 0, 1).float()


class FrameAdapter:
    """What every model's frames go through; subclasses fill in their kind of input."""

    preset = "paper000"  # the 'vfi prep' preset of the datasets it learns from
    input_channels = 6
    levels = 255.0  # the value of white in the model's frames
    report_levels = 255.0  # the scale its dataset evaluation reports Blur Factors on
    takes_t = False  # its input holds the time t: any t directly (else midpoints, by bisection)
    tiles = True  # large frames may go through in tiles
    channels_last = True  # the layout its convolutions run fastest in
    batches = False  # several pairs of one size stack into one call
    crops_validation = False  # validation on crops of --val-crop (else whole frames)
    blends_inputs = False  # its input holds both RGB frames on 0..255 (losses measured against their blend)

    def description(self) -> str:
        raise NotImplementedError

    def auto_tile(self, h: int, w: int, device: torch.device, precision: str) -> int:
        """The tile size for an h x w frame when none is asked for (0: whole frames)."""
        if device.type == "cpu":
            return _tile_if_larger(CPU_TILE[precision], h, w)
        return DEFAULT_TILE if h * w > AUTO_TILE_PIXELS else 0

    def frame_needed(self, crop: int, context: int) -> int:
        """The smallest frame side a training crop (with its context) is cut from."""
        return crop

    def method(self, interpolator, depth: int):
        """The :class:`vfi.methods.Method` that runs this model in a job."""
        from ..methods import LearnedMidpoint

        return LearnedMidpoint(interpolator, depth)

    def input_blend(self, x: torch.Tensor) -> torch.Tensor:
        """The linear blend of the two RGB frames in a batch of inputs (0..255)."""
        raise TypeError("this model's input does not hold both RGB frames")


class PairAdapter(FrameAdapter):
    """Models that see the frames either side (or one of them) as they are: their
    input is the frames stacked on channels, their output the middle frame."""

    inputs = "pair"  # "pair": both neighbours; "prev": the frame before; "next": the frame after

    def stack(self, prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """Batches of frames in the model's scale (N, C, H, W) -> the model's input."""
        if self.inputs == "pair":
            return torch.cat([prev, nxt], dim=1)
        return prev if self.inputs == "prev" else nxt

    def _scaled(self, frame: np.ndarray) -> torch.Tensor:
        return _tensor(frame) / (255.0 / self.levels)

    def training_item(self, data, index: int, rng: np.random.Generator, crop: int | None, context: int, train: bool,
                      augment: bool, motion: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) for dataset triplet ``index``: a crop of the middle frame (whole
        when the frame is no larger and there is no context) and the neighbours
        reaching ``context`` pixels further on every side, so that the scored pixels
        see their real neighbours as inside a whole frame (past the frame's own edge:
        zeros, as there)."""
        a, m, b = data.frames(index)
        h, w = a.shape[:2]
        if crop and (context or h > crop or w > crop):
            # Training frames are at least the crop's size (train() leaves out smaller
            # ones); a validation frame smaller than the crop is taken whole that way.
            cy, cx = min(crop, h), min(crop, w)
            y0, x0 = crop_origin(rng, h, w, cy, cx, train)
            m = m[y0:y0 + cy, x0:x0 + cx]
            a, b = (window(f, y0 - context, x0 - context, cy + 2 * context, cx + 2 * context) for f in (a, b))
        if augment:
            flip_h, flip_v, reverse = draw_flips(rng)
            a, m, b = mirror((a, m, b), flip_h, flip_v)
            if reverse:
                a, b = b, a
        prev, mid, nxt = (self._scaled(f) for f in (a, m, b))
        return self.stack(prev.unsqueeze(0), nxt.unsqueeze(0))[0], mid

    def predict(self, model, data, index: int, device) -> np.ndarray:
        """The model's middle frame for dataset triplet ``index`` (whole), H x W x C on
        its own scale."""
        a, _, b = data.frames(index)
        prev, nxt = (self._scaled(f).unsqueeze(0).to(device) for f in (a, b))
        return model(self.stack(prev, nxt))[0].permute(1, 2, 0).float().cpu().numpy()


class RGBPairAdapter(PairAdapter):
    """Both RGB frames at their own size, on 0..255 (the sparse CNN)."""

    batches = True
    crops_validation = True
    blends_inputs = True

    def description(self) -> str:
        return "RGB frames t-1 and t+1 stacked (6 ch), any size, 0..255"

    def to_model(self, rgb0: np.ndarray, rgb1: np.ndarray, device) -> torch.Tensor:
        # H x W x 6 is already the channels-last layout the model runs in: one copy
        # to float instead of two permuted copies, a concatenation and a re-layout
        # (fewer Python-level ops, each of which may wait for the GIL in a busy job).
        both = np.concatenate([rgb0, rgb1], axis=2)
        return torch.from_numpy(both).to(device).permute(2, 0, 1).unsqueeze(0).float()

    def from_model(self, y: torch.Tensor, height: int, width: int) -> np.ndarray:
        return y[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def input_blend(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :3].float() + x[:, 3:6].float()) / 2


class GreyAdapter(PairAdapter):
    """Paper 002's autoencoders: greyscale 200x100 frames on 0..1.  In a job each RGB
    plane is its own greyscale image (stretched, so the whole frame is seen; resized
    back afterwards): a batch of 3."""

    preset = "paper002"
    levels = 1.0
    report_levels = 1.0  # paper 002's tables measure on 0..1
    tiles = False
    channels_last = False

    def __init__(self, inputs: str = "pair"):
        if inputs not in PAIR_WORDS:
            raise ValueError(f"inputs must be one of {', '.join(PAIR_WORDS)}, not {inputs!r}")
        self.inputs = inputs
        self.input_channels = 2 if inputs == "pair" else 1

    def description(self) -> str:
        return f"{PAIR_WORDS[self.inputs]}, greyscale {WIDTH}x{HEIGHT}, 0..1"

    def auto_tile(self, h: int, w: int, device: torch.device, precision: str) -> int:
        return 0

    def _planes(self, rgb: np.ndarray, device) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1).float()
        planes = x.unsqueeze(1) / 255.0  # (3, 1, H, W)
        return F.interpolate(planes, size=(HEIGHT, WIDTH), mode="bilinear", antialias=True, align_corners=False)

    def to_model(self, rgb0: np.ndarray, rgb1: np.ndarray, device) -> torch.Tensor:
        return self.stack(self._planes(rgb0, device), self._planes(rgb1, device))

    def from_model(self, y: torch.Tensor, height: int, width: int) -> np.ndarray:
        out = F.interpolate(y, size=(height, width), mode="bilinear", align_corners=False)[:, 0] * 255.0
        return out.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def reversed_time_features() -> tuple[list[int], int]:
    """flow-fusion's input channels when time runs backwards (the two warps and their
    travel cues swap), and the channel that holds t."""
    from ..flow import FEATURES

    swapped = [FEATURES.index(n.replace("0", "#").replace("1", "0").replace("#", "1")) for n in FEATURES]
    return swapped, FEATURES.index("t")


class FlowWarpAdapter(FrameAdapter):
    """flow-fusion: both frames carried to t along their motion (DIS flow, with the
    frames around the pair), with cues (:func:`vfi.flow.fusion_inputs`); out comes the
    frame at t on 0..1."""

    preset = "flow"
    input_channels = 11
    levels = 1.0
    takes_t = True

    def description(self) -> str:
        return "the pair carried to any t along quadratic paths through the frames either side (DIS flow), with cues (11 ch), any size"

    def auto_tile(self, h: int, w: int, device: torch.device, precision: str) -> int:
        # its inputs and fusion are made tile by tile too
        cpu = device.type == "cpu"
        return _tile_if_larger(FLOW_TILE_CPU_SMALL if cpu and h * w <= FLOW_SMALL_PIXELS else FLOW_TILE[cpu], h, w)

    def frame_needed(self, crop: int, context: int) -> int:
        return crop + 2 * context  # its crops and their context lie inside the frame

    def method(self, interpolator, depth: int):
        from ..methods import FlowFusionMethod

        return FlowFusionMethod(interpolator)

    def training_item(self, data, index: int, rng: np.random.Generator, crop: int | None, context: int, train: bool,
                      augment: bool, motion: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's input for a crop of the frame at t, reaching ``context`` pixels
        past it, and the true crop (0..1).  Mirror images and reversed time are as real
        as the original; the cues are magnitudes, so they mirror with the frames, and
        reversing time swaps the two warps (and their cues) and takes t to 1 - t."""
        from ..flow import fusion_inputs

        a, m, b = data.frames(index)
        pair_motion, t = data.motion(index, motion), data.time(index)
        h, w = a.shape[:2]
        if crop:
            size = crop + 2 * context
            y0, x0 = crop_origin(rng, h, w, size, size, train)
            size_y, size_x = min(size, h), min(size, w)
            x = fusion_inputs(a, b, pair_motion, t, (y0, x0, size_y, size_x))[0].permute(1, 2, 0).numpy()
            m = m[y0 + context: y0 + size_y - context, x0 + context: x0 + size_x - context]
        else:
            x = fusion_inputs(a, b, pair_motion, t)[0].permute(1, 2, 0).numpy()
        if augment:
            flip_h, flip_v, reverse = draw_flips(rng)
            x, m = mirror((x, m), flip_h, flip_v)
            if reverse:
                swapped, t_channel = reversed_time_features()
                x = x[..., swapped]
                x[..., t_channel] = 1 - x[..., t_channel]
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1), _tensor(m) / 255.0

    def predict(self, model, data, index: int, device) -> np.ndarray:
        """The model's frame at the middle frame's t for dataset triplet ``index``
        (whole), H x W x 3 on 0..1."""
        from ..flow import fusion_inputs

        a, _, b = data.frames(index)
        motion = data.motion(index, getattr(model, "motion", "quadratic"))
        x = fusion_inputs(a, b, motion, data.time(index)).to(device)
        return model(x)[0].permute(1, 2, 0).float().cpu().numpy()

    def to_model(self, rgb0: np.ndarray, rgb1: np.ndarray, device) -> torch.Tensor:
        raise TypeError("flow-fusion's input is made with the pair's motion (vfi.flow.fusion_inputs; Interpolator.fuse)")
