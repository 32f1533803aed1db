"""Training losses: paper 002's three (MSE, MSLE, cosine proximity) and the blur-aware
loss it recommends as future work. All take (N, C, H, W) predictions and targets and
return a scalar mean over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .loss_names import LOSS_NAMES, PLAIN_LOSSES

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
LUMA = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)  # ITU-R BT.601, as vfi.metrics.grey


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - target) ** 2)


def log_mse(pred: torch.Tensor, target: torch.Tensor, floor: float = 1.0) -> torch.Tensor:
    """Mean over samples of 10*log10(MSE_i + floor): minus the mean PSNR, up to a constant,
    which is the figure the drop-frame benchmark averages.  Plain MSE lets a few samples
    with large motion (errors in the hundreds) outweigh many nearly-still ones; this
    weighs every sample's error relative to its own size.  ``floor`` (in squared pixel
    levels on 0..255) keeps static crops from dominating."""
    per_sample = ((pred - target) ** 2).flatten(1).mean(dim=1)
    return torch.mean(10 * torch.log10(per_sample + floor))


def msle(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of log(1 + y); predictions below 0 are clamped (as Keras)."""
    return torch.mean((torch.log1p(pred.clamp_min(0)) - torch.log1p(target.clamp_min(0))) ** 2)


def cosine_proximity(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Minus the cosine between prediction and target, each sample taken as one
    vector; -1 is a perfect match in direction."""
    p = pred.flatten(1)
    t = target.flatten(1)
    return -torch.mean(F.cosine_similarity(p, t, dim=1, eps=1e-8))


def luma(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) BT.601 luma; one channel stays as it is."""
    if x.shape[1] == 1:
        return x
    return (x[:, :3] * LUMA.to(x.dtype).to(x.device).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def laplacian_variance(x: torch.Tensor) -> torch.Tensor:
    """Per-sample variance of the 3x3 Laplacian of the BT.601 luma, with mirrored
    borders: the inverse of paper 002's Blur Factor, measured as
    :func:`vfi.metrics.laplacian_variance` measures it for the reports, so that the
    blur term trains towards the figure vfi eval and vfi blur-report give."""
    grey = F.pad(luma(x), (1, 1, 1, 1), mode="reflect")  # reflect: the edge not repeated, as scipy's 'mirror'
    lap = F.conv2d(grey, LAPLACIAN.to(x.dtype).to(x.device).view(1, 1, 3, 3))
    return lap.flatten(1).var(dim=1, unbiased=False)


def blur_gap(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Squared log-ratio of Laplacian variances: log(1 + RBF)^2 per sample, so a
    prediction twice too blurry costs as much as one twice too sharp."""
    return torch.mean((torch.log(laplacian_variance(target) + eps) - torch.log(laplacian_variance(pred) + eps)) ** 2)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """sqrt(d^2 + eps^2), averaged: L1 that stays smooth at zero, for images on 0..1
    (eps is a quarter of a level).  A pixel-wise distance, of the Laplacians too, still
    prefers a blurred answer to a sharp one slightly out of place (measured: it trained
    flow-fusion towards the plain average); sharpness needs a term on the whole image's
    detail, the blur term of :class:`BlurAwareLoss`."""
    d = pred - target
    return torch.mean(torch.sqrt(d * d + eps * eps))


class BlurAwareLoss:
    """``base(pred, target) + weight * blur_gap(pred, target)``."""

    def __init__(self, base=mse, weight: float = 0.1):
        self.base = base
        self.weight = weight

    def __call__(self, pred, target):
        return self.base(pred, target) + self.weight * blur_gap(pred, target)


class NoWorseThanBlend:
    """For the sparse CNN, which corrects the linear blend of its two frames:
    :func:`log_mse`, plus ``hinge`` times the dB by which each sample's PSNR falls below
    the blend's, plus ``mean_weight`` times the squared mean of the correction (the
    prediction minus the blend) per sample and channel.

    Why: minus the mean PSNR alone trades a loss on hard footage (a music visualiser's
    glowing shapes: -1 dB under the blend) for gains on easy footage; the hinge asks the
    model to leave the blend alone where it cannot help.  And a correction that moves
    light around (sharpening an edge, shifting it towards where it belongs) adds none
    over a crop, while one that adds or removes light shows as a darker or lighter
    frame: the 0.1.0-0.3.0 weights were 0.4-1.7 levels dark on footage they had not
    seen, which at 44 dB costs 1-2 dB.  Asking the truth's crop mean instead would be
    noise (content moving in and out of a crop changes it by levels); the blend's is
    known.  Called with the blend of the two input frames as the third argument."""

    takes_blend = True

    def __init__(self, hinge: float = 1.0, mean_weight: float = 100.0, floor: float = 1.0):
        self.hinge, self.mean_weight, self.floor = hinge, mean_weight, floor

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, blend: torch.Tensor) -> torch.Tensor:
        def db(x):  # per sample, 10 log10(MSE + floor): minus its PSNR up to a constant
            return 10 * torch.log10(((x - target) ** 2).flatten(1).mean(dim=1) + self.floor)

        ours = db(pred)
        worse = torch.relu(ours - db(blend).detach())
        added_light = (pred - blend).mean(dim=(2, 3))
        return ours.mean() + self.hinge * worse.mean() + self.mean_weight * (added_light ** 2).mean()


LOSSES = dict(zip(PLAIN_LOSSES, (mse, msle, cosine_proximity, log_mse, charbonnier)))


def get_loss(name: str, blur_weight: float = 0.1):
    """``blur_weight`` weighs the blur term of blur, log-mse-blur and charbonnier-blur."""
    if name == "charbonnier-blur":
        return BlurAwareLoss(charbonnier, blur_weight)
    if name == "blur":
        return BlurAwareLoss(mse, blur_weight)
    if name == "log-mse-blur":
        return BlurAwareLoss(log_mse, blur_weight)
    if name == "no-worse-than-blend":
        return NoWorseThanBlend()
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSS_NAMES)})")
    return LOSSES[name]
