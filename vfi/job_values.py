"""The values of a :class:`vfi.engine.Job` given from Python checked as the command line
checks its options: a clear UsageError for a wrong type or a value out of range, never
a bare TypeError from deep inside, nor ``overwrite="no"`` taken for yes."""

from __future__ import annotations

import os
from fractions import Fraction

from .errors import UsageError
from .io.filters import DEINTERLACE_MODES

# The one definition of these ranges: the command line's options take them too
# (click.IntRange(*COUNTS[name]), click.FloatRange(*FRACTION_RANGE)).
FLAGS = ("overwrite", "salvage", "threads", "dedup")
COUNTS = {"depth": (1, 8), "batch_size": (1, None), "streams": (1, None), "tile": (0, None)}  # whole numbers: (lowest, highest or None)
FRACTION_RANGE = (0, 1)
FRACTIONS = ("scene_threshold", "dedup_threshold")


def path_text(name: str, value) -> str:
    """A file name given as text or a path (``pathlib.Path``)."""
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text:
            return text
    raise UsageError(f"{name} must be a file name (text or a pathlib.Path), not {value!r}")


def check_flag(name: str, value) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, not {value!r}")


def check_count(name: str, value, low: int, high: int | None) -> None:
    if value is None and name in ("streams", "tile"):
        return  # automatic
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{name} must be {span}, got {value}")


def check_fraction(name: str, value) -> None:
    low, high = FRACTION_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) or not low <= value <= high:
        raise UsageError(f"{name} must be a number from {low} to {high}, got {value!r}")


def check_times(start, duration, end) -> None:
    """Trim times are not negative; a duration is more than nothing."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value < 0:
            raise UsageError(f"{name} must not be negative, got {float(value):g} s")
    if duration is not None and duration <= 0:
        raise UsageError(f"duration must be above 0, got {float(duration):g} s")


def check_job_values(job) -> None:
    """Raises UsageError for the first value of ``job`` a command line would refuse;
    file names given as paths become text."""
    job.input = path_text("input", job.input)
    job.output = path_text("output", job.output)
    if job.weights is not None:
        job.weights = path_text("weights", job.weights)
    for name in FLAGS:
        check_flag(name, getattr(job, name))
    for name, (low, high) in COUNTS.items():
        check_count(name, getattr(job, name), low, high)
    for name in FRACTIONS:
        check_fraction(name, getattr(job, name))
    if job.mode not in ("upsample", "slowmo"):
        raise UsageError(f"mode must be upsample or slowmo, not {job.mode!r}")
    check_times(job.start, job.duration, job.end)
    if job.deinterlace not in DEINTERLACE_MODES:
        raise UsageError(f"deinterlace must be {', '.join(DEINTERLACE_MODES[:-1])} or {DEINTERLACE_MODES[-1]}, not {job.deinterlace!r}")
