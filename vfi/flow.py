"""Optical flow and what the motion-compensated model sees: flow between source frames,
where every pixel of the frame at a time ``t`` between two of them comes from, the two
frames warped there, and cues that say where a warp can be trusted.

The flow is OpenCV's, on the CPU, in NumPy; everything after it is PyTorch on the
model's device (its few heavy kernels in :mod:`vfi.kernels`), so that training
(:mod:`vfi.data` stores the flows once) and inference (:mod:`vfi.methods`) compute the
same inputs, and on a GPU the per-pixel work never leaves it.

* Flow: OpenCV's DIS (dense inverse search) on the luma, on a copy at most
  ``FLOW_WIDTH`` pixels wide; DIS releases the GIL, so pairs in flight run in parallel.
* Motion: each pixel of a source frame follows a parabola through three positions, its
  own, the one the flow gives in the other frame of the pair and the one in the source
  frame on its far side (Xu et al. 2019, quadratic video interpolation): footage from a
  hand or a moving camera speeds up and slows down between frames, and a straight line
  puts it in the wrong place at ``t``.  Without that third frame (the first and last pair,
  a scene cut, a held frame) the path is a straight line.
* To ``t``: every pixel of each source frame is carried along its path to where it is at
  ``t`` and leaves there the way back (forward splatting, bilinear; where several land on
  one place, those whose flow matches the other frame best count most: the occluding
  object, not the one behind it, Niklaus & Liu 2020).  Where none lands (uncovered
  background), Super SloMo's linear blend of the two flows fills in (Jiang et al. 2018).
  This runs on a grid at half the flow's resolution (DIS ``medium`` itself ends there).
* Warp: backward, bicubic (bilinear sampling halves the detail of every half-pixel
  shift: on corpus clips bicubic halved the warped frames' |RBF|).
* Cues: the photometric disagreement of the two warps, and for each warp how far the
  source pixel it reads really travels to ``x`` (a pixel read at ``p = x + F_t0(x)``
  moves by ``d0(p)`` on its path; where the way back is right, ``|F_t0(x) + d0(p)|`` is
  small; occluded or mis-tracked pixels make it large).
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import torch

from . import kernels

FLOW_WIDTH = 640  # flow on a copy at most this wide: nothing measurable lost on real footage, 2-4x cheaper at 720p-1080p
PRESETS = ("ultrafast", "fast", "medium")
MOTIONS = ("quadratic", "linear")  # linear: Super SloMo's blend of the two flows (flow-fusion 0.2.0)
FEATURES = ("w0_r", "w0_g", "w0_b", "w1_r", "w1_g", "w1_b", "disagreement", "travel_0", "travel_1", "motion", "t")
MATCH_SHARPNESS = 0.2  # splat weight exp(-0.2 x matching error in grey levels): a 10-level error counts 1/7
SPLAT_MIN_SIDE = 64  # grids smaller than this are splatted at the flow's own resolution
# Path trust (PairMotion.trust): a path bends only where the frame beyond the pair continues
# the pair's motion.  Each side of the pair measures a bend (the parabola's quadratic term,
# pixels per interval squared: 0 on a steady motion).  At each point it must be at most
# BEND_RELATIVE x the pair's own flow there + BEND_PIXELS, and the other side must see the
# same bend within TRUST_RELATIVE x the flow + TRUST_PIXELS (each: trust 1, falling to 0 at
# twice that), the trust then averaged over a region (Gaussian, sigma TRUST_REGION
# splat-grid pixels).  Frames that do not continue the motion at all (a jump cut, frames
# dropped, a missed cut) give bends that agree only by chance (or wrongly, when both come
# from the same place elsewhere): each side bends at all only as far as GATE says from the
# share of its bend (its size counted up to GATE_CAP pixels a point) that passes both tests,
# the other side's within GATE_RELATIVE x the flow + GATE_PIXELS (none below GATE[0], all
# above GATE[1]).  A side with no frame beyond the other side to confirm it: only the size
# test.  Chosen on the validation clips (docs/eval_heldout.md); the pixel terms then
# halved (to 0.5 frame px) on 21 training and validation clips: where the motion is under
# a pixel, bends of a pixel that frames from elsewhere in a near-still shot give passed
# every test.
# The pixel terms and the cap are frame pixels (the splat grid's cells are 2 frame pixels
# up to 640 px wide, where they were chosen, 4 at 1280, 6 at 1920, 12 at 3840).
PATH_TRUST = True  # False: every bend followed (vfi 0.3.0's paths), for comparisons
BEND_RELATIVE = 1.0
BEND_PIXELS = 0.5
TRUST_RELATIVE = 1.0
TRUST_PIXELS = 0.5
TRUST_REGION = 4.0
GATE = (0.3, 0.5)
GATE_CAP = 2.0
GATE_RELATIVE = 0.5
GATE_PIXELS = 0.5
# Change in place (PairMotion.changed): where content appears, vanishes or changes rather
# than moves (text typed into a terminal, a counter ticking, film grain and flicker), no
# flow explains it, and warping makes strokes out of it; there the frame takes the
# cross-fade, whole glyphs at once.  A pixel of one frame is unexplained where its flow
# leaves a matching error of at least CHANGE_LEVELS[0] grey levels (fully at [1]) and,
# over a CHANGE_WINDOW-wide box, the flow removes little of the difference the unmoved
# frames show (error / (difference + CHANGE_EPS) from CHANGE_RATIO[0], fully at [1]);
# and only in a still neighbourhood (STILL_WINDOW wide): its matched pixels move less
# than STILL_MOTION[0] frame pixels (none above [1]; the grid's cells are 2 frame pixels
# up to 640 px wide, 4 at 1280, 1 below 64 px), or a share of STILL_SHARE[0] (fully [1]) of
# its pixels is unchanged within STILL_LEVELS.  Either frame's unexplained pixel, read
# along the paths to t, counts; the region grows by a grid pixel and is smoothed.  Chosen
# on the training and validation clips (docs/flow_fusion_experiments.md).
CHANGE_FALLBACK = True  # False: no cross-fade where content changes in place, for comparisons
CHANGE_LEVELS = (12.0, 24.0)
CHANGE_RATIO = (0.5, 0.8)
CHANGE_WINDOW = 5
CHANGE_EPS = 4.0
STILL_WINDOW = 9
STILL_MOTION = (1.0, 2.0)  # frame pixels
STILL_LEVELS = 2.0
STILL_SHARE = (0.3, 0.6)


def _cv2():
    import cv2

    return cv2


class FlowEstimator:
    """Dense flow between RGB frames (H x W x 3 uint8).  ``estimator(rgb0, rgb1)`` gives
    ``(F01, F10)`` at the frames' size (H x W x 2 float32, pixels, (dx, dy));
    ``grey(rgb)`` and ``flow(g0, g1)`` give one direction on the smaller copy DIS works on.
    One DIS object per thread (it keeps state between calls), so one estimator can serve
    several model streams."""

    def __init__(self, preset: str = "medium", max_width: int = FLOW_WIDTH):
        if preset not in PRESETS:
            raise ValueError(f"flow preset must be one of {', '.join(PRESETS)}, not {preset!r}")
        self.preset = preset
        self.max_width = max_width
        self._local = threading.local()

    def _dis(self):
        d = getattr(self._local, "dis", None)
        if d is None:
            cv2 = _cv2()
            code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[self.preset]
            d = self._local.dis = cv2.DISOpticalFlow_create(code)
        return d

    def grey(self, rgb: np.ndarray) -> np.ndarray:
        """The frame as DIS reads it: 8-bit luma, at most ``max_width`` wide (and at least
        16 x 16: DIS needs a patch)."""
        cv2 = _cv2()
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        scale = min(1.0, self.max_width / w)
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        if size != (w, h):
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return grey

    def flow(self, g0: np.ndarray, g1: np.ndarray) -> np.ndarray:
        """Flow from ``g0`` to ``g1`` (two :meth:`grey` copies), in their pixels."""
        return self._dis().calc(g0, g1, None)

    def __call__(self, rgb0: np.ndarray, rgb1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g0, g1 = self.grey(rgb0), self.grey(rgb1)
        return to_size(self.flow(g0, g1), rgb0.shape[:2]), to_size(self.flow(g1, g0), rgb0.shape[:2])


def to_size(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A flow field resized to ``size`` (H, W), its vectors scaled with it."""
    h, w = flow.shape[:2]
    if (h, w) == tuple(size):
        return flow
    cv2 = _cv2()
    return cv2.resize(flow, (size[1], size[0]), interpolation=cv2.INTER_LINEAR) * np.float32([size[1] / w, size[0] / h])


def usable_neighbour(grey_n: np.ndarray, grey_x: np.ndarray) -> bool:
    """Whether a source frame next to a pair says something about its motion: not if it
    only repeats the pair's frame beside it (a held frame)."""
    from .scenes import is_hold

    return not is_hold(grey_n, grey_x)


def flows_to_time(f01, f10, t: float):
    """(F_t0, F_t1): where each pixel of the frame at ``t`` is found in frame 0 and in
    frame 1, by Super SloMo's linear blend of the two flows (right for a steady motion
    away from its edges).  Arrays or tensors."""
    return f01 * (-(1 - t) * t) + f10 * (t * t), f01 * ((1 - t) * (1 - t)) + f10 * (-t * (1 - t))


def path_weights(s: float, u1: float, u2: float | None) -> tuple[float, float]:
    """(alpha, beta) such that ``alpha g1 + beta g2`` is where a pixel is at time ``s``
    on the parabola through (0, 0), (u1, g1) and (u2, g2): its own frame at time 0 and two
    others at u1 and u2 (in the pair's intervals).  ``u2`` None: the line through the
    first two (beta 0)."""
    if u2 is None:
        return s / u1, 0.0
    det = u1 * u2 * (u2 - u1) / 2
    return (s * u2 * u2 / 2 - s * s * u2 / 2) / det, (s * s * u1 / 2 - s * u1 * u1 / 2) / det


def frame_tensor(rgb, device: torch.device | str = "cpu") -> tuple[torch.Tensor, bool]:
    """An H x W x 3 frame (uint8, or float levels of a deeper source) as the (1, 3, H, W)
    tensor the warps read, and whether it holds whole 8-bit levels (its warps are then
    rounded to them, as an 8-bit warp gives).  On a CPU 8-bit frames stay 8-bit (the
    warp reads them as they are); elsewhere they become float once, on the device."""
    if isinstance(rgb, torch.Tensor):
        return rgb, rgb.dtype == torch.uint8
    levels = rgb.dtype == np.uint8
    x = _view(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1).unsqueeze(0)
    if not (levels and x.device.type == "cpu"):
        x = x.float().contiguous(memory_format=torch.channels_last)
    return x, levels


def _view(a: np.ndarray) -> torch.Tensor:
    """A tensor over ``a``'s memory, read only here (source frames and stored flows may be
    read-only arrays: PyTorch warns, though nothing writes to them)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a)


def _field(f, device) -> torch.Tensor | None:
    """An H x W x 2 flow (NumPy or tensor) as a (1, 2, H, W) float32 tensor on ``device``."""
    if f is None:
        return None
    if isinstance(f, np.ndarray):
        f = _view(np.ascontiguousarray(f, dtype=np.float32))
    return f.to(device).permute(2, 0, 1).unsqueeze(0).float()


def _grey(g, device) -> torch.Tensor | None:
    if g is None:
        return None
    g = _view(np.ascontiguousarray(g)) if isinstance(g, np.ndarray) else g
    return g.to(device)[None, None]


def _resize_field(f: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (1, 2, h, w) flow resized to ``size``, its vectors scaled with it."""
    h, w = f.shape[-2:]
    if (h, w) == tuple(size):
        return f
    return _scaled(kernels.resize(f.contiguous(), size), size[1] / w, size[0] / h)


def _scaled(v: torch.Tensor, sx: float, sy: float) -> torch.Tensor:
    """A (1, 2, h, w) vector field with its x components times ``sx`` and its y times ``sy``.
    The factors stay Python numbers: a tensor of them made on the host would be copied to
    a GPU, and the host would wait for the device, at every call."""
    return torch.cat([v[:, 0:1] * sx, v[:, 1:2] * sy], dim=1)


class PairMotion:
    """The motion of one pair of source frames (0 and 1) as the flow measured it, and
    where every pixel of the frame at a time ``t`` between them comes from (:meth:`at`).

    ``f01``, ``f10``: flow both ways (H x W x 2, NumPy or tensors), on a grid that may be
    smaller than the frames (flow on a smaller copy), in that grid's pixels.  ``f0b``,
    ``f1a``: flow from frame 0 to the source frame before the pair and from frame 1 to
    the one after it (or None), and ``s_before``, ``s_after`` their times in units of the
    pair's interval (-1 and 2 for evenly spaced frames).  ``size``: the frames' (H, W).
    ``kind``: "quadratic" (paths through three frames where a third is given, carried to
    ``t`` by splatting) or "linear" (Super SloMo's blend, the 0.2.0 model's inputs).
    ``grey0``, ``grey1``: the frames as the flow saw them, whose matching error weights
    the splat (default: all equal).  ``device``: where the motion is worked out (the
    model's device); the flows move there once."""

    def __init__(self, f01, f10, size: tuple[int, int], f0b=None, f1a=None, s_before: float = -1.0,
                 s_after: float = 2.0, kind: str = "quadratic", grey0=None, grey1=None, device: torch.device | str = "cpu"):
        if kind not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, not {kind!r}")
        if not (s_before < 0 and s_after > 1):
            raise ValueError(f"the frames around a pair lie before 0 and after 1, not at {s_before} and {s_after}")
        self.size, self.kind, self.device = tuple(size), kind, torch.device(device)
        self.f01, self.f10, self.f0b, self.f1a = (_field(f, self.device) for f in (f01, f10, f0b, f1a))
        self.s_before, self.s_after = float(s_before), float(s_after)
        self.grey0, self.grey1 = _grey(grey0, self.device), _grey(grey1, self.device)

    def reversed(self) -> "PairMotion":
        """The same motion with time running backwards (frame 1 first)."""
        flip = lambda f: None if f is None else f[0].permute(1, 2, 0)  # noqa: E731
        grey = lambda g: None if g is None else g[0, 0]  # noqa: E731
        return PairMotion(flip(self.f10), flip(self.f01), self.size, flip(self.f1a), flip(self.f0b), 1 - self.s_after,
                          1 - self.s_before, self.kind, grey(self.grey1), grey(self.grey0), self.device)

    @functools.cached_property
    def _grid_size(self) -> tuple[int, int]:
        """The splat grid's (h, w): half the flow's, unless that is small."""
        h, w = self.f01.shape[-2:]
        down = 2 if min(h, w) >= SPLAT_MIN_SIDE else 1
        return -(-h // down), -(-w // down)

    @functools.cached_property
    def _grid(self):
        """The splat grid: flows, weights and the scale from it to the frames."""
        gh, gw = self._grid_size
        f01, f10, f0b, f1a = (None if f is None else _resize_field(f, (gh, gw)) for f in (self.f01, self.f10, self.f0b, self.f1a))
        w0 = w1 = None
        if self._greys is not None and self.kind == "quadratic":
            g0, g1 = self._greys
            w0, w1 = _match_weight(g0, g1, f01), _match_weight(g1, g0, f10)
        scale = (self.size[1] / gw, self.size[0] / gh)
        return f01, f10, f0b, f1a, w0, w1, scale

    @functools.cached_property
    def _cell(self) -> float:
        """Frame pixels per splat-grid pixel (the mean of the grid's two scales)."""
        return sum(self._grid[-1]) / 2

    @functools.cached_property
    def _greys(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The frames as DIS saw them on the splat grid (area-resized, in whole levels), or None."""
        if self.grey0 is None or self.grey1 is None:
            return None
        return tuple(kernels.resize(g.float(), self._grid_size, "area").round_() for g in (self.grey0, self.grey1))

    @functools.cached_property
    def _unexplained(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each frame's pixels that changed in place rather than moved, 0..1 on the splat
        grid (see :data:`CHANGE_FALLBACK`), or None."""
        if not CHANGE_FALLBACK or self._greys is None:
            return None
        f01, f10, *_ = self._grid
        g0, g1 = self._greys
        u0, u1 = _changed_in_place(g0, g1, f01, self._cell), _changed_in_place(g1, g0, f10, self._cell)
        if self.device.type != "cpu":  # a GPU: no wait for it to say whether anything fades (a lerp by 0 keeps the frame)
            return u0, u1
        return (u0, u1) if bool(torch.maximum(u0.amax(), u1.amax()) > 0) else None  # most pairs: nothing to fade

    def changed(self, fields: torch.Tensor) -> torch.Tensor | None:
        """Where the frame at t (whose :meth:`at` is ``fields``) should be the cross-fade,
        0..1, (1, 1, h, w) on the splat grid: where either frame's content read along the
        paths changed in place; None where nothing says so (on a CPU; elsewhere the map is
        given even where it is 0 everywhere, rather than wait for the device to say so)."""
        if self._unexplained is None:
            return None
        u0, u1 = self._unexplained
        sx, sy = self._grid[-1]
        to_grid = lambda f: _scaled(f, 1 / sx, 1 / sy)  # noqa: E731  frame pixels to the grid's
        near = torch.maximum(_read(u0, to_grid(fields[:, 0:2])), _read(u1, to_grid(fields[:, 2:4])))
        near = torch.nn.functional.max_pool2d(near, 3, 1, 1)  # a glyph's rim with it
        return torch.maximum(_region(near, 1.0), near).clamp_(0, 1)

    def paths(self, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(d0, d1) on the splat grid, (1, 2, h, w): how far each pixel of frame 0 moves
        from time 0 to ``t``, and each pixel of frame 1 from time 1 back to ``t``: the
        straight path, bent towards the parabola as far as :attr:`trust` says."""
        f01, f10, f0b, f1a, *_ = self._grid
        if self.kind == "linear":
            f0b = f1a = None  # 0.2.0's straight paths
        trust0, trust1 = self.trust
        a, b = path_weights(t, 1.0, self.s_before if f0b is not None else None)
        d0 = f01 * a + f0b * b if f0b is not None else f01 * a
        if trust0 is not None:
            d0 = torch.lerp(f01 * t, d0, trust0)
        a, b = path_weights(t - 1, -1.0, self.s_after - 1 if f1a is not None else None)
        d1 = f10 * a + f1a * b if f1a is not None else f10 * a
        if trust1 is not None:
            d1 = torch.lerp(f10 * (1 - t), d1, trust1)
        return d0, d1

    @functools.cached_property
    def trust(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(trust0, trust1), (1, 1, h, w) on the splat grid, 0..1 (None: the path is
        followed as it is): how far each side's path follows its parabola rather than the
        straight line.  See :data:`PATH_TRUST`."""
        f01, f10, f0b, f1a, *_ = self._grid
        if self.kind == "linear" or not PATH_TRUST or (f0b is None and f1a is None):
            return None, None
        c0 = None if f0b is None else _bend(f01, 1.0, f0b, self.s_before)
        c1 = None if f1a is None else _bend(f10, -1.0, f1a, self.s_after - 1)
        px = 1 / self._cell  # splat-grid pixels per frame pixel: the terms are frame pixels
        # a bend no larger than the pair's own motion ...
        m0 = None if c0 is None else _agreement(c0, torch.zeros_like(c0), f01, BEND_RELATIVE, BEND_PIXELS * px)
        m1 = None if c1 is None else _agreement(c1, torch.zeros_like(c1), f10, BEND_RELATIVE, BEND_PIXELS * px)
        if c0 is None or c1 is None:  # one side: nothing to confirm its bend
            return m0, m1
        # ... that the other side of the pair sees at the same point
        o0, o1 = _read(c1, f01), _read(c0, f10)
        t0 = _agreement(c0, o0, f01, TRUST_RELATIVE, TRUST_PIXELS * px) * m0
        t1 = _agreement(c1, o1, f10, TRUST_RELATIVE, TRUST_PIXELS * px) * m1
        g0 = _confirmed(c0, _agreement(c0, o0, f01, GATE_RELATIVE, GATE_PIXELS * px) * m0, GATE_CAP * px)
        g1 = _confirmed(c1, _agreement(c1, o1, f10, GATE_RELATIVE, GATE_PIXELS * px) * m1, GATE_CAP * px)
        return _region(t0) * g0, _region(t1) * g1

    def at(self, t: float) -> torch.Tensor:
        """On the splat grid, in frame pixels, as one (1, 7, h, w) tensor: (F_t0, F_t1),
        where each pixel of the frame at ``t`` is found in frame 0 and in frame 1; each
        way's travel error (:data:`FEATURES`); and the size of the motion (|F01| + |F10|)."""
        f01, f10, _, _, w0, w1, (sx, sy) = self._grid
        d0, d1 = self.paths(t)
        lin0, lin1 = flows_to_time(f01, f10, t)
        if self.kind == "linear":
            ft0, ft1 = lin0, lin1
        else:
            ft0, ft1 = _splat_back(d0, w0, lin0), _splat_back(d1, w1, lin1)
        travel0, travel1 = _travel(ft0, d0), _travel(ft1, d1)
        return torch.cat([_scaled(ft0, sx, sy), _scaled(ft1, sx, sy), travel0 * self._cell, travel1 * self._cell, self._size],
                         dim=1)

    @functools.cached_property
    def _size(self) -> torch.Tensor:
        """|F01| + |F10| in frame pixels on the splat grid: the same for every t."""
        f01, f10, *_, (sx, sy) = self._grid
        return _norm(_scaled(f01, sx, sy)) + _norm(_scaled(f10, sx, sy))


def _bend(g1: torch.Tensor, u1: float, g2: torch.Tensor, u2: float) -> torch.Tensor:
    """The quadratic term c of the parabola ``v u + c u^2`` through (0, 0), (u1, g1) and
    (u2, g2): half the acceleration, pixels per interval squared (0 on a steady motion)."""
    return (g2 * u1 - g1 * u2) * (1.0 / (u1 * u2 * (u2 - u1)))


def _read(field: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``field`` (of the other frame) read where ``flow`` takes each pixel (bilinear)."""
    gx, gy = _base_grid(*flow.shape[-2:], flow.device)
    return kernels.remap(field.contiguous(memory_format=torch.channels_last), gx + flow[0, 0], gy + flow[0, 1], "bilinear")


def _agreement(c: torch.Tensor, other: torch.Tensor, flow: torch.Tensor, relative: float, pixels: float) -> torch.Tensor:
    """1 where |c - other| <= relative |flow| + pixels, falling to 0 at twice that."""
    tolerance = _norm(flow) * relative + pixels
    return (2 - _norm(c - other) / tolerance).clamp_(0, 1)


def _confirmed(c: torch.Tensor, agreement: torch.Tensor, cap: float) -> torch.Tensor:
    """0..1 by :data:`GATE`, from the share of one side's bend (its size counted up to
    ``cap``, :data:`GATE_CAP` in the bend's pixels) that the other side confirms: a (1, 1, 1, 1) tensor
    (no wait for the device)."""
    size = _norm(c).clamp_(max=cap)
    share = (size * agreement).sum() / size.sum().clamp(min=1e-6)
    lo, hi = GATE
    return ((share - lo) / (hi - lo)).clamp(0, 1).view(1, 1, 1, 1)


def _region(trust: torch.Tensor | None, sigma: float | None = None) -> torch.Tensor | None:
    """The trust averaged over a region around each pixel (Gaussian, ``sigma``; default :data:`TRUST_REGION`)."""
    sigma = TRUST_REGION if sigma is None else sigma
    if trust is None or sigma <= 0:
        return trust
    r = max(1, round(3 * sigma))
    x = torch.arange(-r, r + 1, dtype=torch.float32, device=trust.device)
    g = torch.exp(x * x * (-0.5 / (sigma * sigma)))
    return kernels.gaussian_blur(trust.contiguous(), g / g.sum())


def _base_grid(h: int, w: int, device, y0: int = 0, x0: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel x and y coordinates of an h x w window at (y0, x0), as two h x w planes."""
    gy, gx = torch.meshgrid(torch.arange(y0, y0 + h, dtype=torch.float32, device=device),
                            torch.arange(x0, x0 + w, dtype=torch.float32, device=device), indexing="ij")
    return gx, gy


def _match_weight(g0: torch.Tensor, g1: torch.Tensor, f01: torch.Tensor) -> torch.Tensor:
    """How well each pixel of ``g0`` matches where its flow takes it in ``g1``, as a
    splat weight: exp(-MATCH_SHARPNESS x |difference| in grey levels); (h, w)."""
    gx, gy = _base_grid(*g0.shape[-2:], g0.device)
    seen = kernels.remap(g1, gx + f01[0, 0], gy + f01[0, 1], "bilinear", levels=True)
    return torch.exp((g0 - seen).abs_()[0, 0] * -MATCH_SHARPNESS)


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    """The mean over a k x k box (k odd) around each pixel, within the frame, of a
    (1, 1, h, w) plane (on a CPU by OpenCV: 10x faster than PyTorch's pooling)."""
    if not kernels.use_cv2(x):
        return torch.nn.functional.avg_pool2d(x, k, 1, k // 2, count_include_pad=False)
    cv2 = _cv2()
    plane = np.ascontiguousarray(x[0, 0].numpy())
    total = cv2.boxFilter(plane, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return torch.from_numpy(total / _box_count(plane.shape, plane.dtype.str, k))[None, None]


@functools.lru_cache(maxsize=16)
def _box_count(shape: tuple[int, int], dtype: str, k: int) -> np.ndarray:
    """How many pixels of an h x w plane a k x k box around each pixel holds (fewer at
    the edges): the same for every plane of that size, so made once."""
    cv2 = _cv2()
    count = cv2.boxFilter(np.ones(shape, np.dtype(dtype)), -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    count.flags.writeable = False
    return count


def _ramp(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return ((x - lo) * (1.0 / (hi - lo))).clamp_(0, 1)


def _changed_in_place(g0: torch.Tensor, g1: torch.Tensor, f01: torch.Tensor, cell: float) -> torch.Tensor:
    """0..1 per pixel of ``g0``: changed in place rather than moved (:data:`CHANGE_FALLBACK`).
    ``cell``: frame pixels per pixel of ``g0`` (the still test's motion is in frame pixels)."""
    gx, gy = _base_grid(*g0.shape[-2:], g0.device)
    error = (g0 - kernels.remap(g1, gx + f01[0, 0], gy + f01[0, 1], "bilinear")).abs_()
    unmoved = (g0 - g1).abs_()
    explained = _box(error, CHANGE_WINDOW) / (_box(unmoved, CHANGE_WINDOW) + CHANGE_EPS)
    u = _ramp(error, *CHANGE_LEVELS) * _ramp(explained, *CHANGE_RATIO)
    matched = 1 - u
    motion = _box(_norm(f01) * matched, STILL_WINDOW) / _box(matched, STILL_WINDOW).clamp(min=1e-3) * cell
    still = torch.maximum(1 - _ramp(motion, *STILL_MOTION), _ramp(_box((unmoved <= STILL_LEVELS).float(), STILL_WINDOW), *STILL_SHARE))
    return u * still


def cross_fade_where_changed(y: torch.Tensor, rgb0: torch.Tensor, rgb1: torch.Tensor, t: float,
                             changed: torch.Tensor) -> torch.Tensor:
    """The made frame ``y`` (1, 3, h, w on 0..1) with the cross-fade of the unmoved source
    frames (:func:`frame_tensor` windows, levels) mixed in as far as ``changed`` (1, 1, h, w) says."""
    if kernels.use_cv2(y):  # a CPU: only the box where it fades
        rows, cols = changed.amax(dim=(0, 1, 3)).nonzero(), changed.amax(dim=(0, 1, 2)).nonzero()
        if not len(rows):
            return y
        box = (..., slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))  # only where it fades
    else:  # CUDA: the whole window rather than six waits for the device to say where (a lerp by 0 keeps y as it is)
        box = (...,)
    fade = torch.lerp(rgb0[box].float(), rgb1[box].float(), float(t)).mul_(1.0 / 255)
    y[box] = torch.lerp(y[box], fade, changed[box])
    return y


def _splat_back(d: torch.Tensor, weight: torch.Tensor | None, fill: torch.Tensor) -> torch.Tensor:
    """Every pixel p carried to p + d(p) (bilinear, weighted) leaves -d(p) there: the flow
    from the moved frame back to the source.  Where nothing lands: ``fill``."""
    h, w = d.shape[-2:]
    gx, gy = _base_grid(h, w, d.device)
    x, y = gx + d[0, 0], gy + d[0, 1]
    x0, y0 = torch.floor(x), torch.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    wt = torch.ones_like(fx) if weight is None else weight
    values = torch.stack([d[0, 0], d[0, 1], torch.ones_like(fx)]).reshape(3, -1)
    sums = torch.zeros(3, h * w + 1, dtype=torch.float64 if d.device.type == "cpu" else torch.float32, device=d.device)
    for dx, dy, corner in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        at = torch.where(inside, yi * w + xi, h * w).reshape(-1)  # outside: a spare bin
        sums.index_add_(1, at, (values * (corner * wt).reshape(1, -1)).to(sums.dtype))
    total = sums[2, :-1].view(h, w)
    landed = total > 1e-3
    back = -(sums[:2, :-1].view(2, h, w) / torch.where(landed, total, 1.0))
    return torch.where(landed, back.float(), fill[0]).unsqueeze(0)


def _travel(ft: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """|F_t(x) + d(x + F_t(x))|: how far the pixel read at x + F_t(x) misses x at t."""
    gx, gy = _base_grid(*ft.shape[-2:], ft.device)
    moved = kernels.remap(d.contiguous(memory_format=torch.channels_last), gx + ft[0, 0], gy + ft[0, 1], "bilinear")
    return _norm(ft + moved)


def _norm(v: torch.Tensor) -> torch.Tensor:
    """|v| of a (1, 2, h, w) field: (1, 1, h, w)."""
    return torch.sqrt(v[:, 0:1] * v[:, 0:1] + v[:, 1:2] * v[:, 1:2])


def _upsample_window(fields: torch.Tensor, size: tuple[int, int], window: tuple[int, int, int, int],
                     cell: int = 1) -> torch.Tensor:
    """The (1, C, H, W) bilinear upsampling of ``fields`` (half-pixel centres, edges
    repeated: OpenCV's INTER_LINEAR), only in ``window`` = (top, left, height, width);
    with ``cell`` > 1, sampled once per ``cell`` x ``cell`` block of the window, at its
    centre ((1, C, ceil(h / cell), ceil(w / cell))): what the network at that scale reads."""
    H, W = size
    y0, x0, h, w = window
    gh, gw = fields.shape[-2:]
    if cell == 1 and (gh, gw) == (H, W):
        return fields[..., y0:y0 + h, x0:x0 + w]
    if cell == 1 and window == (0, 0, H, W):
        return kernels.resize(fields, (H, W))

    def taps(start, n, src, dst):
        # centre of each block of ``cell`` frame pixels, in grid pixels
        pos = ((torch.arange(n, dtype=torch.float64, device=fields.device) * cell + start + cell / 2) * (src / dst) - 0.5)
        pos = pos.clamp_(0, src - 1)
        i0 = pos.floor().long().clamp_(max=src - 1)
        return i0, (i0 + 1).clamp_(max=src - 1), (pos - i0).float()

    r0, r1, fy = taps(y0, -(-h // cell), gh, H)
    c0, c1, fx = taps(x0, -(-w // cell), gw, W)
    # columns first, on the small grid: gathering whole rows afterwards is a plain copy
    cols = torch.lerp(fields.index_select(3, c0), fields.index_select(3, c1), fx)
    return torch.lerp(cols.index_select(2, r0), cols.index_select(2, r1), fy.view(-1, 1))


def frame_fields(fields: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The two source positions of ``fields`` (:meth:`PairMotion.at`: F_t0, F_t1) upsampled
    to the whole frame of ``size`` at once ((1, 4, H, W)): one OpenCV resize instead of a gather per tile (6x faster per
    pixel on a CPU), for frames small enough to hold them (``WHOLE_FIELDS_PIXELS``)."""
    return kernels.resize(fields[:, :4].contiguous(memory_format=torch.channels_last), size)


WHOLE_FIELDS_PIXELS = 1920 * 1088  # up to 1080p the frame's fields are made whole (33 MB), above in tiles


def warped_inputs(rgb0, rgb1, motion: PairMotion, t: float, window: tuple[int, int, int, int] | None = None,
                  fields: torch.Tensor | None = None, cell: int = 1,
                  whole: torch.Tensor | None = None, levels: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The parts of :func:`fusion_inputs` that vary across the frame, kept apart so that
    each is laid out for what reads it: both frames warped to ``t`` (two (1, 3, h, w) on
    0..1) and the four cues ((1, 4, h, w): disagreement, travel errors, motion size).

    ``cell`` > 1: the cues as the network reads them at that scale, one per ``cell`` x
    ``cell`` block ((1, 4, ceil(h / cell), ceil(w / cell))): the disagreement is the
    block's mean, the travel errors and the motion size (smooth fields on a grid coarser
    than the network's) are sampled at the block's centre instead of being made at full
    size and pooled.  ``whole``: :func:`frame_fields` when the caller made them.
    ``levels``: whether tensors given as ``rgb0``/``rgb1`` hold 8-bit levels (on a GPU
    8-bit frames are float there), as :func:`frame_tensor` said of them."""
    (x0t, own_levels), (x1t, _) = frame_tensor(rgb0, motion.device), frame_tensor(rgb1, motion.device)
    levels = own_levels if levels is None else levels
    H, W = x0t.shape[-2:]
    window = window or (0, 0, H, W)
    h, w = window[2:]
    grid = motion.at(t) if fields is None else fields
    w0, w1 = warps_to_t(x0t, x1t, grid, window, whole, levels)
    if cell == 1:
        cues = torch.empty((1, 4, h, w), dtype=torch.float32, device=w0.device)
        torch.sum(torch.abs(w0 - w1), dim=1, keepdim=True, out=cues[:, 0:1]).mul_(1.0 / 255 / 3)
        torch.log1p(_upsample_window(grid[:, 4:7], (H, W), window), out=cues[:, 1:4])
    else:
        disagreement = kernels.resize_cells(torch.sum(torch.abs(w0 - w1), dim=1, keepdim=True), cell).mul_(1.0 / 255 / 3)
        cues = torch.cat([disagreement, torch.log1p(_upsample_window(grid[:, 4:7], (H, W), window, cell))], dim=1)
    return w0.mul_(1.0 / 255), w1.mul_(1.0 / 255), cues


def warps_to_t(x0t: torch.Tensor, x1t: torch.Tensor, fields: torch.Tensor, window: tuple[int, int, int, int],
               whole: torch.Tensor | None = None, levels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Both frames (:func:`frame_tensor`) carried to the time of ``fields`` (:meth:`PairMotion.at`)
    by bicubic warps, over ``window`` = (top, left, height, width): two (1, 3, h, w) float32 on
    0..255 (rounded to whole levels where ``levels``).  ``whole``: :func:`frame_fields` when
    the caller made them."""
    H, W = x0t.shape[-2:]
    y0, x0, h, w = window
    f = whole[..., y0:y0 + h, x0:x0 + w] if whole is not None else _upsample_window(fields[:, :4], (H, W), window)
    gx, gy = _base_grid(h, w, f.device, y0, x0)
    return (kernels.remap(x0t, gx + f[0, 0], gy + f[0, 1], "bicubic", levels),
            kernels.remap(x1t, gx + f[0, 2], gy + f[0, 3], "bicubic", levels))


def fusion_inputs(rgb0, rgb1, motion: PairMotion, t: float, window: tuple[int, int, int, int] | None = None,
                  fields: torch.Tensor | None = None) -> torch.Tensor:
    """The motion-compensated model's input for time ``t``: (1, 11, h, w) float32 on the
    motion's device (see ``FEATURES``): both frames warped to ``t`` (0..1), their mean
    absolute disagreement, each warp's travel error (log(1 + pixels)), the motion's size
    (log(1 + pixels)) and t.

    ``rgb0``, ``rgb1``: H x W x 3 arrays or :func:`frame_tensor` tensors.  ``window`` =
    (top, left, height, width): only that part of the frame at ``t`` (tiles, training
    crops); the warps still read the whole source frames, so a window equals that crop of
    the whole.  ``fields``: ``motion.at(t)`` when the caller already has it."""
    w0, w1, cues = warped_inputs(rgb0, rgb1, motion, t, window, fields)
    return torch.cat([w0, w1, cues, torch.full_like(cues[:, :1], float(t))], dim=1).contiguous()
