"""Where each output frame sits in time, and which source frames it comes from.

All times are exact fractions of a second.  Two timelines:

:class:`Timeline`, a constant-rate grid (``--fps``, and factors that are not whole
numbers).  Output frame ``k`` shows the source at ``start + k * source_step`` and is
stamped ``start + k * output_step``:

* upsample: ``source_step == output_step == 1 / fps``;
* slow motion by N: ``source_step = 1 / (N * fps)``, ``output_step = 1 / fps``.

An output time that falls on a source frame (within ``tolerance``, which absorbs the
rounding of container timestamps) *is* that source frame; any other time lies strictly
between two source frames at a fractional position ``t`` in (0, 1).

:class:`SourceLockedTimeline`, for a whole factor N (``--factor N``): every source
frame is kept at its own time and N - 1 frames are made at ``t = j / N`` of every
interval (an interval that spans k nominal ones, where frames are missing, gets N * k).
Real cameras and muxers rarely keep the nominal rate exactly (timestamps rounded to
1 ms, a clock 0.01 % slow): a grid at N times the nominal rate drifts across the source
frames, replaces them with made frames and needs deeper bisection, while this timeline
follows the source's own clock, so audio stays in sync as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

MAX_TIME_BASE_DEN = 2**31 - 1
MAX_PARSED_RATE = 10**6  # a rate or factor past this is a typo (the job's own limits are lower)


def parse_rate(text: str | float | int | Fraction) -> Fraction:
    """'48', '59.94', '30000/1001', '23.976' -> exact fractions.  The decimal forms of
    the NTSC rates (23.976, 29.97, 59.94, 119.88) mean N*1000/1001, as in every tool."""
    if isinstance(text, Fraction):
        rate = text
    elif isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"not a frame rate: {text!r} (use e.g. 60, 59.94 or 60000/1001)")
    else:
        s = str(text).strip()
        try:
            rate = Fraction(s)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a frame rate: {text!r} (use e.g. 60, 59.94 or 60000/1001)") from None
        if "/" not in s and "." in s:
            for base in (24, 30, 48, 60, 120, 240):
                ntsc = Fraction(base * 1000, 1001)
                if abs(float(rate) - float(ntsc)) < 0.0015:
                    rate = ntsc
                    break
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {text!r}")
    if rate > MAX_PARSED_RATE:
        raise ValueError(f"{text!r} is too large (at most {MAX_PARSED_RATE})")
    return rate


def parse_time(text: str | float | int | Fraction) -> Fraction:
    """A time as ffmpeg's -ss/-t/-to take it: seconds ('90', '2.5') or
    [hh:]mm:ss[.frac] ('1:30', '00:01:30.5'), as an exact fraction of a second."""
    if isinstance(text, Fraction):
        value = text
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        value = Fraction(str(text))
    else:
        s = str(text).strip()
        parts = s.split(":")
        try:
            if len(parts) > 3 or any(p.strip() == "" for p in parts) or any(p.startswith(("+", "-")) for p in parts[1:]):
                raise ValueError
            value = Fraction(0)
            for p in parts[:-1]:
                if not p.isdigit():
                    raise ValueError
                value = (value + int(p)) * 60
            value += Fraction(parts[-1])
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a time: {text!r} (seconds like 90 or 2.5, or [hh:]mm:ss[.ms] like 1:30.5)") from None
    if value < 0:
        raise ValueError(f"a time cannot be negative: {text!r}")
    if value > 10**7:
        raise ValueError(f"{text!r} is too large (more than 115 days)")
    return value


def output_time_base(start: Fraction, output_step: Fraction) -> Fraction:
    """The coarsest time base in which every output time ``start + k*step`` is an
    integer, so timestamps are exact; falls back to ``output_step`` when that would
    overflow FFmpeg's 32-bit rationals."""
    num = math.gcd(output_step.numerator, start.numerator) if start else output_step.numerator
    den = math.lcm(output_step.denominator, start.denominator)
    tb = Fraction(num, den)
    if tb.denominator > MAX_TIME_BASE_DEN:
        return output_step
    return tb


@dataclass
class Slot:
    """One output frame: where it shows the source, and where to interpolate."""

    index: int
    source_time: Fraction
    t: float  # position between the pair's two frames; 0.0 means 'is the first frame'
    pts: int = 0  # output timestamp, in the timeline's time_base


class Timeline:
    def __init__(self, start: Fraction, source_step: Fraction, output_step: Fraction, tolerance: Fraction):
        self.start = start
        self.source_step = source_step
        self.output_step = output_step
        self.tolerance = tolerance
        self.time_base = output_time_base(start, output_step)
        self.next_index = 0

    def source_time(self, k: int) -> Fraction:
        return self.start + k * self.source_step

    def pts(self, k: int) -> int:
        return round((self.start + k * self.output_step) / self.time_base)

    def frame_count(self, end: Fraction) -> int:
        """How many output frames cover the source from ``start`` to ``end`` (the end
        of the last source frame): the output lasts as long as the input."""
        span = (end - self.start) / self.source_step
        return max(1, math.ceil(span - Fraction(1, 1000)))

    def slots_between(self, t0: Fraction, t1: Fraction) -> Iterator[Slot]:
        """The not-yet-emitted slots that fall in [t0, t1) of source time; ``t`` is their
        fractional position between the frames at t0 and t1.  A generator (a gap of an
        hour holds 200,000 slots): consume it before asking for the next pair's."""
        while True:
            st = self.source_time(self.next_index)
            if st >= t1 - self.tolerance:
                return
            if abs(st - t0) <= self.tolerance or st < t0:
                t = 0.0
            else:
                t = float((st - t0) / (t1 - t0))
            slot = Slot(self.next_index, st, t, self.pts(self.next_index))
            self.next_index += 1
            yield slot

    def slots_until(self, count: int) -> Iterator[Slot]:
        """The remaining slots up to ``count`` (after the last source frame: holds)."""
        while self.next_index < count:
            k = self.next_index
            self.next_index += 1
            yield Slot(k, self.source_time(k), 0.0, self.pts(k))

    def tail(self, last: Fraction, end: Fraction) -> Iterator[Slot]:
        """The slots from the last source frame (at ``last``) to the end of the video."""
        return self.slots_until(self.frame_count(end))

    def output_duration(self, end: Fraction) -> Fraction:
        """How long the output lasts when the source ends at ``end``."""
        return self.frame_count(end) * self.output_step


class SourceLockedTimeline:
    """Each source interval gets ``N * k`` output frames spread evenly over it, ``k``
    the number of nominal intervals it spans (1 unless frames are missing): the first
    frame of the pair, then ``t = j / (N * k)``.  Every ordinary interval gets exactly N
    even when the nominal rate is off by a third (a phone clip whose first frame comes
    late has an average rate 10 % under its real one); a gap (dropped or held frames in
    a variable-frame-rate source) is filled at about the output rate.  Output times are
    the source's (upsample, ``scale`` 1) or the source's stretched ``scale`` times from
    ``start`` (slow motion by ``scale``)."""

    def __init__(self, start: Fraction, n: int, scale: int, step: Fraction, source_time_base: Fraction):
        self.start = start
        self.n = n
        self.scale = scale
        self.step = step  # source time per output frame at the nominal rate
        self.tolerance = Fraction(0)  # the first slot of a pair is the source frame itself
        # Exact when source times are whole ticks of their time base and intervals are
        # split N ways (other splits, and frames without timestamps, round to this base).
        tb = source_time_base / n
        self.time_base = tb if tb.denominator <= MAX_TIME_BASE_DEN else Fraction(1, MAX_TIME_BASE_DEN)
        self.next_index = 0
        self.last_pts = -1

    def _slot(self, source_time: Fraction, t: float) -> Slot:
        pts = round((self.start + self.scale * (source_time - self.start)) / self.time_base)
        pts = max(pts, self.last_pts + 1)  # strictly increasing even after rounding
        self.last_pts = pts
        slot = Slot(self.next_index, source_time, t, pts)
        self.next_index += 1
        return slot

    def _count(self, t0: Fraction, t1: Fraction) -> int:
        return self.n * max(1, round((t1 - t0) / (self.n * self.step)))

    def slots_between(self, t0: Fraction, t1: Fraction) -> Iterator[Slot]:
        m = self._count(t0, t1)
        return (self._slot(t0 + (t1 - t0) * Fraction(j, m), j / m) for j in range(m))

    def output_duration(self, end: Fraction) -> Fraction:
        """How long the output lasts when the source ends at ``end``."""
        return self.scale * (end - self.start)

    def tail(self, last: Fraction, end: Fraction) -> Iterator[Slot]:
        """The last source frame and its holds, spread over its duration."""
        m = self._count(last, end)
        return (self._slot(last + (end - last) * Fraction(j, m), 0.0) for j in range(m))


def dyadic(t: float, depth: int) -> Fraction:
    """The nearest m / 2**depth to t: what recursive bisection to ``depth`` can reach."""
    scale = 2**depth
    return Fraction(round(t * scale), scale)


def bisection_error(ts: list[float], depth: int) -> float:
    """Largest |t - dyadic(t)| over ts, as a fraction of the source frame interval."""
    return max((abs(t - float(dyadic(t, depth))) for t in ts), default=0.0)


def make_timeline(job, first: Fraction, info, source_step: Fraction, output_step: Fraction) -> Timeline | SourceLockedTimeline:
    """The output times of ``job`` (a :class:`vfi.engine.Job`): a whole --factor follows
    the source's clock; any other rate is a constant grid."""
    whole = job.factor is not None and job.factor.denominator == 1
    if whole and (job.mode == "upsample" or job.fps is None):
        n = int(job.factor)
        return SourceLockedTimeline(first, n, 1 if job.mode == "upsample" else n, source_step, info.time_base)
    # Container timestamps are rounded (to the time base, or to 1 ms by many muxers
    # whatever their time base): within 1/32 of an output interval (or half a tick) an
    # output time *is* the source frame; capped for coarse AVI bases.
    tolerance = min(max(source_step / 32, info.time_base / 2), source_step / 4)
    return Timeline(first, source_step, output_step, tolerance)


FIRST_INTERVALS = 1000  # source intervals kept for the rate the output really runs at


class IntervalLog:
    """The source's frame intervals as the pairs go by: the first ``FIRST_INTERVALS``
    (for the rate the output really runs at) and the last (for where the video ends)."""

    def __init__(self):
        self.first: list[Fraction] = []
        self.last: Fraction | None = None

    def add(self, interval: Fraction) -> None:
        self.last = interval
        if len(self.first) < FIRST_INTERVALS:
            self.first.append(interval)

    def final_step(self, last, rate: Fraction) -> Fraction:
        """How long the last frame ``last`` lasts: its own duration, else the interval
        before it, else one frame at ``rate``."""
        return last.duration or self.last or (1 / rate)
