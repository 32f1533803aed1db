"""Long jobs in chunks: planned on source-frame boundaries, made one by one (or by many
workers: :mod:`vfi.workers`, :mod:`vfi.ray_workers`), kept in a work folder beside the
output so that a stopped job can go on where it was (``resume``), and joined without
re-encoding, with the sound, subtitles and tags muxed once, as the one-process job.

A chunk makes the output frames of a run of source pairs (``first`` .. ``end``: the
pairs (first, first+1) ... (end-1, end)), reading one source frame more on either side
for the methods that follow motion through them; the pair across a boundary belongs to
the chunk before it.  The plan runs the job's timeline once over every source frame
time, so each chunk starts its timeline where the one-process job would be at its first
pair: its frames, timestamps and scene cuts are the one-process job's.  Chunks end at
scene cuts where a chunk is long enough, else every ``seconds`` of source.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

from . import __version__
from .errors import Interrupted, UsageError
from .io.sources import open_source
from .packets import count_packets
from .io.target import OutputTarget
from .pipeline import Profile
from .ray_workers import SHIP_MODES
from .scenes import CutDetector
from .timing import IntervalLog

CHUNK_SECONDS = 60.0  # source seconds a chunk covers when no scene cut comes first
MIN_SHARE = 0.25  # a scene cut ends a chunk once it has this share of CHUNK_SECONDS
CHUNK_SUFFIX = ".packets"  # the encoder's packets as they are (vfi.packets)


@dataclass
class ChunkOptions:
    """How a job is split and where its chunks run (``Job.chunks``)."""

    seconds: float = CHUNK_SECONDS
    workers: int = 1
    resume: bool = False
    ray: str | None = None  # a Ray cluster's address, or "auto"
    ship: str = "auto"  # Ray: the input through the object store to nodes without it; "always" or "never"


def chunk_options(seconds: float | None, workers: int | None, resume: bool | None, ray: str | None,
                  ship: str | None = None) -> ChunkOptions | None:
    """The command line's --chunk-seconds, --workers, --resume, --ray and --ray-ship: None
    (one process) where none is given."""
    if ship is not None and not ray:
        raise UsageError("--ray-ship goes with --ray")
    if seconds is None and not (workers or resume or ray):
        return None
    return ChunkOptions(seconds=CHUNK_SECONDS if seconds is None else seconds, workers=workers or 1, resume=bool(resume), ray=ray,
                        ship=ship or "auto")


@dataclass
class Chunk:
    number: int  # from 1
    first: int  # the first pair's first source frame
    end: int  # the last pair's second source frame
    start_time: Fraction  # of frame ``first`` (seconds of presentation time)
    read_start: Fraction | None  # from the frame before ``first`` (seconds from the video's start)
    read_end: Fraction | None  # up to the frame two after ``end`` (None: to the end)
    next_index: int  # the timeline's state at the first pair
    last_pts: int | None
    frames_out: int = 0
    last: bool = False

    def as_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Fraction) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> Chunk:
        for k in ("start_time", "read_start", "read_end"):
            if data[k] is not None:
                data[k] = Fraction(data[k])
        return cls(**data)

    @property
    def name(self) -> str:
        return f"chunk-{self.number:04d}"


@dataclass
class Plan:
    chunks: list[Chunk]
    first_time: Fraction  # the first source frame's time: where the timeline starts
    end: Fraction  # the end of the video (the last frame's end)
    frames_in: int
    cuts: list[int]
    intervals: list[Fraction]  # the first source intervals, for the real output rate
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"chunks": [c.as_json() for c in self.chunks], "first_time": str(self.first_time), "end": str(self.end),
                "frames_in": self.frames_in, "cuts": self.cuts, "intervals": [str(i) for i in self.intervals],
                "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        return cls([Chunk.from_json(c) for c in data["chunks"]], Fraction(data["first_time"]), Fraction(data["end"]),
                   data["frames_in"], data["cuts"], [Fraction(i) for i in data["intervals"]], data["warnings"])


def check_chunkable(job, target: OutputTarget) -> None:
    """What chunks cannot do yet, said before any work."""
    if target.kind != "file":
        raise UsageError("--chunk-seconds, --workers, --ray and --resume write video files (not images or a pipe)")
    if job.input == "-":
        raise UsageError("--chunk-seconds, --workers, --ray and --resume read a file (each chunk reads its own part), not stdin")
    if job.dedup or any(v is not None for v in (job.start, job.duration, job.end)):
        raise UsageError("--chunk-seconds, --workers, --ray and --resume do not combine with --dedup or -ss/-t/-to")
    c = job.chunks
    if c.seconds <= 0:
        raise UsageError(f"--chunk-seconds must be above 0, got {c.seconds:g}")
    if c.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {c.workers}")
    if c.ship not in SHIP_MODES:
        raise UsageError(f"--ray-ship must be one of {', '.join(SHIP_MODES)}, not {c.ship!r}")
    if c.ship != "auto" and not c.ray:
        raise UsageError("--ray-ship goes with --ray")


def make_plan(job, source, seconds: float) -> Plan:
    """One pass over the source's frames (decoded: their times and scene cuts), with the
    job's timeline, splitting it into chunks."""
    from .engine import _completeness, make_timeline, plan_rates

    info = source.info
    _, source_step, output_step = plan_rates(job, info.nominal_rate)
    cuts = CutDetector(job.scene_threshold)
    builder = _PlanBuilder(seconds, info.start)
    timeline = None
    prev = None
    for sf in source.items(Profile(), (), cuts.prepare, threaded=job.threads, deinterlace=job.deinterlace):
        if prev is None:
            timeline = make_timeline(job, sf.time, info, source_step, output_step)
        else:
            builder.pair(prev, sf, timeline, cuts.is_cut(prev, sf))
        prev = sf
    if prev is None:
        source.check_complete()  # raises: no frames
    warnings = list(source.notes) + _completeness(job, source)  # as the one-process job says them
    end = builder.finish(prev, timeline, info)
    return Plan(builder.chunks, timeline.start, end, prev.index + 1, list(cuts.cuts), builder.intervals.first, warnings)


class _PlanBuilder:
    """Chunks from the pairs as they come: a new chunk starts at a pair when the chunk
    before is long enough (at a scene cut) or too long (anywhere)."""

    def __init__(self, seconds: float, origin: Fraction):
        self.seconds = Fraction(seconds).limit_denominator(1000)
        self.origin = origin  # the video's start: reading's times count from it
        self.chunks: list[Chunk] = []
        self.intervals = IntervalLog()
        self.times: dict[int, Fraction] = {}  # the few frame times still needed
        self.cut_before = False  # the pair before this one was a scene cut

    def pair(self, a, b, timeline, is_cut: bool) -> None:
        self.times[a.index] = a.time
        self.intervals.add(b.time - a.time)
        self.times[b.index] = b.time
        self._close_reads(b)
        if self._starts_chunk(a):
            self._start(a, timeline)
        self.chunks[-1].frames_out += sum(1 for _ in timeline.slots_between(a.time, b.time))
        self.chunks[-1].end = b.index
        self.cut_before = is_cut

    def _starts_chunk(self, a) -> bool:
        if not self.chunks:
            return True
        length = a.time - self.chunks[-1].start_time
        return length >= self.seconds or (self.cut_before and length >= self.seconds * Fraction(MIN_SHARE))

    def _start(self, a, timeline) -> None:
        before = self.times.get(a.index - 1)
        read_start = before - self.origin if before is not None else None
        self.chunks.append(Chunk(len(self.chunks) + 1, a.index, a.index + 1, a.time, read_start, None,
                                 timeline.next_index, getattr(timeline, "last_pts", None)))

    def _close_reads(self, b) -> None:
        """A chunk reads up to (not including) frame ``end + 2``."""
        for c in self.chunks[-2:]:
            if c.read_end is None and not c.last and b.index == c.end + 2:
                c.read_end = b.time - self.origin
        for k in [k for k in self.times if k < b.index - 3]:
            del self.times[k]

    def finish(self, last, timeline, info) -> Fraction:
        """The last frame and its holds go to the last chunk; returns the video's end."""
        if not self.chunks:  # one frame: a chunk of its own
            self.chunks.append(Chunk(1, last.index, last.index, last.time, None, None, 0, getattr(timeline, "last_pts", None)))
        end = last.time + self.intervals.final_step(last, info.nominal_rate)
        self.chunks[-1].frames_out += sum(1 for _ in timeline.tail(last.time, end))
        self.chunks[-1].last = True
        return end


# --- the settings a chunk was made with, and which chunks are finished -----------------

IGNORED_SETTINGS = ("output", "overwrite", "threads", "streams", "chunks", "salvage")


def settings_hash(job, chunk: Chunk | None = None) -> str:
    """What decides a chunk's frames: vfi's version, the input file (path, size,
    modification time), the job's settings (not where the output goes or how it is
    scheduled), the weights file and the chunk itself."""
    st = os.stat(job.input)
    settings = {k: v for k, v in asdict(job).items() if k not in IGNORED_SETTINGS}
    data = {"vfi": __version__, "input": [os.path.abspath(job.input), st.st_size, st.st_mtime_ns], "job": settings,
            "chunk": chunk.as_json() if chunk is not None else None}
    if job.weights:  # weights trained again under the same name make other frames
        w = os.stat(job.weights)
        data["weights"] = [os.path.abspath(job.weights), w.st_size, w.st_mtime_ns]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def work_folder(target: OutputTarget) -> Path:
    """The chunks of ``out.mp4`` go in ``.out.mp4.vfi-chunks`` beside it."""
    return target.path.parent / f".{target.path.name}.vfi-chunks"


def finished(folder: Path, chunk: Chunk, digest: str) -> dict | None:
    """The chunk's record if its file is complete and was made with these settings."""
    try:
        record = json.loads((folder / f"{chunk.name}.json").read_text())
        size = (folder / f"{chunk.name}{CHUNK_SUFFIX}").stat().st_size
    except (OSError, ValueError):
        return None
    if record.get("settings") != digest or record.get("bytes") != size or record.get("frames_out") != chunk.frames_out:
        return None
    if count_packets(folder / f"{chunk.name}{CHUNK_SUFFIX}") != record.get("packets"):
        return None
    return record


def load_plan(folder: Path, digest: str) -> Plan | None:
    try:
        data = json.loads((folder / "plan.json").read_text())
        return Plan.from_json(data["plan"]) if data.get("settings") == digest else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_json(path: Path, data: dict) -> None:
    """Written beside and renamed: a record is whole or absent."""
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


# --- one chunk --------------------------------------------------------------------------

def make_chunk(job, plan_first_time: Fraction, chunk: Chunk, folder: str, digest: str,
               report: Callable[[int], None] | None = None) -> dict:
    """Makes one chunk's file and record in ``folder`` (in whatever process runs it) and
    returns the record."""
    from .chunk_stages import ChunkStages

    folder = Path(folder)
    final = folder / f"{chunk.name}{CHUNK_SUFFIX}"
    try:
        with open_source(job.input, job.input_fps) as source:
            stages = ChunkStages(job, source, chunk, plan_first_time, final, report)
            try:
                tmp, end = stages.run()
            except BaseException:
                stages.abort()
                raise
            finally:
                stages.close()  # its last progress report may be where a stop request is raised
        os.replace(tmp, final)
    except BaseException:
        stages_tmp = final.with_name(f".{final.name}.part")
        stages_tmp.unlink(missing_ok=True)
        raise
    err = stages.method.time_error if stages.method.takes_t else stages.filler.max_time_error
    record = {"settings": digest, "bytes": final.stat().st_size, "frames_out": len(stages.log),
              "kinds": stages.log.kinds.decode(), "cuts": list(stages.cuts.cuts), "time_error": err,
              "profile": dict(stages.profile.seconds), "end": str(end) if end is not None else None,
              "warnings": stages.warnings, "codec": stages.sink.writer.stream.codec_context.name,
              "method": stages.method.name, "one_thread_encoder": stages.method.one_thread_encoder,
              "depth": None if stages.method.takes_t else stages.method.depth, "packets": stages.packets.count,
              "time_base": str(stages.packets.time_base or Fraction(1)),
              "extradata": (stages.sink.writer.stream.codec_context.extradata or b"").hex()}
    if record["frames_out"] != chunk.frames_out:
        raise RuntimeError(f"{chunk.name}: made {record['frames_out']} frames where the plan has {chunk.frames_out}")
    save_json(folder / f"{chunk.name}.json", record)
    return record


# --- the whole job ----------------------------------------------------------------------

def run_chunked(job, observers=()) -> object:
    """:func:`vfi.engine.run` for a job with ``chunks``: plan, make the chunks not yet
    finished, join them; the work folder goes once the output is in place (or when the
    job fails, unless ``resume``)."""
    from .engine import checked_job
    from .io.target import prepare_target
    from .outputs import OutputLock

    started = time.perf_counter()
    job = checked_job(job)
    if any(o.outputs for o in observers):
        raise UsageError("--blur-report takes a one-process job (leave out --chunk-seconds, --workers, --ray, --resume)")
    target = prepare_target(job.output, job.input, job.encode, job.overwrite)
    check_chunkable(job, target)
    if job.encode.codec is None and target.path.suffix.lower() == ".webm":  # chunks are .nut, whose default is x264
        job = replace(job, encode=replace(job.encode, codec=job.encode.resolved_codec(str(target.path))))
    folder = work_folder(target)
    with OutputLock(target.path):
        if not job.chunks.resume:
            shutil.rmtree(folder, ignore_errors=True)  # an old job's chunks are not this one's
        try:
            return _run_in(job, target, folder, list(observers), started)
        except BaseException:
            if not job.chunks.resume:
                shutil.rmtree(folder, ignore_errors=True)
            raise


def _run_in(job, target: OutputTarget, folder: Path, observers: list, started: float):
    from .joining import join_and_commit

    folder.mkdir(parents=True, exist_ok=True)
    plan = _plan(job, folder)
    digests = {c.number: settings_hash(job, c) for c in plan.chunks}
    records = {c.number: r for c in plan.chunks if (r := finished(folder, c, digests[c.number])) is not None}
    todo = [c for c in plan.chunks if c.number not in records]
    tracker = Tracker(observers, plan)
    for c in plan.chunks:
        if c.number in records:
            tracker.note(f"{c.name} ({tracker.span(c)}): kept")
    try:
        records.update(_make(job, plan, todo, folder, digests, tracker))
    except BaseException as e:
        for w in tracker.warnings:  # no summary to carry them: said before the error
            tracker.note(f"warning: {w}")
        if job.chunks.resume and isinstance(e, Interrupted):
            kept = sum(1 for c in plan.chunks if finished(folder, c, digests[c.number]) is not None)
            e.message = f"{kept} of {len(plan.chunks)} chunks are finished in {folder}: the same command goes on from them"
        raise
    plan = replace(plan, warnings=plan.warnings + tracker.warnings)  # with the job's, in the summary and sidecar
    result = join_and_commit(job, target, plan, records, folder, observers, started)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _plan(job, folder: Path) -> Plan:
    """The plan, read back when a resumed job's is there (the same settings), else made."""
    digest = settings_hash(replace(job, chunks=None), None) + f"/{job.chunks.seconds!r}"
    plan = load_plan(folder, digest) if job.chunks.resume else None
    if plan is None:
        with open_source(job.input, job.input_fps) as source:
            plan = make_plan(job, source, job.chunks.seconds)
        save_json(folder / "plan.json", {"settings": digest, "plan": plan.as_json()})
    return plan


def _make(job, plan: Plan, todo: list[Chunk], folder: Path, digests: dict, tracker: Tracker) -> dict:
    """Runs the chunks on the job's backend."""
    tracker.start(todo)
    try:
        if job.chunks.ray:
            from .ray_workers import run_on_ray

            return run_on_ray(job, plan, todo, folder, digests, tracker)
        from .workers import run_local

        return run_local(job, plan, todo, folder, digests, tracker)
    finally:
        tracker.finish()


class Tracker:
    """The job's progress across chunks and workers, as one: every frame made goes to the
    observers (one progress bar), and each chunk kept or made to the log."""

    def __init__(self, observers: list, plan: Plan):
        self.observers, self.plan = observers, plan
        self.done = 0
        self.warnings: list[str] = []  # said with the job's own warnings

    def span(self, c: Chunk) -> str:
        return f"{float(c.start_time - self.plan.first_time):.2f} s on, {c.frames_out} frames"

    def note(self, line: str) -> None:
        for o in self.observers:
            if hasattr(o, "note"):
                o.note(line)

    def warn(self, line: str) -> None:
        self.warnings.append(line)

    def start(self, todo: list[Chunk]) -> None:
        for o in self.observers:
            o.start(sum(c.frames_out for c in todo), None)

    def frames(self, n: int) -> None:
        for _ in range(n):
            for o in self.observers:
                o.frame(self.done, "I", None, None, None, 0.0)
            self.done += 1

    def made(self, c: Chunk, where: str = "") -> None:
        self.note(f"{c.name} ({self.span(c)}): made{where}")

    def finish(self) -> None:
        for o in self.observers:
            o.finish()
