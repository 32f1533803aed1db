"""Audio for slow motion: decoded, stretched with FFmpeg's ``atempo`` (pitch kept) and
re-encoded. Upsampling never touches audio: its packets are copied as they are."""

from __future__ import annotations

from fractions import Fraction

import av


def atempo_chain(factor: float) -> list[float]:
    """atempo takes 0.5..100 per instance; slowing by ``factor`` chains several."""
    tempo = 1.0 / factor
    chain = []
    while tempo < 0.5:
        chain.append(0.5)
        tempo /= 0.5
    chain.append(tempo)
    return chain


class AudioStretcher:
    def __init__(self, in_stream, factor: float, start_time: Fraction):
        self.in_stream = in_stream
        self.factor = factor
        self.graph = None
        self.samples_out = 0
        self.rate = in_stream.codec_context.sample_rate or 48000

    def add_output(self, container):
        codec = "libopus" if container.format.name == "webm" else "aac"
        self.out = container.add_stream(codec, rate=self.rate)
        self.out.codec_context.layout = self.in_stream.codec_context.layout
        return self

    def _build(self, frame: av.AudioFrame) -> None:
        g = av.filter.Graph()
        src = g.add_abuffer(template=self.in_stream)
        node = src
        for tempo in atempo_chain(self.factor):
            nxt = g.add("atempo", f"{tempo:.6f}")
            node.link_to(nxt)
            node = nxt
        sink = g.add("abuffersink")
        node.link_to(sink)
        g.configure()
        self.graph, self.src, self.sink = g, src, sink

    def _drain(self) -> list[av.Packet]:
        packets = []
        while True:
            try:
                f = self.sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            f.pts = self.samples_out
            f.time_base = Fraction(1, self.rate)
            self.samples_out += f.samples
            packets.extend(self.out.encode(f))
        return packets

    def feed(self, packet: av.Packet) -> list[av.Packet]:
        packets = []
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            return packets  # a damaged audio packet: leave a gap rather than fail
        for frame in frames:
            if self.graph is None:
                self._build(frame)
            frame.pts = None
            self.src.push(frame)
            packets.extend(self._drain())
        return packets

    def flush(self) -> list[av.Packet]:
        packets = []
        if self.graph is not None:
            self.src.push(None)
            packets.extend(self._drain())
        packets.extend(self.out.encode(None))
        return packets
