"""The interpolation engine: decodes, places every output frame in time, makes the
missing ones with a method, and encodes, one frame pair at a time (memory does not
grow with the length of the video).

Used from Python without the CLI::

    from vfi.engine import Job, run
    result = run(Job(input="in.mp4", output="out.mkv", mode="upsample", factor=Fraction(2)))
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import av
import numpy as np

from . import __version__
from .errors import CorruptInputError, UsageError
from .io.audio import AudioOutput
from .io.alpha import for_alpha_output
from .io.colour import ColorConverter
from .io.encoding import X265_MIN_WIDTH, EncodeOptions
from .io.frames import FramePairs, SourceFrame
from .io.reading import is_timecode_track, stream_kind
from .io.sinks import ImageSequenceSink, VideoFileSink
from .io.sources import open_source
from .io.filters import turned_upright, upright_chain
from .io.target import OutputTarget, prepare_target
from .io.timecode import find_timecode
from .io.writing import VideoWriter, output_chapters
from .job_values import check_job_values
from .methods import Method, make_method, model_method
from .outputs import OutputLock, commit, discard, write_text_tmp
from .pipeline import ModelStreams, Profile, cpu_streams, tune_allocator
from .scenes import DEFAULT_THRESHOLD, HOLD_FRACTION, CutDetector, is_hold
from .timing import IntervalLog, Slot, SourceLockedTimeline, bisection_error, make_timeline, parse_rate, parse_time

if TYPE_CHECKING:
    from .chunks import ChunkOptions

# Frame kinds recorded for every output frame (sidecar 'frames' string):
SOURCE, SYNTH, REPEAT = "S", "I", "R"


@dataclass
class Job:
    input: str
    output: str
    mode: str = "upsample"  # or "slowmo"
    fps: Fraction | None = None  # upsample: target rate; slowmo: output rate (default: source's)
    factor: Fraction | None = None  # upsample: rate multiplier; slowmo: how many times slower
    method: str | None = None  # dup | blend | mci | a registered model name; None: default_method()
    weights: str | None = None
    depth: int = 3  # bisection depth for midpoint-only methods
    scene_threshold: float = DEFAULT_THRESHOLD
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    audio: str = "copy"  # upsample: copy | none ; slowmo: none | stretch
    overwrite: bool = False
    salvage: bool = False  # keep the output of a truncated/corrupt input
    device: str = "auto"
    batch_size: int = 4
    tile: int | None = None  # learned models: tile size in pixels (None: automatic, 0: off)
    threads: bool = True  # decode and encode in their own threads, overlapping the model
    precision: str = "auto"  # learned models: auto (bf16 on CPUs with bf16 in hardware, else fp32), fp32, bf16, fp16
    streams: int | None = None  # learned models on CPU: frame pairs in the model at once (None: 2 where there are 2+ cores)
    start: Fraction | None = None  # trim: from this time of the input (seconds; ffmpeg's -ss)
    duration: Fraction | None = None  # trim: this long (-t)
    end: Fraction | None = None  # trim: up to this time of the input (-to)
    input_fps: Fraction | None = None  # image-sequence input: its frame rate (None: 25, as ffmpeg)
    dedup: bool = False  # drop frames that repeat the one before (animation on twos) before interpolating
    dedup_threshold: float = HOLD_FRACTION  # a frame repeats when fewer than this fraction of its samples changed
    deinterlace: str = "auto"  # auto (interlaced sources: FFmpeg's bwdif), on or off
    chunks: ChunkOptions | None = None  # split into chunks (resumable, on many workers): vfi.chunks

    def __post_init__(self):
        # Rates as the CLI takes them: 60, 59.94 (the NTSC 60000/1001), "60000/1001", Fraction.
        for name in ("fps", "factor", "input_fps"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Fraction):
                try:
                    setattr(self, name, parse_rate(value))
                except (ValueError, TypeError) as e:
                    raise UsageError(f"{name}: {e}") from None
        for name in ("start", "duration", "end"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Fraction):
                try:
                    setattr(self, name, parse_time(value))
                except (ValueError, TypeError) as e:
                    raise UsageError(f"{name}: {e}") from None
        check_job_values(self)

    def trim(self) -> tuple[Fraction | None, Fraction | None]:
        """(start, end) of the part of the input the job reads, in seconds from its
        beginning; None where the input's own."""
        start = self.start or None
        if self.duration is not None:
            return start, (start or 0) + self.duration
        return start, self.end


@dataclass
class Result:
    output: str
    frames_in: int
    frames_out: int
    synthesised: int
    repeated: int
    cuts: list[int]
    source_rate: Fraction
    output_rate: Fraction
    duration_in: float
    duration_out: float
    method: str
    bisection_depth: int | None
    max_time_error_ms: float
    seconds: float
    warnings: list[str] = field(default_factory=list)
    profile: dict[str, float] = field(default_factory=dict)  # seconds per stage
    duplicates_dropped: int = 0  # --dedup: source frames that repeated the one before


class Observer:
    """Hooks into the frame stream (progress bars, blur reports).  An observer that
    writes files names them in ``outputs`` ((what, path) pairs, checked before the job
    starts) and hands them over finished from ``finished_files`` ((temporary, final)
    pairs), to be put in place with the video."""

    outputs: list[tuple[str, str]] = []

    def start(self, total: int | None, info) -> None: ...

    def frame(self, index: int, kind: str, rgb: Callable[[], np.ndarray], a: SourceFrame, b: SourceFrame | None, t: float) -> None: ...

    def finish(self) -> None: ...

    def finished_files(self) -> list[tuple[Path, Path]]:
        return []


MAX_RATE = Fraction(1000)  # output frames per second: beyond any display or encoder
MAX_FACTOR = Fraction(1000)  # made frames per source interval, or times slower


def plan_rates(job: Job, source_rate: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """(output rate, source step, output step) for the job; raises UsageError on
    rates that cannot work."""
    for name, value, limit in (("--fps", job.fps, MAX_RATE), ("--factor", job.factor, MAX_FACTOR)):
        if value is not None and value > limit:
            raise UsageError(f"{name} {float(value):.6g} is above the limit of {float(limit):g}")
    if job.mode == "upsample":
        if job.fps is not None and job.factor is not None:
            raise UsageError("give either --fps or --factor, not both")
        if job.fps is None and job.factor is None:
            raise UsageError("give a target rate with --fps or --factor")
        if job.factor is not None and job.factor <= 1:
            raise UsageError(f"--factor must be above 1, got {float(job.factor):g}")
        target = job.fps if job.fps is not None else source_rate * job.factor
        if target > MAX_RATE:
            raise UsageError(f"target rate {float(target):.6g} fps is above the limit of {float(MAX_RATE):g} fps")
        if target <= source_rate:
            raise UsageError(
                f"target rate {float(target):.4g} fps is not above the source's {float(source_rate):.4g} fps"
            )
        return target, 1 / target, 1 / target
    if job.mode == "slowmo":
        if job.factor is None or job.factor < 2:
            raise UsageError("--factor must be at least 2 for slow motion")
        out_rate = job.fps if job.fps is not None else source_rate
        return out_rate, 1 / (out_rate * job.factor), 1 / out_rate
    raise UsageError(f"unknown mode {job.mode!r}")


DEFAULT_MODEL = "flow-fusion"


def default_method() -> str:
    """What runs when no method or model is given: the shipped flow-fusion model (the
    best frames vfi makes), or the cross-fade where its weights are not installed."""
    from .models import shipped_weights

    return DEFAULT_MODEL if shipped_weights(DEFAULT_MODEL) is not None else "blend"


def build_method(job: Job) -> Method:
    """The job's method; ``job.method`` is set (:func:`checked_job` chose the default)."""
    from .methods import CLASSICAL

    if job.method in CLASSICAL:
        if job.weights:
            raise UsageError("--weights goes with a learned model (--model), not a classical --method")
        return make_method(job.method, job.depth)
    from .models import load_interpolator

    return model_method(load_interpolator(job.method, job.weights, device=job.device, batch_size=job.batch_size, tile=job.tile, precision=job.precision), job.depth)


def run(job: Job, observers: list[Observer] | tuple = ()) -> Result:
    """Runs one job end to end; the output (and every file beside it: sidecar, blur
    report) appears only if everything succeeded.  A pipe (``-o -``) is written as the
    job goes: a failure says so."""
    if job.chunks is not None:
        from .chunks import run_chunked

        return run_chunked(job, observers)
    started = time.perf_counter()
    job = checked_job(job)
    extra = [(what, path) for o in observers for what, path in o.outputs]
    target = prepare_target(job.output, job.input, job.encode, job.overwrite, extra)
    lock = OutputLock(target.path) if target.kind != "pipe" else contextlib.nullcontext()
    with lock, open_source(job.input, job.input_fps) as source:
        return _execute(job, target, source, list(observers), started)


def checked_job(job: Job) -> Job:
    """The job with its option values checked (UsageError) and defaults filled in."""
    if job.audio not in ("copy", "none", "stretch"):
        raise UsageError(f"--audio must be copy, none or stretch, not {job.audio!r}")
    if job.mode == "upsample" and job.audio == "stretch":
        raise UsageError("--audio stretch is for slowmo; upsample copies the audio unchanged")
    if job.streams is not None and job.streams < 1:
        raise UsageError(f"--streams must be at least 1, got {job.streams}")
    if job.duration is not None and job.end is not None:
        raise UsageError("give either --duration or --end, not both")
    start, end = job.trim()
    if end is not None and end <= (start or 0):
        raise UsageError(f"nothing to do: the trim ends at {float(end):g} s, not after its start at {float(start or 0):g} s")
    if job.mode == "slowmo" and job.audio == "copy":
        job = replace(job, audio="none")  # copying would leave the sound N times too short
    if job.method is None:
        job = replace(job, method=default_method())
    from .models import resolve_device

    resolve_device(job.device)  # a bad --device is an error whatever the method
    return job


def _execute(job: Job, target: OutputTarget, source, observers: list[Observer], started: float) -> Result:
    """Wires the stages (source -> timeline -> method -> sink) for one job and runs them."""
    stages = JobStages(job, target, source, observers)
    try:
        end, video_tmp = stages.run()
    except BaseException:
        stages.abort()
        raise
    finally:
        stages.close()
    method, filler, kinds = stages.method, stages.filler, stages.log.kinds.decode()
    result = job_result(job, source.info, target.path, kinds, filler.timeline, filler.intervals.first, stages.out_rate, end,
                        method.time_error if method.takes_t else filler.max_time_error, started,
                        frames_in=source.frames_decoded, cuts=list(stages.cuts.cuts), method=method.name,
                        bisection_depth=None if method.takes_t else method.depth, warnings=stages.warnings,
                        profile=dict(stages.profile.seconds), duplicates_dropped=stages.duplicates_dropped)
    _commit(job, target, video_tmp, result, kinds, observers)
    return result


class JobStages:
    """One job's stages: the source's frames go through the timeline and the method
    (:class:`PairFiller`) to the sink, opened at the first frame (the timeline starts at
    its time)."""

    def __init__(self, job: Job, target: OutputTarget, source, observers: list[Observer]):
        self.job, self.target, self.source, self.observers = job, target, source, observers
        info = self.info = source.info
        self.out_rate, self.source_step, self.output_step = plan_rates(job, info.nominal_rate)
        self.method = build_method(job)
        if self.method.cpu_bound:  # the methods whose per-pair buffers the heap holds
            tune_allocator(info.width * info.height)
        self.conv = ColorConverter(info.pix_fmt, info.color, info.height)
        self.method.setup(self.conv)
        self.method.precise = self.conv.deep  # frames made at a deep source's precision
        self.method.timing(self.source_step * info.nominal_rate)
        self.cuts = CutDetector(job.scene_threshold)
        self.profile = Profile()
        self.method.profile = self.profile
        self.warnings = _dropped_streams(job, target, source)
        self.audio_in, self.other_streams = carried_streams(job, target, source)
        self.copy_streams = self.audio_in + self.other_streams  # the packets read with the frames
        self.streams = _model_streams(job, self.method, self.profile, info.width * info.height)
        self.log = FrameLog(observers)
        self.sink = self.filler = None
        self.source_intervals = IntervalLog()  # --dedup: the source's frame intervals, held frames included
        self.held: list[av.Packet] = []  # audio packets read before the first video frame
        for o in observers:
            o.start(_estimate(info, self.source_step, job.trim()), info)

    def prepare(self, item) -> None:
        """Decode-thread work per source frame: scene-cut score and, for methods that
        read RGB, the colour conversion (where the frame keeps it), both off the model's
        critical path."""
        if isinstance(item, SourceFrame):
            self.cuts.prepare(item)
            if self.method.reads_rgb and item.keeps_rgb:
                item.rgb(self.conv)
            self.method.prepare(item)

    def open(self, first: SourceFrame) -> None:
        timeline = self.start_timeline(first)
        self.sink = self.open_sink(timeline)
        self.filler = PairFiller(timeline, self.method, self.cuts, self.streams, self.sink, self.log, self.profile, _chunk_size(self.info))
        for p in self.held:
            self.sink.packet(p)
        self.held.clear()

    def start_timeline(self, first: SourceFrame):
        """The output's timeline, started at the first frame."""
        return make_timeline(self.job, first.time, self.info, self.source_step, self.output_step)

    def open_sink(self, timeline):
        return _open_sink(self.job, self.target, self.info, self.conv, self.out_rate, timeline, self.method, self.audio_in,
                          self.other_streams, self.profile)

    def run(self) -> tuple[Fraction, Path | None]:
        """Every frame through; returns the end of the video and the finished output."""
        start, end = self.job.trim()
        items = self.source.items(self.profile, self.copy_streams, self.prepare, threaded=self.job.threads, start=start, end=end,
                                  deinterlace=self.job.deinterlace)
        if self.job.dedup:
            items = self._without_repeats(items)
        frames = FramePairs(self._frames(items))
        for before, a, b, after in frames:
            self.filler.pair(a, b, before=before, after=after)
        if frames.last is None:
            self.source.check_complete()  # raises: no frames
        prev = frames.last
        self.filler.drain()
        self.warnings += list(self.source.notes) + _completeness(self.job, self.source)
        cap = self.info.start + (end - (start or 0)) if end is not None else None
        video_end = self.filler.tail(prev, self.info, cap)
        self.warnings += self.sink.warnings
        if self.job.dedup:  # the output runs at the source's clock, not at the drawings'
            self.filler.intervals = self.source_intervals
        return video_end, self.sink.finish()

    def _frames(self, items):
        """The source frames of ``items``, the sink opened at the first; the packets read
        with them (sound, subtitles) go to the sink, held until it is open."""
        for item in items:
            if isinstance(item, av.Packet):
                self.held.append(item) if self.sink is None else self.sink.packet(item)
                continue
            if self.sink is None:
                self.open(item)
            yield item

    def _without_repeats(self, items):
        """Source frames that only repeat the frame before (a drawing held for two
        frames) are left out: the drawings keep their own times, and the timeline fills
        the longer gaps between them evenly.  The last frame of a hold is kept when the
        video ends on it, so the output lasts as long."""
        kept: SourceFrame | None = None
        held: SourceFrame | None = None
        for item in items:
            if not isinstance(item, SourceFrame):
                yield item
                continue
            if held or kept:  # the source's own clock, holds included
                self.source_intervals.add(item.time - (held or kept).time)
            if kept is not None and _repeats(kept.rgb(self.conv), item.rgb(self.conv), self.job.dedup_threshold):
                self.duplicates_dropped += 1
                held = item
                continue
            held = None
            kept = item
            yield item
        if held is not None:  # the video ends on a hold: its last frame marks the end
            self.duplicates_dropped -= 1
            yield held

    duplicates_dropped = 0

    def abort(self) -> None:
        if self.streams is not None:
            self.streams.close(cancel=True)
        self.method.close()
        self.source.stop()
        if self.sink is not None:
            self.sink.abort()

    def close(self) -> None:
        if self.streams is not None:
            self.streams.close()
        self.method.close()
        for o in self.observers:
            o.finish()


def _repeats(a: np.ndarray, b: np.ndarray, fraction: float) -> bool:
    if fraction == HOLD_FRACTION:
        return is_hold(a, b)
    changed = np.abs(a.astype(np.int16) - b) > 4
    return float(changed.mean()) < fraction


def carried_streams(job: Job, target: OutputTarget, source) -> tuple[list, list]:
    """The input's streams the output carries beside the video: its sound (the first
    stream alone, stretched, for slow motion), and its subtitles, data and attachments as
    they are (what is left out is said by :func:`_dropped_streams`)."""
    audio = source.audio_streams if job.audio != "none" and target.carries_audio else []
    others = source.other_streams() if job.mode == "upsample" and target.carries_other_streams else []
    return (audio if job.mode == "upsample" else audio[:1]), others


def _dropped_streams(job: Job, target: OutputTarget, source) -> list[str]:
    """Warnings for what the output will not carry."""
    out = []  # a timecode track becomes the output's timecode (or is said to be lost, once)
    others = [s for s in source.other_streams() if not is_timecode_track(s)]
    if others and (job.mode != "upsample" or not target.carries_other_streams):
        kinds = ", ".join(sorted({stream_kind(s) for s in others}))
        why = "slow motion would put them out of time" if job.mode == "slowmo" else "only video files carry them"
        out.append(f"{len(others)} {kinds} stream(s) of the input are not carried to the output ({why})")
    if target.kind == "images":
        out += _not_in_images(source.info)
    audio = source.audio_streams
    if audio and not target.carries_audio:
        return out + [f"{len(audio)} audio stream(s) dropped: {'images' if target.kind == 'images' else 'YUV4MPEG'} carry no sound"]
    if job.mode == "slowmo" and audio:
        if job.audio == "none":
            out.append(f"{len(audio)} audio stream(s) dropped (slow motion; --audio stretch keeps the first)")
        elif len(audio) > 1:
            out.append(f"only the first of {len(audio)} audio streams is stretched; the others are dropped")
    return out


def _not_in_images(info) -> list[str]:
    timecode = find_timecode(info.video_tags, info.tags)
    return ([f"{len(info.chapters)} chapter(s) of the input are not carried: images have none"] if info.chapters else []) + (
        [f"timecode {timecode} of the input is not carried: images have none"] if timecode else [])


def _completeness(job: Job, source) -> list[str]:
    """Raises if part of the input was lost (a warning instead with --salvage); what
    the source put right in reading."""
    try:
        source.check_complete()
    except CorruptInputError as e:
        if not job.salvage:
            raise
        return [str(e) + " (kept what was decoded: --salvage)", *source.warnings]
    return list(source.warnings)


def _estimate(info, source_step: Fraction, trim=(None, None)) -> int | None:
    """Output frames to expect, from the container's duration (for progress bars)."""
    start, end = trim
    duration = info.duration
    if duration and start:
        duration = max(Fraction(0), duration - start)
    if end is not None:
        duration = min(duration, end - (start or 0)) if duration else end - (start or 0)
    if not duration:
        return None
    return max(1, int(np.ceil(float(duration) / float(source_step) - 1e-3)))


def _chunk_size(info) -> int:
    """Made frames handed to the method at a time: a long hold or gap between two
    source frames (hundreds of output frames) is made and written in chunks of at most
    ``CHUNK_BYTES`` of RGB, so memory does not grow with it."""
    return max(1, min(32, CHUNK_BYTES // max(1, info.width * info.height * 3)))


CHUNK_BYTES = 96 << 20


def _model_streams(job: Job, method: Method, profile: Profile, pixels: int) -> ModelStreams | None:
    """Several frame pairs in the method at once, sharing the CPU threads."""
    if not (method.cpu_bound and job.threads):
        return None
    n_streams, per_stream = cpu_streams(job.streams, pixels)
    return ModelStreams(n_streams, per_stream, profile) if n_streams > 1 else None


def _open_sink(job, target: OutputTarget, info, conv, out_rate, timeline, method, audio_in, other_streams, profile):
    turn = None if target.carries_rotation else upright_chain(info.rotation)
    info = turned_upright(info) if turn else info  # the pixels are turned: the output is told of an upright source
    if target.kind == "images":
        return ImageSequenceSink(target, conv, info.pix_fmt, profile, threaded=job.threads, size=(info.width, info.height), turn=turn,
                                 sample_aspect_ratio=info.sample_aspect_ratio)
    encode_options = job.encode
    if method.one_thread_encoder and not job.encode.threads:
        # The model keeps every core busy and stalls whenever one of its threads is
        # preempted; a one-thread encoder beside it keeps up and competes less than
        # libx264's own thread pool (bench_e2e.py, 2 cores, bbb 320x180: best-of-3 ratio
        # 0.83 with the pool, 1.03 with one thread; the machine is noisy).
        encode_options = replace(job.encode, threads=1)
    if (info.hdr and encode_options.codec is None and target.kind == "file" and target.path.suffix.lower() != ".webm"
            and info.width >= X265_MIN_WIDTH and "libx265" in av.codecs_available):
        # HDR10 masters keep their mastering-display and light-level metadata: x265 takes them, x264 cannot.
        encode_options = replace(encode_options, codec="libx265")
    # the sound: copied (re-encoded where the container cannot hold it), or stretched for slow motion
    audio = AudioOutput(audio_in, stretch=float(job.factor) if job.mode == "slowmo" else None) if audio_in else None
    writer = VideoWriter(
        target.path, width=info.width, height=info.height, rate=out_rate, time_base=timeline.time_base, source=info,
        options=encode_options, pipe_format=target.pipe_format, audio=audio, carry_streams=other_streams,
        chapters=output_chapters(info.chapters, job.trim(), job.factor if job.mode == "slowmo" else 1), trim_start=job.start,
        metadata={"comment": f"vfi {__version__} {job.mode} method={method.name}"},
    )
    return VideoFileSink(writer, conv, profile, threaded=job.threads, size=(info.width, info.height), turn=turn)


class FrameLog:
    """What every output frame was, in order (the sidecar's ``frames``: one byte a
    frame), and the observers told about each."""

    def __init__(self, observers: list[Observer]):
        self.kinds = bytearray()
        self.observers = observers

    def add(self, slot: Slot, kind: str, result, conv, a: SourceFrame, b: SourceFrame | None) -> None:
        self.kinds += kind.encode()
        if self.observers:
            rgb = (lambda: result) if isinstance(result, np.ndarray) else (lambda: conv.to_rgb(result))
            for o in self.observers:
                o.frame(slot.index, kind, rgb, a, b, slot.t)

    def count(self, kind: str) -> int:
        return self.kinds.count(kind.encode())

    def __len__(self) -> int:
        return len(self.kinds)


class PairFiller:
    """The interpolation stage: for each pair of consecutive source frames, the output
    slots the timeline puts between them, made by the method (in chunks, on the model
    streams when there are several), the source frame itself, or, across a scene cut,
    the nearer source frame; handed to the sink in output order."""

    def __init__(self, timeline, method: Method, cuts: CutDetector, streams: ModelStreams | None, sink: VideoFileSink,
                 log: FrameLog, profile: Profile, chunk: int):
        self.timeline, self.method, self.cuts, self.streams = timeline, method, cuts, streams
        self.sink, self.log, self.profile, self.chunk = sink, log, profile, chunk
        # Work handed to the model streams and not yet emitted, oldest first: up to one
        # item per stream, so that every stream is busy while frames leave in order.
        self.pending: deque = deque()
        self.in_flight = streams.streams if streams is not None else 0
        self.max_time_error = 0.0  # midpoint-only methods: bisection's, in source intervals
        self.intervals = IntervalLog()

    def pair(self, a: SourceFrame, b: SourceFrame, before: SourceFrame | None = None, after: SourceFrame | None = None) -> None:
        """The output slots between ``a`` and ``b``; ``before`` and ``after``, the source
        frames around them, go to methods that take them when they are of the same shot."""
        self.intervals.add(b.time - a.time)
        is_cut = None
        for chunk in _chunks(self.timeline.slots_between(a.time, b.time), self.chunk):
            inner = [s for s in chunk if s.t > 0]
            if inner and is_cut is None:
                with self.profile.time("scenes"):
                    is_cut = self.cuts.is_cut(a, b)
            work = None
            if inner and not is_cut:
                work = self._submit(a, b, [s.t for s in inner], self._around(a, b, before, after))
            self.pending.append((a, b, chunk, bool(is_cut), inner, work))
            while len(self.pending) > self.in_flight:
                self._emit(*self.pending.popleft())

    def _around(self, a: SourceFrame, b: SourceFrame, before: SourceFrame | None, after: SourceFrame | None) -> dict:
        """The neighbours a method is given: none across a scene cut."""
        return self.cuts.neighbours(a, b, before, after) if self.method.neighbours else {}

    def _submit(self, a: SourceFrame, b: SourceFrame, ts: list[float], around: dict):
        if not self.method.takes_t:
            self.max_time_error = max(self.max_time_error, bisection_error(ts, self.method.depth))
        if self.streams is not None:
            return self.streams.submit(functools.partial(self.method.interpolate, **around), a, b, ts)
        with self.profile.time("model"):
            return self.method.interpolate(a, b, ts, **around)

    def _emit(self, a, b, slots, is_cut, inner, work) -> None:
        if isinstance(work, Future):
            t0 = time.perf_counter()
            work = work.result()
            self.profile.add("wait", time.perf_counter() - t0)
        made = dict(zip((s.index for s in inner), work or ()))
        for s in slots:
            if s.t == 0:
                self._out(s, a.frame, SOURCE, a, b)
            elif is_cut:
                near = a if s.t < 0.5 else b  # never blend across a cut
                self._out(s, near.frame, REPEAT, a, b)
            else:
                res = made[s.index]
                self._out(s, res, REPEAT if (res is a.frame or res is b.frame) else SYNTH, a, b)

    def _out(self, slot: Slot, result, kind: str, a: SourceFrame, b: SourceFrame | None) -> None:
        sink = self.sink  # with alpha: made frames get their source frames' (vfi.io.alpha)
        sink.frame(for_alpha_output(result, a, b, slot.t, sink.conv, sink.pix_fmt) if sink.alpha else result, slot.pts)
        self.log.add(slot, kind, result, self.sink.conv, a, b)

    def drain(self) -> None:
        while self.pending:
            self._emit(*self.pending.popleft())

    def tail(self, last: SourceFrame, info, cap: Fraction | None = None) -> Fraction:
        """The last source frame and its holds, to the end of its own duration (or of the
        previous interval, or ``cap``, the end of a trimmed part); returns the end of the
        video."""
        step = self.intervals.final_step(last, info.nominal_rate)
        end = last.time + step if cap is None else min(last.time + step, max(cap, last.time + step / 1000))
        for s in self.timeline.tail(last.time, end):
            kind = SOURCE if abs(s.source_time - last.time) <= self.timeline.tolerance else REPEAT
            self._out(s, last.frame, kind, last, None)
        return end


def _real_output_rate(timeline, intervals: list[Fraction], planned: Fraction) -> Fraction:
    """The rate the output really runs at.  On a constant grid, the planned one; a whole
    factor follows the source's clock, whose ordinary interval (gaps and holds left
    aside) can differ from the container's average (a phone clip whose first frame
    comes late averages 27 fps though it runs at 30)."""
    if not isinstance(timeline, SourceLockedTimeline) or not intervals:
        return planned
    median = sorted(intervals)[len(intervals) // 2]
    ordinary = [d for d in intervals if abs(d - median) <= median / 4]
    mean = sum(ordinary, Fraction(0)) / len(ordinary)
    rate = Fraction(timeline.n, timeline.scale) / mean
    # Millisecond timestamps put a 60 fps clip at 60.02, and a two-frame 12 fps clip
    # (83 ms) at 24.1 when doubled: a common rate within what the timestamps can tell
    # (a tick either way on an interval, but never beyond 2 %: where the tick is the
    # frame step, as in image sequences, a 36 fps output is 36) stands for it; the
    # nearest, since 30 and 29.97 are a thousandth apart.
    tick = timeline.time_base * timeline.n
    tolerance = min(Fraction(1, 50), max(Fraction(1, 500), tick / mean))
    nearest = min(COMMON_RATES, key=lambda common: abs(rate / common - 1))
    if abs(rate / nearest - 1) < tolerance:
        return nearest
    return rate.limit_denominator(1001)


COMMON_RATES = [Fraction(r) for r in (24, 25, 30, 48, 50, 60, 72, 90, 96, 100, 120, 144, 240)] + \
    [Fraction(r * 1000, 1001) for r in (24, 30, 48, 60, 120, 240)]


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def job_result(job, info, out_path, kinds: str, timeline, intervals, out_rate, end, time_error: float, started: float,
               **made) -> Result:
    """The job's summary from its output frames' kinds (the sidecar's string), its
    timeline and the source's first intervals; ``time_error``: bisection's, in source
    intervals; ``made``: frames_in, cuts, method, bisection_depth, warnings, profile and,
    from --dedup, duplicates_dropped."""
    return Result(
        output=str(out_path), frames_out=len(kinds), synthesised=kinds.count(SYNTH), repeated=kinds.count(REPEAT),
        source_rate=info.nominal_rate, output_rate=_real_output_rate(timeline, intervals, out_rate),
        duration_in=float(end - timeline.start), duration_out=float(timeline.output_duration(end)),
        # as time on the output: a source interval lasts 1/rate, times the slow-down factor
        max_time_error_ms=time_error * 1000 * float((1 / info.nominal_rate) * (job.factor if job.mode == "slowmo" else 1)),
        seconds=time.perf_counter() - started, **made)


def _commit(job: Job, target: OutputTarget, video_tmp: Path | None, result: Result, kinds: str, observers) -> None:
    """Puts the video (or image folder), its sidecar and the observers' files in place,
    all or none."""
    moves = [(tmp, final, job.overwrite) for o in observers for tmp, final in o.finished_files()]
    if video_tmp is None:  # a pipe: nothing to rename, no sidecar
        commit(moves)
        return
    moves.insert(0, (video_tmp, target.path, job.overwrite))
    try:
        text = sidecar_json(job, result, kinds)
        if target.kind == "images":  # the sidecar goes inside the folder, renamed with it
            (video_tmp / target.sidecar.name).write_text(text)
        else:
            moves.append((write_text_tmp(target.sidecar, text), target.sidecar, True))
    except BaseException:
        discard(moves)
        raise
    commit(moves)


def sidecar_json(job: Job, result: Result, kinds: str) -> str:
    """The sidecar beside every output: which output frames were synthesised (for
    ``vfi blur-report``), and the job's summary."""
    data = {
        "vfi_version": __version__,
        "input": os.path.abspath(job.input),
        "mode": job.mode,
        "method": result.method,
        "output_rate": str(result.output_rate),
        "source_rate": str(result.source_rate),
        "frames": kinds,
        "legend": {SOURCE: "source frame", SYNTH: "synthesised", REPEAT: "repeated source frame (cut or end)"},
        "warnings": result.warnings,
        "result": {k: (str(v) if isinstance(v, Fraction) else v) for k, v in asdict(result).items()},
    }
    return json.dumps(data, indent=1)
