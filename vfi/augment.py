"""Training crops and augmentation, shared by every model's frames (NumPy only).

Crops are drawn from a generator seeded by (seed, epoch, index), so that a resumed run
sees the same crops as an uninterrupted one; validation crops are centred."""

from __future__ import annotations

import numpy as np


def crop_origin(rng: np.random.Generator, h: int, w: int, size_y: int, size_x: int, train: bool) -> tuple[int, int]:
    """Top-left corner of a size_y x size_x crop of an h x w frame: random for
    training (the crop lies inside the frame), centred otherwise (at 0 where the frame
    is smaller)."""
    if train:
        return int(rng.integers(0, h - size_y + 1)), int(rng.integers(0, w - size_x + 1))
    return max(0, (h - size_y) // 2), max(0, (w - size_x) // 2)


def window(frame: np.ndarray, y0: int, x0: int, size_y: int, size_x: int) -> np.ndarray:
    """frame[y0:y0+size_y, x0:x0+size_x], zero where the window leaves the frame."""
    h, w = frame.shape[:2]
    ya, xa, yb, xb = max(0, y0), max(0, x0), min(h, y0 + size_y), min(w, x0 + size_x)
    part = frame[ya:yb, xa:xb]
    if part.shape[:2] == (size_y, size_x):
        return part
    pad = ((ya - y0, y0 + size_y - yb), (xa - x0, x0 + size_x - xb)) + ((0, 0),) * (frame.ndim - 2)
    return np.pad(part, pad)


def draw_flips(rng: np.random.Generator) -> tuple[bool, bool, bool]:
    """(horizontal flip, vertical flip, time reversal), each with probability 1/2.
    Motion has no preferred direction in space or time: a flipped or reversed triplet
    is as real as the original."""
    flip_h, flip_v, reverse = rng.integers(0, 2, size=3)
    return bool(flip_h), bool(flip_v), bool(reverse)


def mirror(images, flip_h: bool, flip_v: bool) -> list[np.ndarray]:
    """Each H x W (x C) image flipped left-right and/or upside down (views)."""
    out = []
    for img in images:
        if flip_h:
            img = img[:, ::-1]
        if flip_v:
            img = img[::-1]
        out.append(img)
    return out
