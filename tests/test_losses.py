import math

import pytest
import torch

from vfi import losses
from vfi.losses import BlurAwareLoss, blur_gap, cosine_proximity, get_loss, laplacian_variance, mse, msle


def t(values):
    return torch.tensor(values, dtype=torch.float64).view(1, 1, 1, -1)


def test_mse_hand_computed():
    assert mse(t([1.0, 2.0, 3.0]), t([1.0, 0.0, 6.0])).item() == pytest.approx((0 + 4 + 9) / 3)


def test_msle_hand_computed():
    expected = ((math.log(2) - math.log(1)) ** 2 + (math.log(4) - math.log(8)) ** 2) / 2
    assert msle(t([1.0, 3.0]), t([0.0, 7.0])).item() == pytest.approx(expected)


def test_cosine_proximity_hand_computed():
    # (1,0) vs (1,1): cos = 1/sqrt(2); second sample identical: cos = 1
    pred = torch.tensor([[1.0, 0.0], [2.0, 3.0]]).view(2, 1, 1, 2)
    target = torch.tensor([[1.0, 1.0], [4.0, 6.0]]).view(2, 1, 1, 2)
    assert cosine_proximity(pred, target).item() == pytest.approx(-(1 / math.sqrt(2) + 1) / 2)


def test_laplacian_variance_and_blur_gap():
    flat = torch.full((1, 1, 5, 6), 7.0, dtype=torch.float64)
    assert laplacian_variance(flat).item() == 0.0
    x = torch.zeros(1, 1, 3, 4, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0  # mirrored borders: Laplacians -4 at the centre, 2 at its three border neighbours, 1 right of it
    values = torch.tensor([-4.0, 2, 2, 2, 1] + [0.0] * 7, dtype=torch.float64)
    assert laplacian_variance(x).item() == pytest.approx(values.var(unbiased=False).item())
    assert blur_gap(x, x).item() == pytest.approx(0.0, abs=1e-12)
    half = x * 0.5  # variance / 4: log-ratio ln 4
    assert blur_gap(half, x).item() == pytest.approx(math.log(4) ** 2, rel=1e-5)  # eps moves it slightly


def test_the_blur_term_measures_the_reported_blur_factor():
    """The training blur term's Laplacian variance is the one vfi eval and vfi
    blur-report invert into the Blur Factor: BT.601 luma, mirrored borders."""
    import numpy as np

    from vfi import metrics

    rgb = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3)).astype(np.float64)
    got = laplacian_variance(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    want = [metrics.laplacian_variance(img) for img in rgb]
    assert got.numpy() == pytest.approx(want, rel=1e-12)


def test_blur_aware_loss_adds_weighted_gap():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    y = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    loss = BlurAwareLoss(mse, 0.5)
    assert loss(x, y).item() == pytest.approx(mse(x, y).item() + 0.5 * blur_gap(x, y).item())
    assert isinstance(get_loss("blur", 0.5), BlurAwareLoss)
    both = get_loss("log-mse-blur", 0.5)
    assert both(x, y).item() == pytest.approx(get_loss("log-mse")(x, y).item() + 0.5 * blur_gap(x, y).item())
    with pytest.raises(ValueError):
        get_loss("l7")


def test_log_mse_is_minus_mean_psnr_per_sample():
    pred = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    target = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    target[0] += 3.0  # sample 0: MSE 9; sample 1: MSE 0
    # mean of 10 log10(9 + 1) and 10 log10(0 + 1)
    assert get_loss("log-mse")(pred, target).item() == pytest.approx(5.0)
    target[1] += 99.0  # a large error no longer swamps the small one: 10 log10(9802) / 2 + 5
    assert get_loss("log-mse")(pred, target).item() == pytest.approx(5 + 5 * math.log10(99**2 + 1))


def test_every_loss_name_gives_a_loss():
    from vfi import cli, losses

    assert cli.LOSS_NAMES is losses.LOSS_NAMES
    pred, target = torch.rand(2, 3, 8, 8) * 255, torch.rand(2, 3, 8, 8) * 255
    for name in losses.LOSS_NAMES:
        fn = losses.get_loss(name)
        value = fn(pred, target, (pred + target) / 2) if getattr(fn, "takes_blend", False) else fn(pred, target)
        assert torch.isfinite(value), name


def test_charbonnier_and_its_blur_term():
    from vfi.losses import charbonnier, get_loss

    a = torch.zeros(1, 3, 8, 8)
    b = torch.full((1, 3, 8, 8), 0.5)
    assert abs(charbonnier(a, b).item() - (0.25 + 1e-6) ** 0.5) < 1e-6
    sharp = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    blurry = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1)
    loss = get_loss("charbonnier-blur", 1.0)
    assert loss(sharp, sharp).item() < 1e-2 < loss(blurry, sharp).item() - charbonnier(blurry, sharp).item()


def zero_mean_noise(like, seed):
    g = torch.Generator().manual_seed(seed)
    n = torch.randn(like.shape, generator=g)
    return n - n.mean(dim=(2, 3), keepdim=True)


def test_no_worse_than_blend_is_log_mse_for_a_better_light_preserving_correction():
    target = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    blend = target + 8 * zero_mean_noise(target, 1)
    pred = target + 2 * zero_mean_noise(target, 2)  # closer than the blend, adds no light
    loss = losses.NoWorseThanBlend()
    assert loss(pred, target, blend).item() == pytest.approx(losses.log_mse(pred, target).item(), rel=1e-6)


def test_no_worse_than_blend_charges_falling_below_the_blend_and_adding_light():
    target = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    noise = zero_mean_noise(target, 1)
    blend, worse = target + 2 * noise, target + 4 * noise
    gap = (losses.log_mse(worse, target) - losses.log_mse(blend, target)).item()
    assert gap > 0
    hinge_only = losses.NoWorseThanBlend(hinge=2.0, mean_weight=0.0)
    assert hinge_only(worse, target, blend).item() == pytest.approx(losses.log_mse(worse, target).item() + 2 * gap, rel=1e-5)
    brighter = blend + 0.5  # half a level of light added everywhere: log-mse barely notices
    mean_only = losses.NoWorseThanBlend(hinge=0.0, mean_weight=100.0)
    assert mean_only(brighter, target, blend).item() - losses.log_mse(brighter, target).item() == pytest.approx(25.0, rel=1e-4)
