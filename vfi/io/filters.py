"""Frames through FFmpeg's filters (PyAV's filter graph): turning a picture upright for
an output that cannot say how to turn it (:func:`upright_chain`), and deinterlacing
(``bwdif``)."""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from fractions import Fraction

import av
import av.error

from .frames import SourceFrame, VideoInfo

DEINTERLACE_MODES = ("auto", "on", "off")
# FFmpeg's AVFieldOrder: how an interlaced stream is tagged (0 unknown, 1 progressive)
FIELD_ORDERS = {2: "top field first", 3: "bottom field first", 4: "top field first", 5: "bottom field first"}


def upright_chain(rotation: int) -> str | None:
    """The filters that turn a picture shown ``rotation`` degrees counterclockwise (PyAV's
    ``VideoFrame.rotation``) upright, as ffmpeg's autorotation does; None for none."""
    turns = round(rotation / 90) % 4
    return {0: None, 1: "transpose=cclock", 2: "hflip,vflip", 3: "transpose=clock"}[turns]


def turned_upright(info: VideoInfo) -> VideoInfo:
    """What the output is told of a source whose pixels are turned upright: no rotation,
    and for a quarter turn, width and height and the sample aspect ratio swapped."""
    if round(info.rotation / 90) % 2 == 0:
        return replace(info, rotation=0)
    sar = 1 / info.sample_aspect_ratio if info.sample_aspect_ratio else info.sample_aspect_ratio
    return replace(info, rotation=0, width=info.height, height=info.width, sample_aspect_ratio=sar)


class FrameFilter:
    """One chain of FFmpeg filters (``"transpose=clock"``), built at the first frame and
    again when the frames' size or format changes.  Frames keep their pixel format."""

    def __init__(self, chain: str, time_base: Fraction = Fraction(1, 1000)):
        self.chain, self.time_base = chain, time_base
        self.graph = None
        self.key = None
        self.pushed = 0

    def _build(self, frame: av.VideoFrame) -> None:
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=self.time_base)
        nodes = [source]
        for part in self.chain.split(","):
            name, _, args = part.partition("=")
            nodes.append(graph.add(name, args or None))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes)
        graph.configure()
        self.graph, self.key = graph, (frame.width, frame.height, frame.format.name)

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        """The frames the chain gives for ``frame`` (none yet for a filter that looks ahead)."""
        if self.graph is None or self.key != (frame.width, frame.height, frame.format.name):
            self._build(frame)
        if frame.pts is None:  # made frames: filters that look at neighbours (bwdif) need a clock
            frame.pts = self.pushed
        self.pushed += 1
        self.graph.push(frame)
        return self._pull(frame.format.name)

    def flush(self) -> list[av.VideoFrame]:
        """The frames still held at the end."""
        if self.graph is None:
            return []
        self.graph.push(None)
        return self._pull(self.key[2])

    def _pull(self, pix_fmt: str) -> list[av.VideoFrame]:
        out = []
        while True:
            try:
                frame = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return out
            out.append(frame if frame.format.name == pix_fmt else frame.reformat(format=pix_fmt))


def deinterlace_chain(frame: av.VideoFrame, field_order: int, mode: str) -> str | None:
    """bwdif for an interlaced source (frames flagged interlaced, or a stream tagged with
    a field order), or for every source with ``on``; None for a progressive one."""
    tagged = frame.interlaced_frame or field_order in FIELD_ORDERS
    if mode == "off" or (mode == "auto" and not tagged):
        return None
    # One frame out for each frame in (send_frame), so the source's rate stays the rate;
    # frames not flagged interlaced are left alone where the frames say which are.
    deint = "interlaced" if frame.interlaced_frame else "all"
    parity = "bff" if FIELD_ORDERS.get(field_order) == "bottom field first" and not frame.interlaced_frame else "auto"
    return f"bwdif=mode=send_frame:parity={parity}:deint={deint}"


def deinterlaced(items, mode: str, field_order: int, notes: list[str]):
    """The source's items with its frames deinterlaced (:func:`deinterlace_chain`), in
    order, each keeping its time; what was done, or not done, is added to ``notes``."""
    chain = waiting = None
    for item in items:
        if not isinstance(item, SourceFrame):
            yield item
            continue
        if waiting is None:  # the first frame decides
            chain, waiting = deinterlace_chain(item.frame, field_order, mode), deque()
            notes += _deinterlace_note(item.frame, field_order, mode, chain)
            graph = FrameFilter(chain) if chain else None
        if graph is None:
            yield item
            continue
        waiting.append(item)
        for frame in graph.push(item.frame):
            yield _with_frame(waiting.popleft(), frame)
    if chain:
        for frame in graph.flush():
            yield _with_frame(waiting.popleft(), frame)


def _with_frame(item: SourceFrame, frame: av.VideoFrame) -> SourceFrame:
    item.frame = frame
    return item


def _deinterlace_note(frame: av.VideoFrame, field_order: int, mode: str, chain: str | None) -> list[str]:
    order = FIELD_ORDERS.get(field_order, "fields")
    if chain and (frame.interlaced_frame or field_order in FIELD_ORDERS):
        return [f"interlaced source ({order}): deinterlaced with bwdif, one frame per frame (--deinterlace off keeps the fields)"]
    if not chain and mode == "off" and (frame.interlaced_frame or field_order in FIELD_ORDERS):
        return [f"interlaced source ({order}) made into frames as if progressive (--deinterlace off); "
                "the fields are combed where things move"]
    return []
