"""Optical flow and what the motion-compensated model sees: flow between source frames,
where every pixel of the frame at a time ``t`` between two of them comes from, the two
frames warped there, and cues that say where a warp can be trusted.

NumPy and OpenCV only (no PyTorch), so that training (:mod:`vfi.data` stores the flows
once) and inference (:mod:`vfi.methods`) compute exactly the same inputs.

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

FLOW_WIDTH = 640  # flow on a copy at most this wide: nothing measurable lost on real footage, 2-4x cheaper at 720p-1080p
PRESETS = ("ultrafast", "fast", "medium")
MOTIONS = ("quadratic", "linear")  # linear: Super SloMo's blend of the two flows (flow-fusion 0.2.0)
FEATURES = ("w0_r", "w0_g", "w0_b", "w1_r", "w1_g", "w1_b", "disagreement", "travel_0", "travel_1", "motion", "t")
MATCH_SHARPNESS = 0.2  # splat weight exp(-0.2 x matching error in grey levels): a 10-level error counts 1/7
SPLAT_MIN_SIDE = 64  # grids smaller than this are splatted at the flow's own resolution


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


def flows_to_time(f01: np.ndarray, f10: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """(F_t0, F_t1): where each pixel of the frame at ``t`` is found in frame 0 and in
    frame 1, by Super SloMo's linear blend of the two flows (right for a steady motion
    away from its edges)."""
    cv2 = _cv2()
    ft0 = cv2.addWeighted(f01, -(1 - t) * t, f10, t * t, 0.0)
    ft1 = cv2.addWeighted(f01, (1 - t) * (1 - t), f10, -t * (1 - t), 0.0)
    return ft0, ft1


def path_weights(s: float, u1: float, u2: float | None) -> tuple[float, float]:
    """(alpha, beta) such that ``alpha g1 + beta g2`` is where a pixel is at time ``s``
    on the parabola through (0, 0), (u1, g1) and (u2, g2): its own frame at time 0 and two
    others at u1 and u2 (in the pair's intervals).  ``u2`` None: the line through the
    first two (beta 0)."""
    if u2 is None:
        return s / u1, 0.0
    det = u1 * u2 * (u2 - u1) / 2
    return (s * u2 * u2 / 2 - s * s * u2 / 2) / det, (s * s * u1 / 2 - s * u1 * u1 / 2) / det


class PairMotion:
    """The motion of one pair of source frames (0 and 1) as the flow measured it, and
    where every pixel of the frame at a time ``t`` between them comes from (:meth:`at`).

    ``f01``, ``f10``: flow both ways, on a grid that may be smaller than the frames (flow
    on a smaller copy), in that grid's pixels.  ``f0b``, ``f1a``: flow from frame 0 to the
    source frame before the pair and from frame 1 to the one after it (or None), and
    ``s_before``, ``s_after`` their times in units of the pair's interval (-1 and 2 for
    evenly spaced frames).  ``size``: the frames' (H, W).  ``kind``: "quadratic" (paths
    through three frames where a third is given, carried to ``t`` by splatting) or
    "linear" (Super SloMo's blend, the 0.2.0 model's inputs).  ``grey0``, ``grey1``: the
    frames as the flow saw them, whose matching error weights the splat (default: all
    equal)."""

    def __init__(self, f01, f10, size: tuple[int, int], f0b=None, f1a=None, s_before: float = -1.0,
                 s_after: float = 2.0, kind: str = "quadratic", grey0=None, grey1=None):
        if kind not in MOTIONS:
            raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, not {kind!r}")
        if not (s_before < 0 and s_after > 1):
            raise ValueError(f"the frames around a pair lie before 0 and after 1, not at {s_before} and {s_after}")
        self.size, self.kind = tuple(size), kind
        self.f01, self.f10, self.f0b, self.f1a = f01, f10, f0b, f1a
        self.s_before, self.s_after = float(s_before), float(s_after)
        self.grey0, self.grey1 = grey0, grey1

    def reversed(self) -> "PairMotion":
        """The same motion with time running backwards (frame 1 first)."""
        return PairMotion(self.f10, self.f01, self.size, self.f1a, self.f0b, 1 - self.s_after, 1 - self.s_before,
                          self.kind, self.grey1, self.grey0)

    @functools.cached_property
    def _grid(self):
        """The splat grid: flows, weights and the scale from it to the frames."""
        cv2 = _cv2()
        h, w = self.f01.shape[:2]
        down = 2 if min(h, w) >= SPLAT_MIN_SIDE else 1
        gh, gw = -(-h // down), -(-w // down)

        def small(f):
            return None if f is None else to_size(f, (gh, gw))

        f01, f10, f0b, f1a = (small(f) for f in (self.f01, self.f10, self.f0b, self.f1a))
        w0 = w1 = None
        if self.grey0 is not None and self.grey1 is not None and self.kind == "quadratic":
            g0, g1 = (cv2.resize(g, (gw, gh), interpolation=cv2.INTER_AREA) if g.shape != (gh, gw) else g
                      for g in (self.grey0, self.grey1))
            w0, w1 = _match_weight(g0, g1, f01), _match_weight(g1, g0, f10)
        scale = np.float32([self.size[1] / gw, self.size[0] / gh])
        return f01, f10, f0b, f1a, w0, w1, scale

    def paths(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(d0, d1) on the splat grid: how far each pixel of frame 0 moves from time 0 to
        ``t``, and each pixel of frame 1 from time 1 back to ``t``."""
        cv2 = _cv2()
        f01, f10, f0b, f1a, *_ = self._grid
        if self.kind == "linear":
            f0b = f1a = None  # 0.2.0's straight paths
        a, b = path_weights(t, 1.0, self.s_before if f0b is not None else None)
        d0 = cv2.addWeighted(f01, a, f0b, b, 0.0) if f0b is not None else f01 * np.float32(a)
        a, b = path_weights(t - 1, -1.0, self.s_after - 1 if f1a is not None else None)
        d1 = cv2.addWeighted(f10, a, f1a, b, 0.0) if f1a is not None else f10 * np.float32(a)
        return d0, d1

    def at(self, t: float) -> tuple[np.ndarray, ...]:
        """On the splat grid, in frame pixels: (F_t0, F_t1), where each pixel of the
        frame at ``t`` is found in frame 0 and in frame 1; each way's travel error
        (:data:`FEATURES`); and the size of the motion (|F01| + |F10|)."""
        f01, f10, _, _, w0, w1, scale = self._grid
        d0, d1 = self.paths(t)
        lin0, lin1 = flows_to_time(f01, f10, t)
        if self.kind == "linear":
            ft0, ft1 = lin0, lin1
        else:
            ft0, ft1 = _splat_back(d0, w0, lin0), _splat_back(d1, w1, lin1)
        travel0, travel1 = _travel(ft0, d0), _travel(ft1, d1)
        return ft0 * scale, ft1 * scale, travel0 * float(scale.mean()), travel1 * float(scale.mean()), self._size

    @functools.cached_property
    def _size(self) -> np.ndarray:
        """|F01| + |F10| in frame pixels on the splat grid: the same for every t."""
        f01, f10, *_, scale = self._grid
        return _norm(f01 * scale) + _norm(f10 * scale)


def _match_weight(g0: np.ndarray, g1: np.ndarray, f01: np.ndarray) -> np.ndarray:
    """How well each pixel of ``g0`` matches where its flow takes it in ``g1``, as a
    splat weight: exp(-MATCH_SHARPNESS x |difference| in grey levels)."""
    cv2 = _cv2()
    h, w = g0.shape
    gx, gy = _grid_xy(h, w)
    seen = cv2.remap(g1, cv2.add(gx, f01[..., 0]), cv2.add(gy, f01[..., 1]), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    err = cv2.absdiff(g0, seen).astype(np.float32)
    return cv2.exp(err * np.float32(-MATCH_SHARPNESS))


def _splat_back(d: np.ndarray, weight: np.ndarray | None, fill: np.ndarray) -> np.ndarray:
    """Every pixel p carried to p + d(p) (bilinear, weighted) leaves -d(p) there: the flow
    from the moved frame back to the source.  Where nothing lands: ``fill``."""
    h, w = d.shape[:2]
    gx, gy = _grid_xy(h, w)
    x, y = gx + d[..., 0], gy + d[..., 1]
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    wt = np.ones((h, w), np.float32) if weight is None else weight
    sums = np.zeros((3, h * w))
    for dx, dy, corner in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        at = (yi * w + xi)[inside]
        ww = (corner * wt)[inside]
        sums[2] += np.bincount(at, ww, h * w)
        sums[0] += np.bincount(at, ww * d[..., 0][inside], h * w)
        sums[1] += np.bincount(at, ww * d[..., 1][inside], h * w)
    total = sums[2].reshape(h, w)
    landed = total > 1e-3
    back = fill.copy()
    back[..., 0][landed] = -(sums[0].reshape(h, w)[landed] / total[landed])
    back[..., 1][landed] = -(sums[1].reshape(h, w)[landed] / total[landed])
    return back.astype(np.float32)


def _travel(ft: np.ndarray, d: np.ndarray) -> np.ndarray:
    """|F_t(x) + d(x + F_t(x))|: how far the pixel read at x + F_t(x) misses x at t."""
    cv2 = _cv2()
    h, w = ft.shape[:2]
    gx, gy = _grid_xy(h, w)
    moved = cv2.remap(d, cv2.add(gx, ft[..., 0]), cv2.add(gy, ft[..., 1]), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return _norm(ft + moved)


def fusion_inputs(rgb0: np.ndarray, rgb1: np.ndarray, motion: PairMotion, t: float,
                  window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The motion-compensated model's input for time ``t``: H x W x 11 float32 (see
    ``FEATURES``): both frames warped to ``t`` (0..1), their mean absolute disagreement,
    each warp's travel error (log(1 + pixels)), the motion's size (log(1 + pixels)) and t.

    ``window`` = (top, left, height, width): only that part of the frame at ``t`` (training
    crops); the warps still read the whole source frames."""
    cv2 = _cv2()
    H, W = rgb0.shape[:2]
    y0, x0, h, w = window or (0, 0, H, W)
    fields = [cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR) if f.shape[:2] != (H, W) else f for f in motion.at(t)]
    ft0, ft1, travel0, travel1, size = (f[y0:y0 + h, x0:x0 + w] for f in fields)
    grid = _grid(y0, x0, h, w)
    map0, map1 = cv2.add(grid, ft0), cv2.add(grid, ft1)  # where each pixel reads frame 0, frame 1
    border = cv2.BORDER_REPLICATE
    w0 = cv2.remap(rgb0, map0, None, cv2.INTER_CUBIC, borderMode=border)
    w1 = cv2.remap(rgb1, map1, None, cv2.INTER_CUBIC, borderMode=border)
    # Each plane on its own, with OpenCV's vectorised arithmetic, then merged: 3-5x
    # cheaper than NumPy on strided channel views (the input is channels-last).
    inv = 1.0 / 255
    diff = cv2.absdiff(w0, w1).astype(np.float32)
    disagreement = cv2.transform(diff, np.full((1, 3), inv / 3, dtype=np.float32))
    planes = [*cv2.split(w0.astype(np.float32) * np.float32(inv)), *cv2.split(w1.astype(np.float32) * np.float32(inv)),
              disagreement.reshape(h, w), _log1p(travel0), _log1p(travel1), _log1p(size), np.full((h, w), t, dtype=np.float32)]
    return cv2.merge(planes)


@functools.lru_cache(maxsize=8)
def _grid(y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """H x W x 2 float32 pixel coordinates (x, y) of a window (cached: read only)."""
    gx, gy = np.meshgrid(np.arange(x0, x0 + w, dtype=np.float32), np.arange(y0, y0 + h, dtype=np.float32))
    return np.dstack([gx, gy])


@functools.lru_cache(maxsize=8)
def _grid_xy(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x and y coordinates of an h x w grid, as two planes (cached: read only)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx, gy


def _log1p(x: np.ndarray) -> np.ndarray:
    return _cv2().log(np.ascontiguousarray(x, dtype=np.float32) + np.float32(1))


def _norm(v: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    return cv2.magnitude(np.ascontiguousarray(v[..., 0]), np.ascontiguousarray(v[..., 1]))
