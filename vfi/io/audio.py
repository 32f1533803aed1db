"""The output's sound, with one owner (:class:`AudioOutput`): upsampling copies audio
packets unchanged whenever the output container can hold their codec, and re-encodes
only when it cannot (AAC into .webm), as ``ffmpeg -i in.mp4 out.webm`` does; slow
motion stretches the first audio stream.  Audio that cannot be copied as it is is
decoded, slowed with FFmpeg's ``atempo`` for slow motion (pitch kept), resampled where
the encoder needs it, and re-encoded (Opus in WebM, AAC elsewhere)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error

from ..errors import UsageError
from .formats import holds
from .reading import carried_tags


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


# FFmpeg's standard layout for each channel count: what a stream without a layout
# (WMA in ASF, PCM in AVI or MKV: "2 channels") is taken to be.
DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def encoder_layout(codec: str, layout: av.AudioLayout, rate: int) -> str:
    """The channel layout to encode ``layout`` in: itself where the encoder takes it,
    else the standard layout of as many channels (5.1(side) becomes 5.1 for Opus, as
    ffmpeg's format negotiation picks), else stereo (a downmix)."""
    n = layout.nb_channels
    ordered = not layout.name.endswith(" channels")  # "2 channels": no order known
    candidates = ([layout.name] if ordered else []) + [DEFAULT_LAYOUTS.get(n, "stereo"), "stereo", "mono"]
    for name in dict.fromkeys(candidates):
        if _encoder_opens(codec, name, rate):
            return name
    return "stereo"


def _encoder_opens(codec: str, layout: str, rate: int) -> bool:
    try:
        trial = av.CodecContext.create(codec, "w")
        trial.layout, trial.sample_rate = layout, rate
        trial.format = av.codec.Codec(codec, "w").audio_formats[0]
        trial.time_base = Fraction(1, rate)
        trial.open()
    except (av.error.FFmpegError, ValueError, TypeError):
        return False
    return True


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
        self.layout = encoder_layout(codec, self.in_stream.codec_context.layout, self.rate)
        self.out.codec_context.layout = self.layout
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


class AudioOutput:
    """The input's audio streams as the output carries them: each copied where the
    container holds its codec, else re-encoded (and said in ``warnings``); or, for slow
    motion (``stretch``: how many times slower), the first one stretched."""

    def __init__(self, streams, stretch: float | None = None):
        self.streams = list(streams)[:1] if stretch else list(streams)
        self.stretch = stretch
        self.copied: dict = {}  # input stream index -> output stream
        self.encoders: dict[int, AudioEncoder] = {}  # input stream index -> its encoder
        self.warnings: list[str] = []

    def add_to(self, container, path: Path) -> None:
        """The output's audio streams, in the input's order, into ``container``."""
        for a in self.streams:
            if self.stretch:
                self.encoders[a.index] = AudioEncoder(a, self.stretch).add_output(container)
            elif not _can_hold(container, a):
                self._reencode(container, a, path)
            else:
                try:
                    self.copied[a.index] = out = container.add_stream_from_template(a)
                except (av.error.FFmpegError, ValueError) as e:
                    raise UsageError(f"{path}: cannot copy audio ({a.codec_context.name}) into {path.suffix}: {e}; "
                                     "use .mkv or --audio none") from None
                out.metadata.update(carried_tags(a.metadata))

    def _reencode(self, container, a, path: Path) -> None:
        """Audio whose codec the container cannot hold (AAC in WebM) is re-encoded
        (Opus in WebM, AAC elsewhere), as ffmpeg does by default, and said."""
        enc = AudioEncoder(a).add_output(container)
        enc.out.metadata.update(carried_tags(a.metadata))
        self.encoders[a.index] = enc
        name = a.codec_context.codec.canonical_name  # 'mp3', not its decoder 'mp3float'
        layout = a.codec_context.layout.name
        remapped = f" {enc.layout} (from {layout})" if layout != enc.layout and not layout.endswith(" channels") else ""
        self.warnings.append(f"audio stream {a.index} ({name}) re-encoded as {enc.out.codec_context.name}{remapped}: "
                             f"{path.suffix or 'this format'} cannot hold {name}")

    def owns(self, packet: av.Packet) -> bool:
        return packet.stream.index in self.copied or packet.stream.index in self.encoders

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        """What goes into the output for an input packet: the packet itself, or what its
        encoder made of it so far."""
        encoder = self.encoders.get(packet.stream.index)
        if encoder is not None:
            return encoder.feed(packet)
        packet.stream = self.copied[packet.stream.index]
        return [packet]

    def flush(self) -> list[av.Packet]:
        """The encoders' last packets, at the end of the input."""
        return [p for encoder in self.encoders.values() for p in encoder.flush()]


def _can_hold(container, a) -> bool:
    """Whether the output container takes this stream's codec as it is (AAC, AC-3 and
    MP3 in MPEG-TS, which lists no codecs, too)."""
    if a.codec_context is None:
        return True  # nothing to re-encode it from: copying is the only try
    return holds(container.format.name, a)
