"""The per-pixel kernels flow-fusion is made of, on tensors of any device: warps
(bilinear, bicubic), resizes (area, bilinear) and a Gaussian blur.

Everything else in :mod:`vfi.flow` and :mod:`vfi.models.flow_fusion` is plain PyTorch
arithmetic and runs wherever its tensors are.  These five kernels are the exception:
PyTorch's CPU versions are 2-10x slower than OpenCV's (1080p, one thread: bicubic warp
56 ms against 30, bilinear upsampling 100 against 11, area halving 28 against 10, the
7-tap blur of 9 planes 190 against 56), so on a CPU, where no gradient is wanted, the
same kernel runs through OpenCV on the tensor's memory.  Both give the same result
(OpenCV rounds warp positions to 1/32 px; tests/test_kernels.py holds them together),
and CUDA runs PyTorch's.

Tensors are (N, C, H, W); on the CPU path channels-last memory is read without a copy,
and so are tensors laid out plane by plane (resizes and the blur then go one plane at a time).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

CV2_MAX_CHANNELS = 4  # OpenCV's resize and remap take at most 4 channels at once


def use_cv2(x: torch.Tensor) -> bool:
    """Whether ``x`` goes through OpenCV: on the CPU, float32 or uint8, no gradient."""
    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.uint8)
            and not (torch.is_grad_enabled() and x.requires_grad) and _FORCE_TORCH == 0)


_FORCE_TORCH = 0


class torch_kernels:
    """``with torch_kernels():`` runs PyTorch's kernels on the CPU too (what CUDA runs):
    for tests and for measuring them."""

    def __enter__(self):
        global _FORCE_TORCH
        _FORCE_TORCH += 1

    def __exit__(self, *exc):
        global _FORCE_TORCH
        _FORCE_TORCH -= 1


def _cv2():
    import cv2

    return cv2


def _planes(x: torch.Tensor, i: int) -> list[np.ndarray]:
    """Image ``i`` of a CPU tensor as H x W x C arrays of at most 4 channels (views where
    the memory is channels-last)."""
    img = x[i].permute(1, 2, 0)
    c = img.shape[2]
    return [np.ascontiguousarray(img[..., k: k + CV2_MAX_CHANNELS].numpy()) for k in range(0, c, CV2_MAX_CHANNELS)]


def _plane_by_plane(x: torch.Tensor) -> bool:
    """Whether ``x`` (N, C, H, W), C > 1, lies plane by plane (rows of each plane unit-strided):
    then OpenCV reads and writes each plane in place, one at a time."""
    return x.shape[1] > 1 and x.stride(-1) == 1


def _each_plane(x: torch.Tensor, size: tuple[int, int], kernel) -> torch.Tensor:
    """``kernel(src, dst)`` on every (H, W) plane of ``x`` into a new plain (N, C, *size) tensor."""
    out = torch.empty((*x.shape[:2], *size), dtype=x.dtype)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            kernel(x[i, c].numpy(), out[i, c].numpy())
    return out


def _from_planes(groups: list[list[np.ndarray]]) -> torch.Tensor:
    """Images of channel groups (H x W [x C]) back to one channels-last (N, C, H, W) tensor."""
    imgs = []
    for planes in groups:
        planes = [p[..., None] if p.ndim == 2 else p for p in planes]
        imgs.append(np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0])
    batch = imgs[0][None] if len(imgs) == 1 else np.stack(imgs)  # one image: no copy
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


def remap(src: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mode: str = "bicubic", levels: bool = False) -> torch.Tensor:
    """``src`` (1, C, H, W) read at pixel positions (``x``, ``y``) (h x w float32),
    edges repeated: (1, C, h, w) float32, plane by plane.  ``levels``: ``src`` holds 0..255 levels and the
    result is rounded and clipped to them, as an 8-bit warp gives."""
    if use_cv2(src):
        cv2 = _cv2()
        flag = cv2.INTER_CUBIC if mode == "bicubic" else cv2.INTER_LINEAR
        mx, my = x.numpy(), y.numpy()
        if levels:
            src = src.round().clamp_(0, 255).to(torch.uint8) if src.dtype != torch.uint8 else src
        out = [cv2.remap(p, mx, my, flag, borderMode=cv2.BORDER_REPLICATE) for p in _planes(src, 0)]
        # float32 plane by plane, in the one pass that converts: what the fusion reads
        return _from_planes([out]).to(torch.float32, memory_format=torch.contiguous_format)
    h, w = src.shape[-2:]
    grid = torch.stack([x * (2 / max(w - 1, 1)) - 1, y * (2 / max(h - 1, 1)) - 1], dim=-1).unsqueeze(0)
    out = F.grid_sample(src.float(), grid, mode=mode, padding_mode="border", align_corners=True)
    return out.round_().clamp_(0, 255) if levels else out


def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """(N, C, H, W) to (N, C, *size): ``bilinear`` (half-pixel centres, no antialiasing:
    OpenCV's INTER_LINEAR) or ``area`` (the mean of the pixels each one covers)."""
    h, w = size
    if tuple(x.shape[-2:]) == (h, w):
        return x
    if use_cv2(x):
        cv2 = _cv2()
        flag = cv2.INTER_AREA if mode == "area" else cv2.INTER_LINEAR
        if _plane_by_plane(x):
            return _each_plane(x, (h, w), lambda src, dst: cv2.resize(src, (w, h), dst=dst, interpolation=flag))
        return _from_planes([[cv2.resize(p, (w, h), interpolation=flag) for p in _planes(x, i)] for i in range(x.shape[0])])
    if mode == "area":
        H, W = x.shape[-2:]
        if h <= H and w <= W and (H % h or W % w):
            # not whole cells: PyTorch's area (adaptive pooling) averages whole pixels, OpenCV's
            # weighs the pixels a cell edge cuts by their share (up to 90 levels apart)
            return _area_weights(H, h, x) @ x @ _area_weights(W, w, x).T
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _area_weights(n: int, m: int, like: torch.Tensor) -> torch.Tensor:
    """(m, n): how much of each of ``n`` pixels each of ``m`` cells covering them takes
    (cell i spans [i n / m, (i + 1) n / m)), over the cell's width: OpenCV's INTER_AREA
    when shrinking.  On ``like``'s device and in its type, made once per size (made on
    the host, they would be copied to a GPU, the host waiting for it, at every call)."""
    return _area_weights_on(n, m, like.device, like.dtype)


@functools.lru_cache(maxsize=8)
def _area_weights_on(n: int, m: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    with torch.inference_mode(False):  # kept across calls: usable outside inference mode too
        s = n / m
        edges = torch.arange(m + 1, dtype=torch.float64) * s
        j = torch.arange(n, dtype=torch.float64)[None]
        overlap = (torch.minimum(edges[1:, None], j + 1) - torch.maximum(edges[:-1, None], j)).clamp_(min=0)
        return (overlap / s).to(device, dtype)


def resize_cells(x: torch.Tensor, cell: int) -> torch.Tensor:
    """The mean of each ``cell`` x ``cell`` block of (N, C, H, W), edges repeated to whole
    blocks: (N, C, ceil(H / cell), ceil(W / cell)), channels-last on a CPU."""
    h, w = x.shape[-2:]
    if h % cell or w % cell:
        x = F.pad(x, (0, -w % cell, 0, -h % cell), mode="replicate")
    small = resize(x, (x.shape[-2] // cell, x.shape[-1] // cell), "area")
    return small.contiguous(memory_format=torch.channels_last) if small.device.type == "cpu" else small


def gaussian_blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable blur of (N, C, H, W) by the odd-length 1-D ``kernel``, edges repeated."""
    r = (kernel.numel() - 1) // 2
    if use_cv2(x) and x.dtype == torch.float32:
        cv2 = _cv2()
        k = kernel.double().numpy()
        if _plane_by_plane(x):
            return _each_plane(x, tuple(x.shape[-2:]), lambda src, dst: cv2.sepFilter2D(
                src, -1, k, k, dst=dst, borderType=cv2.BORDER_REPLICATE))
        return _from_planes([[cv2.sepFilter2D(p, -1, k, k, borderType=cv2.BORDER_REPLICATE) for p in _planes(x, i)]
                             for i in range(x.shape[0])])
    c = x.shape[1]
    g = kernel.to(x.device, x.dtype)  # a kernel made on the CPU for a CUDA tensor: conv2d takes no mix
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
