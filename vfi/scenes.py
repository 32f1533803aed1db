"""Scene-cut detection between consecutive frames.

A cut is a frame pair whose content does not continue.  Plain frame differences cannot
tell a cut from a fast camera pan (both change most pixels), so the score is the
smallest mean absolute difference over a range of global shifts: a pan is explained by
a shift and scores low, a cut is not and scores high.  Frames are compared as small
greyscale thumbnails, which is cheap and ignores noise and compression artefacts.
"""

from __future__ import annotations

import av
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .io.colour import reformatter

THUMB_WIDTH = 64
MAX_SHIFT = 8  # thumbnail pixels, i.e. 1/8 of the width per source frame
DEFAULT_THRESHOLD = 0.10  # corpus: cuts score >= 0.12, fast pans <= 0.08


def thumbnail(frame: av.VideoFrame) -> np.ndarray:
    w = min(THUMB_WIDTH, frame.width)
    h = max(1, round(frame.height * w / frame.width))
    small = reformatter("thumbnail").reformat(frame, width=w, height=h, format="gray")
    return small.to_ndarray().astype(np.float32) / 255.0


def cut_score(a: np.ndarray, b: np.ndarray, max_shift: int = MAX_SHIFT, stop_below: float | None = None) -> float:
    """Min over shifts (dy, dx) of the mean |a - shifted b| in the overlap, in [0, 1].
    Each frame is brightness-normalised first so a fade or exposure change is not a cut.

    ``stop_below``: if the unshifted score is already at or under it, return that
    (the minimum is no larger, so the answer to "is it above the threshold?" is known)
    without searching the shifts; most consecutive frames stop there."""
    a = a - a.mean()
    b = b - b.mean()
    if stop_below is not None:
        still = float(np.abs(a - b).mean())
        if still <= stop_below:
            return still
    h, w = a.shape
    sy = min(max_shift, max(0, h // 4))
    sx = min(max_shift, max(0, w // 4))
    # Every shift at once: windows of a zero-padded b; the overlap of a shift (dy, dx)
    # has (h - |dy|) x (w - |dx|) real pixels, and the padding contributes |a| outside it.
    pb = np.pad(b, ((sy, sy), (sx, sx)))
    pm = np.pad(np.ones_like(b), ((sy, sy), (sx, sx)))
    wins = sliding_window_view(pb, (h, w))  # (2sy+1, 2sx+1, h, w)
    mask = sliding_window_view(pm, (h, w))
    diff = (np.abs(wins - a) * mask).sum(axis=(2, 3))
    count = np.outer(h - np.abs(np.arange(-sy, sy + 1)), w - np.abs(np.arange(-sx, sx + 1)))
    return float((diff / count).min())


HOLD_LEVEL = 4  # 0..255: differences up to this are compression noise
HOLD_FRACTION = 0.005  # a frame repeats its neighbour if fewer pixels than this differ more


def is_hold(a: np.ndarray, b: np.ndarray) -> bool:
    """True if ``b`` repeats ``a`` (a frame hold, or a duplicated frame re-encoded): under
    0.5 % of the samples differ by more than compression noise. A mostly static shot
    with something small moving in it is not a hold."""
    changed = np.abs(a.astype(np.int16) - b) > HOLD_LEVEL
    return float(changed.mean()) < HOLD_FRACTION


class CutDetector:
    """``is_cut(a, b)`` for consecutive frames; threshold 0 turns detection off."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        if threshold < 0:
            raise ValueError("scene threshold must be >= 0")
        self.threshold = threshold
        self._cache: tuple[int, np.ndarray] | None = None
        self._prepared: tuple[int, np.ndarray] | None = None  # last frame seen by prepare()
        self.cuts: list[int] = []  # index of the first frame after each cut

    def _thumb(self, key: int, frame: av.VideoFrame) -> np.ndarray:
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        th = thumbnail(frame)
        self._cache = (key, th)
        return th

    def prepare(self, sf) -> None:
        """Scores ``sf`` against the frame prepared before it, ahead of ``is_cut`` (the
        engine calls this in its decode thread; frames must come in order)."""
        if self.threshold <= 0:
            return
        th = thumbnail(sf.frame)
        prev = self._prepared
        sf.cut_score = (prev[0], cut_score(prev[1], th, stop_below=self.threshold)) if prev is not None else None
        self._prepared = (sf.index, th)

    def neighbours(self, a, b, before, after) -> dict:
        """The source frames around the pair (``a``, ``b``) that are in its shot: a method
        is given none across a scene cut."""
        return {"before": before if before is not None and self.same_shot(before, a) else None,
                "after": after if after is not None and self.same_shot(b, after) else None}

    def same_shot(self, a, b) -> bool:
        """No cut between consecutive frames ``a`` and ``b`` (not counted in ``cuts``)."""
        if self.threshold <= 0:
            return True
        pre = getattr(b, "cut_score", None)
        if pre is not None and pre[0] == a.index:
            return pre[1] <= self.threshold
        return cut_score(thumbnail(a.frame), thumbnail(b.frame), stop_below=self.threshold) <= self.threshold

    def is_cut(self, a, b) -> bool:
        """``a`` and ``b`` are SourceFrames (anything with ``.index`` and ``.frame``)."""
        if self.threshold <= 0:
            return False
        pre = getattr(b, "cut_score", None)
        if pre is not None and pre[0] == a.index:
            score = pre[1]
        else:
            ta = self._thumb(a.index, a.frame)
            tb = thumbnail(b.frame)
            self._cache = (b.index, tb)
            score = cut_score(ta, tb, stop_below=self.threshold)
        cut = score > self.threshold
        if cut:
            self.cuts.append(b.index)
        return cut
