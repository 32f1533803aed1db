"""Many inputs, one after another: ``vfi upsample a.mp4 b.mkv c.mov -o out/`` (or a
folder of videos with ``--batch``).  Each input goes to ``out/<name>.<ext>`` with its
own progress bar, a bad input is reported and the others still go through, and a
summary table ends the run."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError, UsageError, VfiError
from .io.formats import VIDEO_CONTAINERS, VIDEO_EXTENSIONS


@dataclass
class BatchItem:
    input: str
    output: str
    job: object = None
    error: str | None = None


def output_name(src: str, folder: Path) -> Path:
    """out/<name>.<ext>: the input's own extension where vfi writes that container, else .mkv."""
    p = Path(src)
    ext = p.suffix.lower() if p.suffix.lower() in VIDEO_CONTAINERS else ".mkv"
    return folder / (p.stem + ext)


def plan_batch(inputs, output: str, batch: bool, make_job) -> list[BatchItem]:
    """The inputs (the videos in a folder with --batch) and the output of each; options
    that cannot work for one input are recorded against it, not raised."""
    sources: list[str] = []
    for i in inputs:
        if batch:
            if not Path(i).is_dir():
                raise UsageError(f"{i}: --batch takes a folder of videos")
            found = sorted(str(p) for p in Path(i).iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                raise UsageError(f"{i}: no videos in this folder ({', '.join(VIDEO_EXTENSIONS)})")
            sources += found
        else:
            sources.append(i)
    if "-" in sources:
        raise UsageError("several inputs go to files: '-' (stdin) takes a job of its own")
    folder = Path(output)
    if not batch and not folder.is_dir() and not output.endswith(("/", "\\")):
        raise UsageError(f"{output}: several inputs need -o FOLDER/ (an existing folder, or a name ending in /)")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{output}: several inputs need -o FOLDER (their outputs are FOLDER/<name>.<ext>)")
    outputs = [output_name(s, folder) for s in sources]
    if len(set(outputs)) < len(outputs):
        seen = {}
        for s, o in zip(sources, outputs):
            if o in seen:
                raise UsageError(f"{seen[o]} and {s} would both be written to {o}")
            seen[o] = s
    make_folder(folder)
    items = []
    for s, o in zip(sources, outputs):
        item = BatchItem(s, str(o))
        try:
            item.job = make_job(s, str(o))
        except VfiError as e:
            item.error = str(e)
        items.append(item)
    return items


def make_folder(folder: Path) -> None:
    """The batch's output folder, made if need be, and writable (one error, not one per input)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot make this folder: {e.strerror or e}") from None
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{folder}: folder is not writable")


def run_batch(items: list[BatchItem], mode: str, quiet: bool, console) -> int:
    """Runs each item's job; returns how many failed."""
    from rich.table import Table

    from .engine import run
    from .progress import ProgressObserver

    rows = []
    started = time.perf_counter()
    for k, item in enumerate(items, 1):
        t0 = time.perf_counter()
        label = f"[{k}/{len(items)}] {Path(item.input).name}"
        if item.error is None:
            try:
                result = run(item.job, [ProgressObserver(f"{mode} {label}", quiet=quiet)])
                rows.append((item, "ok", f"{result.frames_out} frames at {float(result.output_rate):.3f} fps", time.perf_counter() - t0))
            except VfiError as e:
                item.error = str(e)
        if item.error is not None:
            console.print(f"[red]failed[/] {label}: {item.error}", soft_wrap=True)
            rows.append((item, "failed", item.error, time.perf_counter() - t0))
        if not quiet and len(items) > 1:  # the total, after each file
            elapsed = time.perf_counter() - started
            failed = sum(1 for r in rows if r[1] == "failed")
            eta = elapsed / k * (len(items) - k)
            console.print(f"total: {k}/{len(items)} inputs done ({failed} failed), {elapsed:.1f} s, ETA {eta:.0f} s", soft_wrap=True)
    if not quiet:
        table = Table(title=f"vfi {mode}: {len(items)} input(s)")
        for col in ("input", "output", "result", "", "seconds"):
            table.add_column(col)
        for item, status, what, seconds in rows:
            table.add_row(item.input, item.output if status == "ok" else "-", status, what, f"{seconds:.1f}")
        console.print(table)
    return sum(1 for _, status, _, _ in rows if status == "failed")
