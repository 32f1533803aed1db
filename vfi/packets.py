"""A chunk's encoded video as the encoder gave it: its packets, one after another, each
with its timestamps, in a plain file read back without any container's rounding or
shifting of timestamps (NUT and Matroska move them; the joined file must not)."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av

_RECORD = struct.Struct("<qqqIB")  # pts, dts, duration, size, keyframe
_NONE = -(2**63)  # a timestamp the encoder left unset
MAGIC = b"vfi-packets 1\n"


class PacketFile:
    """Stands in for the writer's container while a chunk is encoded: the video stream's
    packets go to ``path`` (the real container holds the stream and is thrown away)."""

    def __init__(self, container, path: Path):
        self.container, self.path = container, path
        self.file = open(path, "wb")
        self.file.write(MAGIC)
        self.count = 0
        self.time_base: Fraction | None = None

    def mux(self, packets) -> None:
        for p in packets if isinstance(packets, (list, tuple)) else [packets]:
            if not p.size:
                continue
            self.time_base = p.time_base
            data = bytes(p)
            self.file.write(_RECORD.pack(_or_none(p.pts), _or_none(p.dts), p.duration or 0, len(data), p.is_keyframe))
            self.file.write(data)
            self.count += 1

    def close(self) -> None:
        self.file.close()
        self.container.close()


def _or_none(v: int | None) -> int:
    return _NONE if v is None else v


def read_packets(path: Path, time_base: Fraction):
    """The packets of a file written by :class:`PacketFile`, one at a time."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path}: not a chunk's packet file")
        while head := f.read(_RECORD.size):
            pts, dts, duration, size, key = _RECORD.unpack(head)
            data = f.read(size)
            if len(data) != size:
                raise ValueError(f"{path}: cut short")
            p = av.Packet(data)
            p.pts, p.dts = (None if pts == _NONE else pts), (None if dts == _NONE else dts)
            p.duration, p.is_keyframe, p.time_base = duration, bool(key), time_base
            yield p


def count_packets(path: Path) -> int:
    """How many whole packets the file holds (a complete chunk's count is in its record)."""
    n = 0
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            return -1
        while head := f.read(_RECORD.size):
            size = _RECORD.unpack(head)[3]
            f.seek(size, 1)
            n += 1
    return n
