"""A Rich progress bar as an engine observer: frames done of the true output total,
frames per second and time left, on stderr so stdout stays clean for scripts."""

from __future__ import annotations

import sys

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


class ProgressObserver(Observer):
    def __init__(self, description: str, quiet: bool = False):
        self.progress = make_progress(disable=quiet)
        self.description = description
        self.task = None

    def start(self, total, info) -> None:
        self.total = total

    def frame(self, index, kind, rgb, a, b, t) -> None:
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
        if self.task is not None:
            if sys.exc_info()[0] is not None:
                self.progress.live.transient = True  # failing: leave only the error line
            else:
                t = self.progress.tasks[0]
                t.total = t.completed  # an estimate that was long: end the bar at 100 %
                if t.elapsed:
                    t.finished_speed = t.completed / t.elapsed  # the whole run's rate, shown last
            self.progress.stop()
