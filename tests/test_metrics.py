"""Blur Factor, RBF, PSNR, SSIM against hand-computed and independent values."""

import math

import numpy as np
import pytest
from scipy import signal

from vfi.metrics import (blur_factor, grey, laplacian_variance, local_blur_factor, local_relative_blur_factor, psnr,
                         relative_blur_factor, ssim)


def independent_lapvar(grey_img):
    """var of the 5-point Laplacian via scipy.signal with mirrored (reflect-101) borders."""
    padded = np.pad(grey_img, 1, mode="reflect")  # numpy 'reflect' = mirror without edge repeat
    k = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    return float(np.var(signal.convolve2d(padded, k, mode="valid")))


def test_blur_factor_matches_independent_computation():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (40, 60, 3)).astype(np.uint8)
    g = img.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert laplacian_variance(img) == pytest.approx(independent_lapvar(g), rel=1e-12)
    assert blur_factor(img) == pytest.approx(1 / independent_lapvar(g), rel=1e-12)


def test_hand_computed_laplacian_variance():
    img = np.zeros((3, 3))
    img[1, 1] = 1.0
    # mirrored borders: Laplacian = [[0,1,0],[1,-4,1],[0,1,0]] on this impulse; var = 20/9 - (0)^2
    lap = np.array([[0, 2, 0], [2, -4, 2], [0, 2, 0]], dtype=float)  # edge pixels see the impulse twice
    assert laplacian_variance(img) == pytest.approx(np.var(lap))


def test_flat_frame_is_infinitely_blurry():
    flat = np.full((16, 16, 3), 128, np.uint8)
    assert blur_factor(flat) == math.inf
    assert relative_blur_factor(flat, flat) == 0.0
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    assert relative_blur_factor(flat, sharp) == math.inf
    assert relative_blur_factor(sharp, flat) == -1.0


def test_rbf_zero_for_itself_positive_when_blurred():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32)).astype(float)
    assert relative_blur_factor(img, img) == 0.0
    blurred = gaussian_filter(img, 1.0)
    assert relative_blur_factor(blurred, img) > 0.5
    assert relative_blur_factor(img, blurred) < 0


def test_rbf_is_ratio_of_blur_factors():
    rng = np.random.default_rng(3)
    a, b = rng.random((20, 20)) * 255, rng.random((20, 20)) * 100
    assert relative_blur_factor(a, b) == pytest.approx(blur_factor(a) / blur_factor(b) - 1)


def test_psnr_known_values():
    a = np.zeros((10, 10, 3))
    assert psnr(a, a) == math.inf
    assert psnr(a, a + 10) == pytest.approx(10 * math.log10(255**2 / 100))  # 28.1308 dB
    assert psnr(a, a + 10) == pytest.approx(28.1308, abs=1e-4)


def test_ssim_known_values():
    x = np.full((32, 32), 100.0)
    y = np.full((32, 32), 110.0)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1) * (c2 / c2)
    assert ssim(x, y) == pytest.approx(expected, rel=1e-9)
    rng = np.random.default_rng(0)
    z = rng.random((32, 32)) * 255
    assert ssim(z, z) == pytest.approx(1.0)
    assert ssim(z, 255 - z) < 0  # anti-correlated structure


def test_greyscale_is_bt601():
    assert grey(np.array([[[255, 0, 0]]], np.uint8))[0, 0] == pytest.approx(0.299 * 255)


def test_local_maps():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 48)).astype(float)
    img[:16, :24] = 50  # a flat quadrant
    bf = local_blur_factor(img, (2, 2))
    assert bf.shape == (2, 2)
    assert np.isfinite(bf[1, 1]) and bf[0, 0] > bf[1, 1]
    rbf = local_relative_blur_factor(img, img, (4, 4))
    assert np.all(rbf == 0)


def test_error_region_finds_where_the_prediction_errs_most():
    from vfi.metrics import error_region

    truth = np.full((60, 80, 3), 100, np.uint8)
    pred = truth.copy()
    pred[5:10, 5:10] += 3  # a small error
    pred[40:50, 60:70] += 40  # the big one
    y, x, h, w = error_region(pred, truth, 16)
    assert (h, w) == (16, 16)
    assert y <= 40 and y + h >= 50 and x <= 60 and x + w >= 70
    assert error_region(pred, truth, 200) == (0, 0, 60, 80)  # never larger than the frame
