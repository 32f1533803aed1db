"""Progress as an engine observer: frames done of the true output total, frames per
second and time left, on stderr so stdout stays clean for scripts.  On a terminal, a
Rich bar; otherwise (``2> log``, nohup, CI, a server) a plain line every few seconds,
which a log file keeps and grep can read."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from .engine import Observer


class RateColumn(ProgressColumn):
    def __init__(self, unit: str = "fps"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- " + self.unit if speed is None else f"{speed:.1f} {self.unit}", style="progress.data.speed")


def make_progress(console: Console | None = None, unit: str = "fps", disable: bool = False, transient: bool = False) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=disable,
        transient=transient,
    )


LOG_EVERY = 5.0  # seconds between plain progress lines


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LogLines:
    """Plain progress lines for a stderr that is not a terminal: one every
    ``LOG_EVERY`` seconds and one at the end, flushed at once."""

    def __init__(self, description: str, stream=None, every: float = LOG_EVERY):
        self.description, self.stream, self.every = description, stream or sys.stderr, every
        self.total: int | None = None
        self.done = 0
        self.started = self.last = None

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.started is None:
            self.started = self.last = now
        self.done, self.total = done, total
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float, final: bool = False) -> None:
        elapsed = max(1e-9, now - self.started)
        rate = self.done / elapsed
        parts = [f"{self.description}: {self.done}" + (f"/{self.total} frames ({100 * self.done / self.total:.1f} %)" if self.total else " frames")]
        parts.append(f"{rate:.1f} fps")
        if final:
            parts.append(f"done in {_clock(elapsed)}")
        elif self.total and rate > 0:
            parts.append(f"ETA {_clock(max(0, self.total - self.done) / rate)}")
        print(", ".join(parts), file=self.stream, flush=True)

    def finish(self, failed: bool) -> None:
        if self.started is not None and not failed:
            self.total = self.done  # an estimate that was off: end at 100 %
            self._line(time.monotonic(), final=True)


class ProgressObserver(Observer):
    def __init__(self, description: str, quiet: bool = False, plain: bool | None = None):
        self.progress = make_progress(disable=quiet)
        self.quiet = quiet
        self.description = description
        self.task = None
        if plain is None:
            plain = not quiet and not sys.stderr.isatty()
        self.lines = LogLines(description) if plain else None

    def start(self, total, info) -> None:
        self.total = total

    def note(self, line: str) -> None:
        """A line of the job's log (chunks kept and made), above the bar."""
        if self.quiet:
            return
        if self.task is not None:
            self.progress.console.print(line, soft_wrap=True, highlight=False)
        else:
            print(line, file=sys.stderr, flush=True)

    def frame(self, index, kind, rgb, a, b, t) -> None:
        if self.lines is not None:
            self.lines.update(index + 1, max(self.total, index + 1) if self.total else None)
            return
        if self.task is None:  # shown from the first frame on: early errors stay one line
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=self.total)
        task = self.progress.tasks[0]
        if task.total is not None and index + 1 > task.total:
            # The container's duration was short.  Set directly: Progress.update(total=)
            # would also forget the speed samples, and the rate would read "--".
            task.total = index + 1
        self.progress.advance(self.task)

    def finish(self) -> None:
        if self.lines is not None:
            self.lines.finish(sys.exc_info()[0] is not None)
            return
        if self.task is not None:
            if sys.exc_info()[0] is not None:
                self.progress.live.transient = True  # failing: leave only the error line
            else:
                t = self.progress.tasks[0]
                t.total = t.completed  # an estimate that was long: end the bar at 100 %
                if t.elapsed:
                    t.finished_speed = t.completed / t.elapsed  # the whole run's rate, shown last
            self.progress.stop()


class TrainProgress:
    """Training progress for :func:`vfi.train.train`: a bar per epoch of samples, with
    the running loss."""

    def __init__(self, quiet: bool):
        self.progress = make_progress(unit="samples/s", disable=quiet)
        self.task = None

    def begin(self, label: str, total: int, done: int) -> None:
        if self.task is None:
            self.progress.start()
        else:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=total, completed=done)

    def update(self, loss: float, rate: float, n: int) -> None:
        self.progress.update(self.task, advance=n, description=f"loss {loss:.4g}")

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


def summary_line(result) -> str:
    """A job's result in one line (grep finds it whole)."""
    depth = f", bisection depth {result.bisection_depth} (max time error {result.max_time_error_ms:.2f} ms)" if result.bisection_depth else ""
    return (f"{result.output}: {result.frames_out} frames at {float(result.output_rate):.3f} fps from {result.frames_in} "
            f"({result.synthesised} synthesised, {result.repeated} repeated, {len(result.cuts)} scene cut(s)); "
            f"method {result.method}{depth}; {result.duration_out:.2f} s; took {result.seconds:.1f} s"
            + (f"; {result.duplicates_dropped} repeated source frame(s) dropped (--dedup)" if result.duplicates_dropped else ""))


def summary_json(result) -> str:
    """A job's result as one JSON object (--json); rates and times as exact fractions."""
    import dataclasses
    import json
    from fractions import Fraction

    return json.dumps({k: (str(v) if isinstance(v, Fraction) else v) for k, v in dataclasses.asdict(result).items()})


PROFILE_STAGES = ("decode", "prepare", "scenes", "model", "convert", "encode", "wait")


def profile_line(result) -> str:
    """Where a job's time went (--profile), with the model's own stages where it has them."""
    from .pipeline import MODEL_STAGES

    p = result.profile
    parts = ", ".join(f"{k} {p.get(k, 0.0):.2f} s" for k in PROFILE_STAGES)
    split = [k for k in MODEL_STAGES if k in p]
    if split:  # flow-fusion: the model's time by stage, summed over its streams
        parts = parts.replace(f"model {p.get('model', 0.0):.2f} s", f"model {p.get('model', 0.0):.2f} s ("
                              + ", ".join(f"{k} {p[k]:.2f} s" for k in split) + ")")
    return (f"profile (decode and prepare [cut scores, RGB] share a thread, convert and encode another, both overlapping the model; "
            f"model time summed over its streams): {parts}; "
            f"wall {result.seconds:.2f} s; {result.synthesised / max(1e-9, result.seconds):.2f} synthesised frames/s")
