"""One chunk's stages: the job's own (:class:`vfi.engine.JobStages`: method, scene
cuts, timeline, sink), run over the chunk's part of the source into a video-only file,
its timeline started where the one-process job's is at the chunk's first pair."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

from .engine import JobStages, Observer, make_timeline
from .io.frames import FramePairs, SourceFrame
from .io.target import OutputTarget
from .packets import PacketFile

REPORT_EVERY = 0.5  # seconds between progress reports from a chunk


class _Reporter(Observer):
    """Frames made, handed to ``report`` a few times a second (across processes)."""

    def __init__(self, report):
        self.report, self.pending, self.last = report, 0, time.monotonic()

    def frame(self, index, kind, rgb, a, b, t) -> None:
        self.pending += 1
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.pending and self.report is not None:
            self.report(self.pending)
        self.pending = 0

    def finish(self) -> None:
        self.flush()


class ChunkStages(JobStages):
    def __init__(self, job, source, chunk, first_time: Fraction, path: Path, report=None):
        self.reporter = _Reporter(report)
        target = OutputTarget.parse(str(path.with_suffix(".nut")), None)
        self.packets_path = path.with_name(f".{path.name}.part")  # renamed to ``path`` when whole
        super().__init__(job, target, source, [self.reporter])
        self.chunk, self.first_time = chunk, first_time
        # the video alone: the sound, subtitles and tags are muxed once, when joining
        self.audio_in, self.other_streams, self.copy_streams = [], [], []
        self.warnings = []

    def start_timeline(self, first: SourceFrame):
        """The one-process job's timeline as it is at the chunk's first pair."""
        timeline = make_timeline(self.job, self.first_time, self.info, self.source_step, self.output_step)
        timeline.next_index = self.chunk.next_index
        if self.chunk.last_pts is not None:
            timeline.last_pts = self.chunk.last_pts
        return timeline

    def open_sink(self, timeline):
        sink = super().open_sink(timeline)
        # its packets kept as they are, not in its container (see vfi.packets)
        self.packets = sink.writer.container = PacketFile(sink.writer.container, self.packets_path)
        return sink

    def _renumber(self, sf: SourceFrame) -> None:
        """A frame of the chunk's part with the one-process job's number and time, before
        anything (scene cuts, flows) keys on them."""
        c = self.chunk
        sf.index += c.first - (1 if c.read_start is not None else 0)
        sf.time += c.read_start or 0  # reading a part moves its times to the front; put back

    def _prepare(self, sf: SourceFrame) -> None:
        self._renumber(sf)
        self.prepare(sf)

    def run(self) -> tuple[Path, Fraction | None]:
        """The chunk's pairs (and, for the last, the tail); returns the finished
        temporary file and, for the last chunk, the end of the video."""
        c = self.chunk
        items = self.source.items(self.profile, (), self._prepare, threaded=self.job.threads, start=c.read_start, end=c.read_end,
                                  deinterlace=self.job.deinterlace)
        frames = FramePairs(self._frames(items))
        for before, a, b, after in frames:
            # the chunk's own pairs; the last pair of the video (nothing after it) in the last chunk
            if c.first <= a.index < c.end and (after is not None or c.last):
                self.filler.pair(a, b, before=before, after=after)
        if self.sink is None:
            raise RuntimeError(f"{c.name}: no frames read")
        self.filler.drain()
        end = self.filler.tail(frames.last, self.info) if c.last else None
        self.sink.finish().unlink()  # the container's file: only its header
        return self.packets_path, end

    def abort(self) -> None:
        super().abort()
        self.packets_path.unlink(missing_ok=True)
