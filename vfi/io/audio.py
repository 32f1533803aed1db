"""Audio that cannot be copied as it is: decoded, slowed with FFmpeg's ``atempo`` for
slow motion (pitch kept), resampled where the encoder needs it, and re-encoded (Opus
in WebM, AAC elsewhere).  Upsampling copies audio packets unchanged whenever the
output container can hold their codec, and re-encodes only when it cannot (AAC into
.webm), as ``ffmpeg -i in.mp4 out.webm`` does."""

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


def encoder_for(container: av.container.OutputContainer) -> str:
    return "libopus" if container.format.name == "webm" else "aac"


def encoder_rate(codec: str, rate: int) -> int:
    """``rate`` if the encoder takes it, else the nearest rate above it that it does
    (Opus: 8, 12, 16, 24 or 48 kHz, so 44.1 kHz goes up to 48)."""
    rates = av.codec.Codec(codec, "w").audio_rates
    if not rates or rate in rates:
        return rate
    above = [r for r in rates if r >= rate]
    return min(above) if above else max(rates)


class AudioEncoder:
    """One input audio stream, re-encoded for the output container; ``factor`` > 1
    slows it down that many times (slow motion).  Output timestamps count samples from
    where the first decoded frame starts (0 when slowing: the slowed sound starts with
    the video)."""

    def __init__(self, in_stream, factor: float = 1.0):
        self.in_stream = in_stream
        self.factor = factor
        self.graph = None
        self.samples_out: int | None = None
        self.in_rate = in_stream.codec_context.sample_rate or 48000

    def add_output(self, container):
        codec = encoder_for(container)
        self.rate = encoder_rate(codec, self.in_rate)
        self.out = container.add_stream(codec, rate=self.rate)
        self.out.codec_context.layout = self.in_stream.codec_context.layout
        return self

    def _build(self, frame: av.AudioFrame) -> None:
        g = av.filter.Graph()
        src = g.add_abuffer(template=self.in_stream)
        chain = [("atempo", f"{tempo:.6f}") for tempo in atempo_chain(self.factor)] if self.factor != 1 else []
        if self.rate != self.in_rate:
            chain.append(("aresample", str(self.rate)))
        node = src
        for name, args in chain:
            nxt = g.add(name, args)
            node.link_to(nxt)
            node = nxt
        sink = g.add("abuffersink")
        node.link_to(sink)
        g.configure()
        self.graph, self.src, self.sink = g, src, sink
        start = 0
        if self.factor == 1 and frame.pts is not None and frame.time_base is not None:
            start = max(0, round(frame.pts * frame.time_base * self.rate))  # keep the sound's offset
        self.samples_out = start

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
