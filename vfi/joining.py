"""Joining a chunked job: the chunks' video packets, in order and as they were
encoded, into the output file the one-process job writes (the same writer: its stream
set up as for encoding, with the sound copied or stretched, subtitles and tags), then
its sidecar, all put in place together."""

from __future__ import annotations

import heapq
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av

from .errors import OutputError
from .io.sources import open_source
from .packets import read_packets
from .pipeline import Profile


class _Chunked:
    """What the writer asks of a method: its name and whether it keeps the cores busy."""

    def __init__(self, name: str, one_thread_encoder: bool):
        self.name, self.one_thread_encoder = name, one_thread_encoder


def join_and_commit(job, target, plan, records: dict, folder: Path, observers, started: float):
    from .engine import _commit, _dropped_streams, _open_sink, carried_streams, make_timeline, plan_rates

    ordered = [records[c.number] for c in plan.chunks]
    first = ordered[0]
    job = replace(job, encode=replace(job.encode, codec=first["codec"]))  # HDR10 masters: x265 as each chunk chose
    with open_source(job.input, job.input_fps) as source:
        info = source.info
        out_rate, source_step, output_step = plan_rates(job, info.nominal_rate)
        timeline = make_timeline(job, plan.first_time, info, source_step, output_step)
        audio_in, others = carried_streams(job, target, source)
        warnings = list(plan.warnings) + _dropped_streams(job, target, source)
        from .io.colour import ColorConverter

        conv = ColorConverter(info.pix_fmt, info.color, info.height)
        one_thread = first.get("one_thread_encoder", first.get("cpu_bound", False))  # records of earlier versions: cpu_bound
        sink = _open_sink(job, target, info, conv, out_rate, timeline, _Chunked(first["method"], one_thread),
                          audio_in, others, Profile())
        try:
            copied = source.reader.container.demux(audio_in + others) if audio_in or others else iter(())
            _check_extradata(sink.writer, ordered)
            for packet in _interleaved(_chunk_packets(folder, plan, ordered), (p for p in copied if p.dts is not None)):
                if packet.stream is None:  # a chunk's packet: no stream until it is muxed
                    sink.worker.submit(_mux_video, sink.writer, packet)
                else:
                    sink.packet(packet)
            video_tmp = sink.finish()
        except BaseException:
            sink.abort()
            raise
        warnings += sink.writer.warnings
        result = _result(job, plan, ordered, info, timeline, out_rate, warnings, started, target)
    _commit(job, target, video_tmp, result, "".join(r["kinds"] for r in ordered), observers)
    return result


def _mux_video(writer, packet: av.Packet) -> None:
    packet.stream = writer.stream
    writer.container.mux(packet)


def _chunk_packets(folder: Path, plan, ordered: list[dict]):
    """Every chunk's video packets, chunk after chunk (one file open at a time)."""
    from .chunks import CHUNK_SUFFIX

    for c, record in zip(plan.chunks, ordered):
        yield from read_packets(folder / f"{c.name}{CHUNK_SUFFIX}", Fraction(record["time_base"]))


def _check_extradata(writer, ordered: list[dict]) -> None:
    """The output's stream description (SPS/PPS for H.264) is the one every chunk was
    encoded with: the same settings make the same, and anything else would not play."""
    own = (writer.stream.codec_context.extradata or b"").hex()
    if any(r["extradata"] != own for r in ordered):
        raise OutputError(f"{writer.path}: the chunks were encoded with other stream settings than the output's; "
                          "run again without --resume")


def _when(packet: av.Packet) -> Fraction:
    return Fraction(packet.dts) * packet.time_base


def _interleaved(video, copied):
    """Both packet streams in time order, as a muxer interleaves them (memory stays
    flat: one packet of each waits)."""
    return heapq.merge(video, copied, key=_when)


def _result(job, plan, ordered: list[dict], info, timeline, out_rate, warnings, started, target):
    """The one-process job's summary, from the chunks' records."""
    from .engine import job_result

    profile: dict[str, float] = {}
    for r in ordered:
        for k, v in r["profile"].items():
            profile[k] = profile.get(k, 0.0) + v
    return job_result(job, info, target.path, "".join(r["kinds"] for r in ordered), timeline, plan.intervals, out_rate, plan.end,
                      max(r["time_error"] for r in ordered), started, frames_in=plan.frames_in, cuts=list(plan.cuts),
                      method=ordered[0]["method"], bisection_depth=ordered[0]["depth"], warnings=warnings, profile=profile)
