"""Frames through FFmpeg's filters (PyAV's filter graph): turning a picture upright for
an output that cannot say how to turn it (:func:`upright_chain`), and deinterlacing
(``bwdif``)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import av
import av.error

from .frames import VideoInfo


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
