"""SMPTE timecode (``HH:MM:SS:FF``, ``HH:MM:SS;FF`` drop-frame): a source's timecode
(a QuickTime tmcd track, or a ``timecode`` tag) names the output's first frame.  A
trim from ``--start S`` moves it on by S (counted in source frames); at another output
rate the same instant is counted in the output's frames, drop-frame where the output
runs at 29.97, 59.94 or 119.88 fps and the source's timecode was drop-frame."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_LABEL = re.compile(r"^(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.,])(\d{2,3})$")
MOV_MAX_FPS = 255  # a QuickTime tmcd track stores frames a second in one byte


@dataclass(frozen=True)
class Timecode:
    frame: int  # frames since 00:00:00:00, as counted at ``fps``
    fps: int  # the timecode's frames a second (30 for 29.97)
    drop: bool  # drop-frame: labels skip ;00 and ;01 (per 30) each minute but every tenth

    def __str__(self) -> str:
        n = _labelled(self.frame, self.fps) if self.drop else self.frame
        ff, s = n % self.fps, n // self.fps
        digits = 3 if self.fps > 100 else 2  # as FFmpeg writes it
        return f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}{';' if self.drop else ':'}{ff:0{digits}d}"


def find_timecode(*tag_sets) -> str | None:
    """The first ``timecode`` tag (any spelling: Matroska's is TIMECODE) in ``tag_sets``."""
    for tags in tag_sets:
        for k, v in dict(tags or {}).items():
            if k.lower() == "timecode":
                return v
    return None


def timecode_fps(rate: Fraction) -> int:
    """Frames a timecode second counts at ``rate`` (24 for 23.976, 30 for 29.97)."""
    return max(1, round(rate))


def drop_frame_allowed(rate: Fraction) -> bool:
    """Drop-frame timecode is made for multiples of NTSC's 30000/1001 fps."""
    multiple = Fraction(rate) * 1001 / 30000
    return multiple.denominator == 1 and multiple > 0


def parse_timecode(text: str, rate: Fraction) -> Timecode | None:
    """``text`` at ``rate``; None where it is not a timecode that rate can have."""
    m = _LABEL.match(str(text).strip())
    fps = timecode_fps(rate)
    if not m:
        return None
    h, mi, s, sep, ff = m.groups()
    h, mi, s, ff = int(h), int(mi), int(s), int(ff)
    drop = sep in ";,"
    if mi > 59 or s > 59 or ff >= fps or (drop and fps % 30):  # read as FFmpeg reads it
        return None
    n = (h * 3600 + mi * 60 + s) * fps + ff
    return Timecode(_unlabelled(n, fps) if drop else n, fps, drop)


def retimed(text: str, source_rate: Fraction, out_rate: Fraction, start: Fraction | None) -> str | None:
    """The timecode of an output at ``out_rate`` whose first frame is the source's at
    ``start`` seconds (None: its first); None where ``text`` cannot be read at the
    source's rate.  The source's frames are counted as they come (23.976 fps counts 24
    a timecode second), so an output at twice the rate counts twice as many."""
    tc = parse_timecode(text, source_rate)
    if tc is None:
        return None
    frames = tc.frame + (start or 0) * source_rate  # source frames since midnight
    fps = timecode_fps(out_rate)
    drop = tc.drop and drop_frame_allowed(out_rate)  # the output's count, and so its day
    return str(Timecode(round(frames * out_rate / source_rate) % _per_day(fps, drop), fps, drop))


def _drops(fps: int) -> int:
    return fps // 30 * 2  # labels skipped each minute but every tenth: 2 at 29.97, 4 at 59.94


def _per_day(fps: int, drop: bool) -> int:
    per_ten_minutes = fps * 600 - (_drops(fps) * 9 if drop else 0)
    return per_ten_minutes * 6 * 24


def _labelled(frame: int, fps: int) -> int:
    """A drop-frame count as the label's plain count (skipped labels put back)."""
    per_ten = fps * 600 - _drops(fps) * 9
    tens, rest = divmod(frame, per_ten)
    skipped = _drops(fps) * 9 * tens
    if rest >= _drops(fps):
        skipped += _drops(fps) * ((rest - _drops(fps)) // (fps * 60 - _drops(fps)))
    return frame + skipped


def _unlabelled(label_count: int, fps: int) -> int:
    """A drop-frame label's plain count as frames (the skipped labels taken out)."""
    total_minutes = label_count // (fps * 60)
    return label_count - _drops(fps) * (total_minutes - total_minutes // 10)
