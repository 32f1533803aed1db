"""Interpolation methods: how a frame between two source frames is made.

A method either takes the fractional position ``t`` directly (``takes_t``), or only
knows the midpoint; the engine then reaches other ``t`` by recursive bisection to a
fixed depth (:func:`vfi.timing.dyadic`), which costs up to ``2**depth - 1`` midpoints
per source pair and places each frame within ``1 / 2**(depth+1)`` of a frame interval
of its true time.

Results are either ``av.VideoFrame`` (a source frame, or a frame FFmpeg made) or an
``H x W x 3`` uint8 RGB array; the engine converts both for the encoder the same way.
"""

from __future__ import annotations

import contextlib
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from .timing import dyadic
from .io.colour import ColorConverter, rgb_levels
from .io.frames import SourceFrame

Result = Any  # av.VideoFrame | np.ndarray


class Method:
    name = "method"
    takes_t = True
    reads_rgb = False  # the engine converts source frames to RGB ahead, in its decode thread
    time_error = 0.0  # largest |t_used - t| so far, in source frame intervals
    cpu_bound = False  # heavy CPU work per pair: the engine runs pairs in parallel streams
    one_thread_encoder = False  # the method's own threads keep every core busy: the encoder takes one thread beside them
    neighbours = False  # interpolate() also takes the source frames around the pair (before=, after=)
    # Set by the engine for sources of more than 8 bits: methods that can (blend, dis, flow-fusion)
    # make float RGB at the source's precision instead of 8-bit steps; vfi eval keeps 8 bits.
    precise = False
    profile = None  # the job's vfi.pipeline.Profile, for methods that split their time into stages

    def setup(self, conv: ColorConverter) -> None:
        self.conv = conv

    def prepare(self, sf: SourceFrame) -> None:
        """Called for each source frame in decode order, in the decoder's thread, ahead of
        the pairs that need it: work that can start early (flow-fusion's flows)."""

    def close(self) -> None:
        """The job is over (or stopped): let go of threads."""

    def source_rgb(self, sf: SourceFrame) -> np.ndarray:
        """A source frame's RGB to make frames from: float at the source's precision when
        ``precise``, else 8-bit."""
        return sf.rgb_precise(self.conv) if self.precise else sf.rgb(self.conv)

    def timing(self, step: Fraction) -> None:
        """The job's output step in source intervals (2/5 for 24 -> 60 fps, 1/N for a
        whole factor N), for methods that can plan ahead with it."""

    def interpolate(self, a: SourceFrame, b: SourceFrame, ts: list[float]) -> list[Result]:
        raise NotImplementedError


class Duplicate(Method):
    """Repeats the nearer source frame: no new pixels, judder instead of blur."""

    name = "dup"

    def interpolate(self, a, b, ts):
        return [a.frame if t < 0.5 else b.frame for t in ts]


class Blend(Method):
    """Linear cross-fade (1-t)*A + t*B in RGB: ghosting wherever things move."""

    name = "blend"
    reads_rgb = True

    rows = 256  # done in strips of this many rows: at 4K whole-frame float copies took 600 MB

    def interpolate(self, a, b, ts):
        ra, rb = self.source_rgb(a), self.source_rgb(b)
        return [self.fade(ra, rb, t) for t in ts]

    def fade(self, ra: np.ndarray, rb: np.ndarray, t: float) -> np.ndarray:
        """(1 - t) * ra + t * rb in float32, strip by strip, as output levels."""
        parts = []
        for y in range(0, ra.shape[0], self.rows):
            fa, fb = ra[y: y + self.rows].astype(np.float32), rb[y: y + self.rows].astype(np.float32)
            parts.append(rgb_levels((1 - t) * fa + t * fb, self.precise))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class DisWarp(Method):
    """The plain two-frame motion-compensated frame: DIS optical flow between the pair
    both ways (on 8-bit grey copies at most ``FLOW_WIDTH`` wide, as flow-fusion's), each
    frame carried to ``t`` along a straight path (the two flows blended, as Super SloMo
    does) by a bicubic warp, the two warps mixed (1 - t) : t.  No frames around the
    pair, no network, no choice of detail: what flow-fusion is measured against, and a
    fast method of its own.  Made in strips of ``rows`` rows, so memory stays small at 4K."""

    name = "dis"
    reads_rgb = True
    cpu_bound = True  # each pair (its flows, then its warps) on a stream thread of its own
    # beside them x264 took the same time with one thread as with its own pool (1080p
    # bench clip: 13.6 against 13.8 s); one, as beside the models, competes least
    one_thread_encoder = True
    rows = 256

    def __init__(self):
        from .flow import FlowEstimator

        self.flow = FlowEstimator()
        self.flows = FlowCache(self.flow)

    def setup(self, conv):
        super().setup(conv)
        self.flows = FlowCache(self.flow)  # a new video: frame indices start again

    def interpolate(self, a, b, ts):
        import torch

        from .flow import WHOLE_FIELDS_PIXELS, PairMotion, frame_fields, frame_tensor, warps_to_t
        from .models import frame_levels

        ra, rb = self.source_rgb(a), self.source_rgb(b)
        # each frame's grey copy once (it is in two pairs); DIS reads 8 bits whatever the
        # source, and above 1440p a frame's RGB is not kept: the one made here serves
        def grey(sf, rgb):
            return self.flows.grey_of(sf.index, lambda: sf.rgb(self.conv) if self.precise else rgb)

        ga, gb = grey(a, ra), grey(b, rb)
        h, w = ra.shape[:2]
        made = []
        with torch.inference_mode():
            motion = PairMotion(self.flow.flow(ga, gb), self.flow.flow(gb, ga), (h, w), kind="linear")
            (x0, levels), (x1, _) = frame_tensor(ra), frame_tensor(rb)
            for t in ts:
                fields = motion.at(t)
                whole = frame_fields(fields, (h, w)) if h * w <= WHOLE_FIELDS_PIXELS else None
                frame = np.empty((h, w, 3), dtype=np.float32 if self.precise else np.uint8)
                for y in range(0, h, self.rows):
                    n = min(self.rows, h - y)
                    w0, w1 = warps_to_t(x0, x1, fields, (y, 0, n, w), whole, levels)
                    frame[y: y + n] = frame_levels(torch.lerp(w0, w1, float(t)).mul_(1 / 255), self.precise)
                made.append(frame)
        return made


class MidpointMethod(Method):
    """Base for methods that only predict the middle frame. Subclasses define
    ``load(SourceFrame)`` and ``midpoint(x0, x1)`` on their own representation."""

    takes_t = False

    def __init__(self, depth: int = 3):
        if not 1 <= depth <= 8:
            raise ValueError("bisection depth must be between 1 and 8")
        self.depth = depth

    def load(self, sf: SourceFrame):
        raise NotImplementedError

    def midpoint(self, x0, x1):
        raise NotImplementedError

    def midpoints(self, pairs: list[tuple[Any, Any]]) -> list[Any]:
        """Several midpoints at once (models override this to batch them)."""
        return [self.midpoint(x0, x1) for x0, x1 in pairs]

    def interpolate(self, a, b, ts):
        targets = [dyadic(t, self.depth) for t in ts]
        # Every dyadic point needed, with its two neighbours one level up.
        needed: set[Fraction] = set()
        stack = [p for p in targets if p not in (0, 1)]
        while stack:
            p = stack.pop()
            if p in needed or p in (0, 1):
                continue
            needed.add(p)
            step = Fraction(1, p.denominator)
            stack += [p - step, p + step]
        made: dict[Fraction, Any] = {}
        ends: dict[Fraction, Any] = {}

        def value(p: Fraction):
            if p in (0, 1):
                if p not in ends:
                    ends[p] = self.load(a if p == 0 else b)
                return ends[p]
            return made[p]

        # Level by level (1/2, then 1/4 and 3/4, ...): the midpoints of one level are
        # independent, so they go to the method together.
        for den in sorted({p.denominator for p in needed}):
            level = sorted(p for p in needed if p.denominator == den)
            pairs = [(value(p - Fraction(1, den)), value(p + Fraction(1, den))) for p in level]
            made.update(zip(level, self.midpoints(pairs)))
        return [a.frame if p == 0 else b.frame if p == 1 else self.output(made[p]) for p in targets]

    def output(self, x) -> Result:
        return x


class MotionCompensated(Method):
    """FFmpeg's ``minterpolate`` (motion estimation + overlapped-block motion
    compensation) run through PyAV's filter graph: no ffmpeg binary needed. Its own
    scene detection is off; the engine's handles cuts for every method alike.

    One graph serves the whole job, as in ``ffmpeg -vf minterpolate``: setting a graph
    up costs more than interpolating a frame (56 ms against 24 ms at 320x180), and its
    output clock (one frame every ``step`` source intervals) puts frames exactly where
    the job's timeline wants them, so only those are rendered.  The filter emits a
    pair's frames once it sees a frame after the pair, so the second frame goes in
    twice, one tick apart.  A pair whose times are off that clock (a variable-rate
    source, a restart after a cut) gets a graph of its own, asked for ``D`` fps, ``D``
    the common denominator of its ``t`` (above ``MAX_DENOMINATOR`` they are rounded to
    multiples of 1/2**depth)."""

    name = "mci"
    MIN_SIZE = 32  # minterpolate's blocks need frames at least this large each way
    FORMATS = ("yuv420p", "yuv422p", "yuv444p", "yuvj420p", "yuvj422p", "yuvj444p", "gray", "yuv410p", "yuv411p", "yuv440p")
    # FFmpeg's own defaults for mi_mode=mci (obmc, bilateral search, EPZS), as `ffmpeg -vf
    # minterpolate=fps=60:mi_mode=mci` runs them; its scene detection is the engine's.
    # (aobmc + bidir + vsbmc, used before: +0.19 dB on the validation clips but 1.45x
    # blurrier by |RBF| and 1.34x slower.)
    OPTIONS = "mi_mode=mci:scd=none"
    MAX_DENOMINATOR = 32
    SLACK = 0.01  # of a source interval: container timestamps are rounded

    def __init__(self, depth: int = 3):
        self.depth = depth
        self.step: Fraction | None = None
        self.clock = None  # the job's graph: (graph, source, sink, ticks per interval, tick of the last frame's pair start, its index)

    def setup(self, conv):
        super().setup(conv)
        self.fmt = conv.pix_fmt if conv.pix_fmt in self.FORMATS else "yuv444p"

    def timing(self, step):
        self.step = Fraction(step) if 0 < step < 1 else None

    def interpolate(self, a, b, ts):
        if min(a.frame.width, a.frame.height) < self.MIN_SIZE:
            return self._per_pair(a, b, ts)
        made = self._on_clock(a, b, ts) if self.step is not None else None
        return made if made is not None else self._per_pair(a, b, ts)

    # ---------------------------------------------------------------- the job's graph

    def _on_clock(self, a, b, ts):
        """The pair's frames from the job's graph; None if its times are off the clock."""
        q = self.step.denominator * 1000  # ticks per source interval: the step and a tick are whole
        if self.clock is None or self.clock[5] != a.index:
            self._restart(a, q, ts[0])
        graph, src, sink, q, ta, _ = self.clock
        dt = self.step * q
        if any(abs((ta + t * q) / dt - round((ta + t * q) / dt)) * float(self.step) > self.SLACK for t in ts):
            self._restart(a, q, ts[0])
            graph, src, sink, q, ta, _ = self.clock
        self._push(src, b.frame, ta + q)
        self._push(src, b.frame, ta + q + 1)  # makes the filter emit the pair's frames
        out = {}
        for frame in self._drain(sink):
            k = frame.pts * int(dt)  # the sink counts output frames; back to ticks
            if ta < k < ta + q:
                out[k - ta] = frame
        self.clock = (graph, src, sink, q, ta + q, b.index)
        made = []
        for t in ts:
            k = min(out, key=lambda x: abs(x - t * q), default=None)
            if k is None or abs(k / q - t) > self.SLACK:
                self.clock = None
                return None
            self.time_error = max(self.time_error, abs(k / q - t))
            made.append(out[k])
        return made

    def _restart(self, a, q: int, first_t: float) -> None:
        """A new graph whose clock puts its first output at ``first_t`` after ``a``."""
        dt = int(self.step * q)
        ta = -round(first_t * q) % dt - dt  # a's tick: first output (tick 0) at first_t
        graph, src, sink = self._graph(a.frame.width, a.frame.height, Fraction(1, q), 1 / self.step)
        # The sink's time base is 1/fps of the source interval; tick of output k = k * dt.
        self._push(src, a.frame, ta)
        self._drain(sink)
        self.clock = (graph, src, sink, q, ta, a.index)

    def _graph(self, width: int, height: int, time_base: Fraction, fps: Fraction):
        """(graph, source, sink): frames of ``width`` x ``height`` in at ``time_base``,
        minterpolate's frames out at ``fps`` of that time base's seconds."""
        fps = Fraction(fps)
        graph = av.filter.Graph()
        src = graph.add_buffer(width=width, height=height, format=self.fmt, time_base=time_base)
        interp = graph.add("minterpolate", f"fps={fps.numerator}/{fps.denominator}:{self.OPTIONS}")
        sink = graph.add("buffersink")
        src.link_to(interp)
        interp.link_to(sink)
        graph.configure()
        return graph, src, sink

    def _push(self, src, frame: av.VideoFrame, pts: int) -> None:
        f = self.conv.convert(frame, self.fmt).reformat()  # a new frame object: its timestamps are ours to set
        f.pts, f.time_base = pts, Fraction(1, self.step.denominator * 1000)
        src.push(f)

    @staticmethod
    def _drain(sink) -> list[av.VideoFrame]:
        out = []
        while True:
            try:
                out.append(sink.pull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return out

    # ---------------------------------------------------------------- a graph per pair

    def _per_pair(self, a, b, ts):
        den = self.common_denominator(ts)
        if den is None:
            wanted = [dyadic(t, self.depth) for t in ts]
            den = 2**self.depth
        else:
            wanted = [Fraction(round(t * den), den) for t in ts]
        self.time_error = max(self.time_error, max(abs(float(w) - t) for w, t in zip(wanted, ts)))
        if min(a.frame.width, a.frame.height) < self.MIN_SIZE:
            return self._interpolate_small(a, b, wanted, den)
        frames = self._render(self.conv.convert(a.frame, self.fmt), self.conv.convert(b.frame, self.fmt), den)
        out = []
        for w in wanted:
            k = int(w * den)
            out.append(a.frame if k == 0 else b.frame if k == den else frames[k])
        return out

    def _interpolate_small(self, a, b, wanted, den):
        """Frames under 32 pixels a side: padded (edges repeated) to 32, interpolated in
        4:4:4, and cropped back, as RGB."""
        h, w = a.frame.height, a.frame.width
        ph, pw = max(0, self.MIN_SIZE - h), max(0, self.MIN_SIZE - w)

        def padded(sf):
            rgb = np.pad(sf.rgb(self.conv), ((0, ph), (0, pw), (0, 0)), mode="edge")
            return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv444p")

        fmt, self.fmt = self.fmt, "yuv444p"
        try:
            frames = self._render(padded(a), padded(b), den)
        finally:
            self.fmt = fmt
        out = []
        for wt in wanted:
            k = int(wt * den)
            out.append(a.frame if k == 0 else b.frame if k == den else
                       np.ascontiguousarray(frames[k].to_ndarray(format="rgb24")[:h, :w]))
        return out

    def common_denominator(self, ts, slack: float = 0.01) -> int | None:
        """The smallest D <= MAX_DENOMINATOR with every t within ``slack`` (of a frame
        interval; it absorbs container timestamp rounding) of a multiple of 1/D."""
        for den in range(2, self.MAX_DENOMINATOR + 1):
            if all(abs(round(t * den) / den - t) <= slack for t in ts):
                return den
        return None

    def _render(self, x0: av.VideoFrame, x1: av.VideoFrame, fps: int) -> dict[int, av.VideoFrame]:
        graph, src, sink = self._graph(x0.width, x0.height, Fraction(1), fps)  # graph: kept alive until drained
        # minterpolate emits a pair's in-between frames only once it has seen a frame
        # after the pair: x1 is given twice.
        for pts, x in enumerate((x0, x1, x1)):
            f = x.reformat()  # a new frame object: its timestamps are ours to set
            f.pts, f.time_base = pts, Fraction(1)
            src.push(f)
        src.push(None)
        out = {}
        while True:
            try:
                frame = sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            if 0 < frame.pts < fps:
                out[frame.pts] = frame
        return out


class LearnedMidpoint(MidpointMethod):
    """A registered model (see :mod:`vfi.models`) used as a midpoint predictor on RGB."""

    reads_rgb = True

    def __init__(self, interpolator, depth: int = 3):
        super().__init__(depth)
        self.model = interpolator
        self.name = interpolator.name
        self.cpu_bound = self.one_thread_encoder = interpolator.device.type == "cpu"

    def load(self, sf):
        return sf.rgb(self.conv)

    def midpoint(self, x0, x1):
        return self.model.predict(x0, x1)

    def midpoints(self, pairs):
        return self.model.predict_batch(pairs)


class FlowFusionMethod(Method):
    """vfi's motion-compensated model (:mod:`vfi.models.flow_fusion`): optical flow
    between the pair's frames and to the source frames around it (on the CPU), then for
    every wanted ``t`` directly (no bisection) both frames carried there along their
    paths and fused by the network (on the model's device).  Each flow between two
    source frames is computed once (:class:`FlowCache`: the pair after this one needs the
    same flow to this pair's second frame), so a job costs two flows per source pair and
    one fusion per output frame."""

    reads_rgb = True
    neighbours = True
    sync_stages = False  # see _stage

    def __init__(self, interpolator):
        from .flow import FlowEstimator

        self.model = interpolator
        self.name = interpolator.name
        net = interpolator.model
        self.flow = FlowEstimator(net.flow_preset, net.flow_width)
        self.kind = net.motion
        self.flows = FlowCache(self.flow)
        self.copies = self._device_copies()
        self.pool = None  # flows computed ahead (prepare)
        self.cpu_bound = True  # the flow runs on CPU threads whatever the network's device
        # With a GPU the cores are left to the flow pool, the decoder and the encoder: a
        # one-thread x264 (1080p veryfast: 29 frames/s on a 2-core EPYC's core) would cap the job.
        self.one_thread_encoder = interpolator.device.type == "cpu"

    def setup(self, conv):
        super().setup(conv)
        self.close()
        self.flows = FlowCache(self.flow)  # a new video: frame indices start again
        self.copies = self._device_copies()
        self._last = None

    def _device_copies(self) -> DeviceCopies | None:
        """Where the model runs on a GPU, the copies there that pairs share; on a CPU the
        tensors are views of the host's arrays and nothing is copied."""
        device = self.model.device
        return None if device.type == "cpu" else DeviceCopies(device)

    def prepare(self, sf):
        """Starts the flows both ways between this frame and the one before in the flow
        pool, so that the pair's stream (and a GPU behind it) finds them made."""
        last, self._last = self._last, sf
        if last is None or last.index >= sf.index:
            return
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(flow_threads(self.model.device), thread_name_prefix="vfi-flow")
        for x, y in ((last, sf), (sf, last)):
            self.pool.submit(self.flows.flow, x, y, self.conv)  # a failure is raised again to the stream that needs it

    def close(self):
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.copies = self._device_copies()  # a finished job's frames leave the device

    def motion(self, a, b, before=None, after=None):
        """The pair's :class:`vfi.flow.PairMotion` on the model's device; ``before`` and
        ``after`` (source frames of the same shot, or None) bend the paths, unless they
        only repeat their neighbour (a held frame says nothing about the motion)."""
        from .flow import PairMotion, usable_neighbour

        with self._stage("flow"):
            grey = lambda sf: self.flows.grey(sf, self.conv)  # noqa: E731
            span = float(b.time - a.time)
            ends, times = {"f01": (a, b), "f10": (b, a)}, {}
            if self.kind == "quadratic" and span > 0:
                if before is not None and before.time < a.time and usable_neighbour(grey(before), grey(a)):
                    ends["f0b"], times["s_before"] = (a, before), float(before.time - a.time) / span
                if after is not None and after.time > b.time and usable_neighbour(grey(after), grey(b)):
                    ends["f1a"], times["s_after"] = (b, after), float(after.time - a.time) / span
            flows = {name: self.flows.flow(x, y, self.conv) for name, (x, y) in ends.items()}
        with self._stage("motion"):  # the flows and grey copies move to the model's device here
            flows = {name: self._on_device(("flow", x.index, y.index), flows[name]) for name, (x, y) in ends.items()}
            g0, g1 = (self._on_device(("grey", sf.index), grey(sf)) for sf in (a, b))
            return PairMotion(size=(a.frame.height, a.frame.width), kind=self.kind, grey0=g0, grey1=g1,
                              device=self.model.device, **flows, **times)

    def _on_device(self, key, array: np.ndarray):
        """A flow or grey copy as the pair reads it: the host's array (a CPU model reads
        it in place), or its copy on the model's GPU, made once (:class:`DeviceCopies`)."""
        return array if self.copies is None else self.copies.array(key, array)

    def _frame_tensor(self, sf):
        """``sf`` as :func:`vfi.flow.frame_tensor` gives it on the model's device."""
        from .flow import frame_tensor

        if self.copies is None:
            return frame_tensor(self.source_rgb(sf), self.model.device)
        return self.copies.frame(sf.index, lambda: self.source_rgb(sf))

    def interpolate(self, a, b, ts, before=None, after=None):
        import torch

        with torch.inference_mode():
            motion = self.motion(a, b, before, after)  # the flow reads 8-bit grey copies either way
            with self._stage("warp"):  # each frame moves to the device once (DeviceCopies)
                (rgb0, levels), (rgb1, _) = (self._frame_tensor(sf) for sf in (a, b))
            return [self._frame(rgb0, rgb1, motion, t, levels) for t in ts]

    def _frame(self, rgb0, rgb1, motion, t: float, levels: bool | None = None):
        """One frame at ``t``, tile by tile (:meth:`vfi.models.Interpolator.tiles`): the
        inputs of a tile, the network, the fusion; memory bounded by the tile, not the frame.
        ``levels``: the frames hold 8-bit levels (their warps are rounded to them on every
        device; None: as their type says)."""

        import torch

        from . import kernels
        from .flow import WHOLE_FIELDS_PIXELS, _upsample_window, cross_fade_where_changed, frame_fields, frame_tensor, warped_inputs
        from .models import frame_levels

        interp, net = self.model, self.model.model
        (rgb0, _), (rgb1, _) = (frame_tensor(x, motion.device) for x in (rgb0, rgb1))  # tiles of the frames fade too
        h, w = motion.size
        with self._stage("motion"):
            fields = motion.at(t)
            whole = frame_fields(fields, (h, w)) if h * w <= WHOLE_FIELDS_PIXELS else None
            changed = motion.changed(fields)
        # A CPU writes each tile's levels into the encoder's frame; PyTorch's path (CUDA) gathers
        # the tiles on the device and the frame leaves it once, not once a tile.
        on_host = kernels.use_cv2(rgb0)
        frame = (np.empty((h, w, 3), dtype=np.float32 if self.precise else np.uint8) if on_host
                 else torch.empty((1, 3, h, w), dtype=torch.float32, device=motion.device))
        scale = net.working_scale(w)
        for (y0, y1, x0, x1), (ya, yb, xa, xb) in interp.tiles(h, w, *net.tiling(scale)):
            with self._stage("warp"):
                w0, w1, cues = warped_inputs(rgb0, rgb1, motion, t, (ya, xa, yb - ya, xb - xa), fields, scale, whole, levels)
            with self._stage("network"):
                decisions = interp.decide(w0, w1, cues, t, scale)
            with self._stage("fusion"):
                y = net.combine(w0, w1, t, decisions)
                if changed is not None:  # content that changed in place: the cross-fade, not strokes
                    window = (ya, xa, yb - ya, xb - xa)
                    y = cross_fade_where_changed(y, rgb0[..., ya:yb, xa:xb], rgb1[..., ya:yb, xa:xb], t,
                                                 _upsample_window(changed, (h, w), window))
                made = y[..., y0 - ya: y1 - ya, x0 - xa: x1 - xa]
                if on_host:
                    frame[y0:y1, x0:x1] = frame_levels(made, self.precise)
                else:
                    frame[..., y0:y1, x0:x1] = made
        if on_host:
            return frame
        with self._stage("fusion"):
            return frame_levels(frame, self.precise)

    def _stage(self, name: str):
        """Times a stage of the model into the job's profile.  A GPU runs its work
        asynchronously: there a stage's time is the host's unless ``sync_stages`` makes
        each stage wait for the device (exact, a little slower; the device benchmark
        sets it)."""
        if self.profile is None:
            return contextlib.nullcontext()
        device = self.model.device
        return _StageTimer(self.profile, name, device if self.sync_stages and device.type == "cuda" else None)


class _StageTimer:
    def __init__(self, profile, name: str, cuda_device):
        self.profile, self.name, self.cuda = profile, name, cuda_device  # the device to wait for (None: none)

    def _sync(self) -> None:
        if self.cuda is not None:
            import torch

            torch.cuda.synchronize(self.cuda)  # the job's device (--device cuda:1), not the current one

    def __enter__(self):
        self._sync()
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self._sync()
        self.profile.add(self.name, time.perf_counter() - self.t0)


def flow_threads(device) -> int:
    """Threads computing flows ahead: on a GPU job every core but the one feeding the
    device (DIS is the CPU's share of the work); on a CPU job half the cores, beside the
    model streams that take the rest (and compute any flow not yet made themselves)."""
    import os

    cores = os.cpu_count() or 1
    return max(1, cores - 1 if device.type == "cuda" else cores // 2)


class KeptResults:
    """Results by key, each computed once, by whichever thread asks first (the others
    wait for it), and the last ``keep`` kept."""

    def __init__(self, keep: int):
        import threading
        from collections import OrderedDict

        self.keep = keep
        self.lock = threading.Lock()
        self.entries: OrderedDict = OrderedDict()

    def _get(self, key, compute):
        from concurrent.futures import Future

        with self.lock:
            future = self.entries.get(key)
            mine = future is None
            if mine:
                future = self.entries[key] = Future()
                while len(self.entries) > self.keep:
                    self.entries.popitem(last=False)
        if mine:
            try:
                future.set_result(compute())
            except BaseException as e:
                future.set_exception(e)
                with self.lock:
                    self.entries.pop(key, None)
                raise
        return future.result()


class FlowCache(KeptResults):
    """Flows between source frames, and the grey copies they are computed on, by the
    frames' indices: each computed once (the flow pool ahead of the pairs, or a model
    stream), and the last ``keep`` kept (the decoder runs at most a few frames ahead:
    three entries a frame)."""

    def __init__(self, estimator, keep: int = 32):
        super().__init__(keep)
        self.estimator = estimator

    def grey_of(self, index: int, rgb) -> np.ndarray:
        """The grey copy of frame ``index``; ``rgb()`` gives the frame if it is not kept."""
        return self._get(("grey", index), lambda: self.estimator.grey(rgb()))

    def flow_between(self, i: int, j: int, rgb_i, rgb_j) -> np.ndarray:
        """Flow from frame ``i`` to frame ``j`` on the grey copies' grid."""
        return self._get(("flow", i, j), lambda: self.estimator.flow(self.grey_of(i, rgb_i), self.grey_of(j, rgb_j)))

    def grey(self, sf: SourceFrame, conv: ColorConverter) -> np.ndarray:
        return self.grey_of(sf.index, lambda: sf.rgb(conv))

    def flow(self, a: SourceFrame, b: SourceFrame, conv: ColorConverter) -> np.ndarray:
        """Flow from ``a`` to ``b`` on the grey copies' grid."""
        return self.flow_between(a.index, b.index, lambda: a.rgb(conv), lambda: b.rgb(conv))


class DeviceCopies(KeptResults):
    """Copies on a GPU of what the pairs read, by source frame: its RGB frame, its grey
    copy and its flows.  Each pair shares them with the pairs beside it (frame 1 is the
    next pair's frame 0; a flow to the frame after the pair is the next pair's own), so
    each goes to the device once, not once per pair that reads it.  Nothing writes to them."""

    def __init__(self, device, keep: int = 16):
        super().__init__(keep)
        self.device = device

    def frame(self, index: int, rgb):
        """``frame_tensor`` of source frame ``index`` (``rgb()`` gives it) on the device."""
        from .flow import frame_tensor

        return self._get(("rgb", index), lambda: frame_tensor(rgb(), self.device))

    def array(self, key, array: np.ndarray):
        """``array`` (a grey copy, a flow) on the device as it is laid out, as ``key``."""
        from .flow import _view

        return self._get(key, lambda: _view(np.ascontiguousarray(array)).to(self.device))


def model_method(interpolator, depth: int = 3) -> Method:
    """The method that runs a loaded model, as its adapter says: at any t (flow-fusion)
    or by bisection."""
    return interpolator.spec.adapter.method(interpolator, depth)


CLASSICAL = {"dup": Duplicate, "blend": Blend, "dis": DisWarp, "mci": MotionCompensated}


def make_method(name: str, depth: int = 3) -> Method:
    if name == "mci":
        return MotionCompensated(depth)
    if name in CLASSICAL:
        return CLASSICAL[name]()
    raise ValueError(f"unknown method {name!r} (choose from {', '.join(CLASSICAL)})")
