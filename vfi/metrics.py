"""Image quality measures: paper 002's Blur Factor and Relative Blur Factor (global and
per tile), PSNR and SSIM.  NumPy/SciPy only, usable without the CLI.

Conventions (they change the numbers, so they are fixed and stated):

* Greyscale: ITU-R BT.601 luma, ``0.299 R + 0.587 G + 0.114 B``, on 0..255 values,
  kept in float64 (not rounded to 8 bits).
* Laplacian: the 3x3 discrete kernel ``[[0,1,0],[1,-4,1],[0,1,0]]`` with mirrored
  borders (``scipy.ndimage`` mode 'mirror', which is OpenCV's default BORDER_REFLECT_101),
  so ``var(Lap)`` equals ``cv2.Laplacian(grey, cv2.CV_64F).var()`` on the same grey image.
* Variance: population variance over all pixels.
* BF(P) = 1 / var(Lap(P)); a flat frame has var 0 and BF = inf (reported as such).
* RBF(pred, true) = BF(pred)/BF(true) - 1 = var(Lap(true))/var(Lap(pred)) - 1: 0 for
  equal sharpness, > 0 blurrier than the truth, < 0 sharper. Both flat: 0; only the
  prediction flat: inf.
* PSNR over all RGB samples, peak 255 (inf for identical images).
* SSIM: Wang et al. 2004 on the luma, 11x11 Gaussian window with sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, averaged over the valid window positions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

LAPLACIAN_3X3 = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
LUMA = np.array([0.299, 0.587, 0.114])


def grey(img: np.ndarray) -> np.ndarray:
    """H x W x 3 (RGB) or H x W -> H x W float64 on 0..255."""
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 3:
        if a.shape[2] == 1:
            return a[..., 0]
        return a[..., :3] @ LUMA
    return a


def laplacian(img: np.ndarray) -> np.ndarray:
    return ndimage.convolve(grey(img), LAPLACIAN_3X3, mode="mirror")


def laplacian_variance(img: np.ndarray) -> float:
    return float(np.var(laplacian(img)))


def bf_from_variance(var: float) -> float:
    """The Blur Factor of an image whose Laplacian has variance ``var``: 1 / var, inf
    for a flat image."""
    return math.inf if var == 0 else 1.0 / var


def blur_factor(img: np.ndarray) -> float:
    return bf_from_variance(laplacian_variance(img))


def rbf_from_variances(var_pred: float, var_true: float) -> float:
    if var_pred == 0:
        return 0.0 if var_true == 0 else math.inf
    return var_true / var_pred - 1.0


def relative_blur_factor(pred: np.ndarray, true: np.ndarray) -> float:
    return rbf_from_variances(laplacian_variance(pred), laplacian_variance(true))


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    x, y = grey(a), grey(b)
    if x.shape != y.shape:
        raise ValueError("images differ in size")
    g = _gaussian_window()
    if min(x.shape) < len(g):
        g = _gaussian_window(min(x.shape) | 1 if min(x.shape) % 2 else min(x.shape) - 1, 1.5)

    def filt(z):  # separable Gaussian, valid positions only
        z = ndimage.correlate1d(z, g, axis=0, mode="constant")
        z = ndimage.correlate1d(z, g, axis=1, mode="constant")
        r = len(g) // 2
        return z[r: z.shape[0] - r, r: z.shape[1] - r]

    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def tile_edges(n: int, tiles: int) -> list[int]:
    return [round(i * n / tiles) for i in range(tiles + 1)]


def local_laplacian_variance(img: np.ndarray, tiles: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Variance of the Laplacian in each tile of a rows x cols grid (the Laplacian is
    taken on the whole frame first, so tile borders see their real neighbours)."""
    lap = laplacian(img)
    rows, cols = tiles
    ys, xs = tile_edges(lap.shape[0], rows), tile_edges(lap.shape[1], cols)
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            t = lap[ys[i]: ys[i + 1], xs[j]: xs[j + 1]]
            out[i, j] = float(np.var(t)) if t.size else 0.0
    return out


def local_blur_factor(img: np.ndarray, tiles=(8, 8)) -> np.ndarray:
    v = local_laplacian_variance(img, tiles)
    return np.vectorize(bf_from_variance, otypes=[float])(v)


def local_relative_blur_factor(pred: np.ndarray, true: np.ndarray, tiles=(8, 8)) -> np.ndarray:
    vp, vt = local_laplacian_variance(pred, tiles), local_laplacian_variance(true, tiles)
    return np.vectorize(rbf_from_variances)(vp, vt)


def error_region(pred: np.ndarray, truth: np.ndarray, size: int = 96) -> tuple[int, int, int, int]:
    """Where ``pred`` errs most: the ``size`` x ``size`` window (smaller where the frame
    is) with the largest sum of squared errors over its samples, as (top, left, height,
    width).  Ties: the first in reading order."""
    err = (np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2
    if err.ndim == 3:
        err = err.sum(axis=2)
    h, w = err.shape
    ch, cw = min(size, h), min(size, w)
    ii = np.zeros((h + 1, w + 1))
    ii[1:, 1:] = err.cumsum(0).cumsum(1)
    sums = ii[ch:, cw:] - ii[:-ch, cw:] - ii[ch:, :-cw] + ii[:-ch, :-cw]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x), ch, cw
