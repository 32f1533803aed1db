"""The interpolation engine: decodes, places every output frame in time, makes the
missing ones with a method, and encodes, one frame pair at a time (memory does not
grow with the length of the video).

Used from Python without the CLI::

    from vfi.engine import Job, run
    result = run(Job(input="in.mp4", output="out.mkv", mode="upsample", factor=Fraction(2)))
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

from . import __version__
from .audio import AudioStretcher
from .errors import CorruptInputError, UsageError
from .methods import LearnedMidpoint, Method, make_method
from .pipeline import BackgroundIterator, BackgroundWorker, ModelStreams, Profile, cpu_streams
from .scenes import DEFAULT_THRESHOLD, CutDetector
from .timing import Slot, SourceLockedTimeline, Timeline, bisection_error
from .video import ColorConverter, EncodeOptions, SourceFrame, VideoReader, VideoWriter, check_output_path

# Frame kinds recorded for every output frame (sidecar 'frames' string):
SOURCE, SYNTH, REPEAT = "S", "I", "R"


@dataclass
class Job:
    input: str
    output: str
    mode: str = "upsample"  # or "slowmo"
    fps: Fraction | None = None  # upsample: target rate; slowmo: output rate (default: source's)
    factor: Fraction | None = None  # upsample: rate multiplier; slowmo: how many times slower
    method: str = "blend"  # dup | blend | mci | a registered model name
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
    precision: str = "auto"  # learned models: auto (bf16 on AMX CPUs, else fp32), fp32, bf16, fp16
    streams: int | None = None  # learned models on CPU: frame pairs in the model at once (None: 2 where there are 2+ cores)


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


class Observer:
    """Hooks into the frame stream (progress bars, blur reports)."""

    def start(self, total: int | None, info) -> None: ...

    def frame(self, index: int, kind: str, rgb: Callable[[], np.ndarray], a: SourceFrame, b: SourceFrame | None, t: float) -> None: ...

    def finish(self) -> None: ...


def plan_rates(job: Job, source_rate: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """(output rate, source step, output step) for the job; raises UsageError on
    rates that cannot work."""
    if job.mode == "upsample":
        if job.fps is not None and job.factor is not None:
            raise UsageError("give either --fps or --factor, not both")
        if job.fps is None and job.factor is None:
            raise UsageError("give a target rate with --fps or --factor")
        if job.factor is not None and job.factor <= 1:
            raise UsageError(f"--factor must be above 1, got {float(job.factor):g}")
        target = job.fps if job.fps is not None else source_rate * job.factor
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


def build_method(job: Job) -> Method:
    from .methods import CLASSICAL

    if job.method in CLASSICAL:
        if job.weights:
            raise UsageError("--weights goes with a learned model (--model), not a classical --method")
        return make_method(job.method, job.depth)
    from .models import load_interpolator

    return LearnedMidpoint(load_interpolator(job.method, job.weights, device=job.device, batch_size=job.batch_size, tile=job.tile, precision=job.precision), job.depth)


def sidecar_path(video: str | os.PathLike) -> Path:
    return Path(str(video) + ".vfi.json")


def run(job: Job, observers: list[Observer] | tuple = ()) -> Result:
    """Runs one job end to end; the output appears only if everything succeeded."""
    started = time.perf_counter()
    if job.audio not in ("copy", "none", "stretch"):
        raise UsageError(f"--audio must be copy, none or stretch, not {job.audio!r}")
    if job.mode == "upsample" and job.audio == "stretch":
        raise UsageError("--audio stretch is for slowmo; upsample copies the audio unchanged")
    if job.mode == "slowmo" and job.audio == "copy":
        job = replace(job, audio="none")  # copying would leave the sound N times too short
    out_path = check_output_path(job.output, job.input, job.overwrite)
    job.encode.validate(out_path)
    reader = VideoReader(job.input)
    try:
        return _run(job, reader, out_path, observers, started)
    finally:
        reader.close()


def _run(job: Job, reader: VideoReader, out_path: Path, observers, started: float) -> Result:
    info = reader.info
    out_rate, source_step, output_step = plan_rates(job, info.nominal_rate)
    method = build_method(job)
    encode_options = job.encode
    if isinstance(method, LearnedMidpoint) and method.model.device.type == "cpu" and not job.encode.threads:
        # The model keeps every core busy and stalls whenever one of its threads is
        # preempted; a one-thread encoder beside it keeps up and competes less than
        # libx264's own thread pool (bench_e2e.py, 2 cores, bbb 320x180: best-of-3 ratio
        # 0.83 with the pool, 1.03 with one thread; the machine is noisy).
        encode_options = replace(job.encode, threads=1)
    conv = ColorConverter(info.pix_fmt, info.color, info.height)
    method.setup(conv)
    cuts = CutDetector(job.scene_threshold)
    audio_in = reader.audio_streams if job.audio != "none" else []
    copy_streams = audio_in if job.mode == "upsample" else audio_in[:1]

    profile = Profile()
    streams: ModelStreams | None = None
    if job.streams is not None and job.streams < 1:
        raise UsageError(f"--streams must be at least 1, got {job.streams}")
    if isinstance(method, LearnedMidpoint) and method.model.device.type == "cpu" and job.threads:
        n_streams, per_stream = cpu_streams(job.streams)
        if n_streams > 1:
            streams = ModelStreams(n_streams, per_stream, profile)
    # Pairs handed to the model streams and not yet emitted, oldest first: up to one per
    # stream, so that every stream has work while frames still leave in order.
    pending: deque = deque()
    in_flight = streams.streams if streams is not None else 0
    encoder: BackgroundWorker | None = None
    writer: VideoWriter | None = None
    timeline: Timeline | SourceLockedTimeline | None = None
    pending_packets: list[av.Packet] = []
    kinds: list[str] = []
    ts_seen: list[float] = []
    stretcher: AudioStretcher | None = None
    estimate = None
    if info.duration:
        estimate = max(1, int(np.ceil(float(info.duration) / float(source_step) - 1e-3)))
    for o in observers:
        o.start(estimate, info)

    def open_writer(first: SourceFrame) -> None:
        nonlocal writer, timeline, stretcher, encoder
        whole = job.factor is not None and job.factor.denominator == 1
        if whole and (job.mode == "upsample" or job.fps is None):
            n = int(job.factor)
            timeline = SourceLockedTimeline(first.time, n, 1 if job.mode == "upsample" else n, source_step, info.time_base)
        else:
            # Container timestamps are rounded (to the time base, or to 1 ms by many
            # muxers whatever their time base): within 1/32 of an output interval (or
            # half a tick) an output time *is* the source frame; capped for coarse AVI bases.
            tolerance = min(max(source_step / 32, info.time_base / 2), source_step / 4)
            timeline = Timeline(first.time, source_step, output_step, tolerance)
        audio_encode = None
        if job.mode == "slowmo" and job.audio == "stretch" and copy_streams:
            stretcher = AudioStretcher(copy_streams[0], float(job.factor), first.time)
            audio_encode = stretcher.add_output
        writer = VideoWriter(
            out_path,
            width=info.width,
            height=info.height,
            rate=out_rate,
            time_base=timeline.time_base,
            source=info,
            options=encode_options,
            copy_audio_from=copy_streams if job.mode == "upsample" else (),
            audio_encode=audio_encode,
            metadata={"comment": f"vfi {__version__} {job.mode} method={method.name}"},
        )
        encoder = BackgroundWorker(profile) if job.threads else _Inline(profile)
        for p in pending_packets:
            encoder.submit(_route_packet, p)
        pending_packets.clear()

    def _route_packet(p):
        if stretcher is not None:
            writer.mux(stretcher.feed(p))
        else:
            writer.mux_copied(p)

    def encode(result, pts: int) -> None:
        """Runs in the encoder thread: colour conversion of made frames, then encode."""
        t0 = time.perf_counter()
        if isinstance(result, np.ndarray):
            frame = conv.from_rgb(result, writer.pix_fmt)
        else:
            frame = conv.convert(result, writer.pix_fmt) if result.format.name != writer.pix_fmt else result
        frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder place keyframes
        profile.add("convert", time.perf_counter() - t0)
        writer.write(frame, pts)

    def emit(s: Slot, result, kind: str, a: SourceFrame, b: SourceFrame | None) -> None:
        encoder.submit(encode, result, s.pts)
        rgb = (lambda: result) if isinstance(result, np.ndarray) else (lambda: conv.to_rgb(result))
        kinds.append(kind)
        for o in observers:
            o.frame(s.index, kind, rgb, a, b, s.t)

    def fill(a: SourceFrame, b: SourceFrame) -> None:
        slots = timeline.slots_between(a.time, b.time)
        if not slots:
            return
        with profile.time("scenes"):
            is_cut = any(s.t > 0 for s in slots) and cuts.is_cut(a, b)
        inner = [s for s in slots if s.t > 0]
        work = None
        if inner and not is_cut:
            ts = [s.t for s in inner]
            ts_seen.extend(ts)
            if streams is not None:
                work = streams.submit(method.interpolate, a, b, ts)
            else:
                with profile.time("model"):
                    work = method.interpolate(a, b, ts)
        pending.append((a, b, slots, is_cut, inner, work))
        while len(pending) > in_flight:
            emit_pair(*pending.popleft())

    def emit_pair(a, b, slots, is_cut, inner, work) -> None:
        made = {}
        if work is not None:
            if isinstance(work, Future):
                t0 = time.perf_counter()
                work = work.result()
                profile.add("wait", time.perf_counter() - t0)
            made = dict(zip((s.index for s in inner), work))
        for s in slots:
            if s.t == 0:
                emit(s, a.frame, SOURCE, a, b)
            elif is_cut:
                near = a if s.t < 0.5 else b  # never blend across a cut
                emit(s, near.frame, REPEAT, a, b)
            else:
                res = made[s.index]
                kind = REPEAT if (res is a.frame or res is b.frame) else SYNTH
                emit(s, res, kind, a, b)

    prev: SourceFrame | None = None
    last_interval: Fraction | None = None
    def prepare(item) -> None:
        """Decode-thread work per source frame: scene-cut score and, for methods that
        read RGB, the colour conversion, both off the model's critical path."""
        if isinstance(item, SourceFrame):
            cuts.prepare(item)
            if method.reads_rgb:
                item.rgb(conv)

    reads = reader.read(copy_streams=copy_streams)
    source = BackgroundIterator(reads, profile, prepare=prepare) if job.threads else _timed(reads, profile)
    try:
        for item in source:
            if isinstance(item, av.Packet):
                if writer is None:
                    pending_packets.append(item)
                else:
                    encoder.submit(_route_packet, item)
                continue
            cur = item
            if writer is None:
                open_writer(cur)
            if prev is not None:
                last_interval = cur.time - prev.time
                fill(prev, cur)
            prev = cur
        while pending:
            emit_pair(*pending.popleft())
        if prev is None:
            reader.check_complete()  # raises: no frames
        warnings = []
        try:
            reader.check_complete()
        except CorruptInputError as e:
            if not job.salvage:
                raise
            warnings.append(str(e) + " (kept what was decoded: --salvage)")
        # The last source frame lasts its own duration (or the previous interval).
        tail = prev.duration or last_interval or (1 / info.nominal_rate)
        end = prev.time + tail
        for s in timeline.tail(prev.time, end):
            emit(s, prev.frame, SOURCE if abs(s.source_time - prev.time) <= timeline.tolerance else REPEAT, prev, None)
        if stretcher is not None:
            encoder.submit(lambda: writer.mux(stretcher.flush()))
        encoder.finish()
        writer.close()
    except BaseException:
        if streams is not None:
            streams.close(cancel=True)
        if isinstance(source, BackgroundIterator):
            source.stop()
        if encoder is not None:
            encoder.abort()
        if writer is not None:
            writer.abort()
        raise
    finally:
        if streams is not None:
            streams.close()
        for o in observers:
            o.finish()

    depth = None if method.takes_t else method.depth
    err = method.time_error if method.takes_t else bisection_error(sorted(set(ts_seen)), method.depth)
    first_time = timeline.start
    result = Result(
        output=str(out_path),
        frames_in=reader.frames_decoded,
        frames_out=len(kinds),
        synthesised=kinds.count(SYNTH),
        repeated=kinds.count(REPEAT),
        cuts=list(cuts.cuts),
        source_rate=info.nominal_rate,
        output_rate=out_rate,
        duration_in=float(end - first_time),
        duration_out=float(timeline.output_duration(end)),
        method=method.name,
        bisection_depth=depth,
        # as time on the output: a source interval lasts 1/rate, times the slow-down factor
        max_time_error_ms=err * 1000 * float((1 / info.nominal_rate) * (job.factor if job.mode == "slowmo" else 1)),
        seconds=time.perf_counter() - started,
        warnings=warnings,
        profile=dict(profile.seconds),
    )
    write_sidecar(out_path, job, result, "".join(kinds))
    return result


class _Inline:
    """The encoder without a thread (Job.threads=False): same interface."""

    def __init__(self, profile: Profile):
        self.profile = profile

    def submit(self, fn, *args) -> None:
        with self.profile.time("encode"):
            fn(*args)

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _timed(iterable, profile: Profile):
    it = iter(iterable)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        profile.add("decode", time.perf_counter() - t0)
        yield item


def write_sidecar(out_path: Path, job: Job, result: Result, kinds: str) -> None:
    """Records which output frames were synthesised, for ``vfi blur-report``."""
    data = {
        "vfi_version": __version__,
        "input": os.path.abspath(job.input),
        "mode": job.mode,
        "method": result.method,
        "output_rate": str(result.output_rate),
        "source_rate": str(result.source_rate),
        "frames": kinds,
        "legend": {SOURCE: "source frame", SYNTH: "synthesised", REPEAT: "repeated source frame (cut or end)"},
        "result": {k: (str(v) if isinstance(v, Fraction) else v) for k, v in asdict(result).items()},
    }
    path = sidecar_path(out_path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
