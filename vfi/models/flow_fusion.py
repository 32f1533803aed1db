"""flow-fusion: vfi's motion-compensated model, paper 000's sparse CNN idea with the
motion taken out of its way.

The sparse CNN sees a 13 x 13 window of its two input frames: it cannot follow motion
larger than that.  Here optical flow (:mod:`vfi.flow`) moves the pixels first: each
pixel follows its path through the pair and the frames around it (quadratic motion),
both source frames are warped to the wanted time ``t``, and a narrow network of paper 000's
layout (1x1 lift, 7x7, 4x4, 3x3 and 2x2 convolutions, 1x1 down, LeakyReLU) decides,
per pixel, three things:

* ``m``, how much to trust each warp (occlusions: only one of them sees the pixel);
* ``b``, where the fine detail comes from: averaging two slightly misaligned warps
  blurs (on corpus clips the average is 1.8x blurrier by |RBF| than either warp), so
  the detail (what a 7x7 Gaussian of sigma 1 takes away) can instead come from the
  warp whose detail is stronger where the two agree in sign;
* ``r``, a small correction.

    blend = m W0 + (1 - m) W1,       m = sigmoid(logit(1 - t) + mask)
    frame = low(blend) + b detail(W0, W1) + (1 - b) (blend - low(blend)) + r,  b = sigmoid(detail)
          = blend + b (detail(W0, W1) - (blend - low(blend))) + r

The network runs at half resolution (its decisions vary slowly across the frame: a
quarter of the work) and its five outputs are upsampled; the warps and the detail stay
at full resolution.  Its last layer starts at zero: the untrained model is the
time-weighted average of the warps with half of the chosen detail, and training on
the Charbonnier distance plus paper 002's blur term (``vfi train --loss
charbonnier-blur``) sets where to trust which warp and how much detail to take.

Input (N, 11, H, W): ``vfi.flow.FEATURES``.  Output (N, 3, H, W) on 0..1.  Any H, W.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..flow import FEATURES, FLOW_WIDTH, MOTIONS, PRESETS
from .sparse_cnn import SameConv2d

KERNELS = (1, 7, 4, 3, 2, 1)  # paper 000's layout; the widths are this model's own
WIDTHS = (16, 16, 16, 16, 16, 16)
DETAIL_SIGMA, DETAIL_RADIUS = 1.0, 3  # the Gaussian that splits a frame into low band and detail


class FlowFusion(nn.Module):
    input_scale = 1.0  # features arrive on 0..1 scales (see vfi.train.param_groups)

    def __init__(self, widths: tuple[int, ...] | list[int] = WIDTHS, leaky_slope: float = 0.2, scale: int = 2,
                 flow_preset: str = "medium", flow_width: int = FLOW_WIDTH, motion: str = "quadratic"):
        super().__init__()
        if scale not in (1, 2):
            raise ValueError("flow-fusion runs at full (scale 1) or half (scale 2) resolution")
        if len(widths) != len(KERNELS):
            raise ValueError(f"flow-fusion takes {len(KERNELS)} widths, got {len(widths)}")
        if flow_preset not in PRESETS or not 16 <= int(flow_width) <= 8192 or motion not in MOTIONS:
            raise ValueError(f"bad flow settings: preset {flow_preset!r}, width {flow_width!r}, motion {motion!r}")
        self.scale = scale
        # How its inputs are made is part of the model: the weights learnt these flows.
        self.flow_preset, self.flow_width, self.motion = flow_preset, int(flow_width), motion
        # Tiles overlapping by this much give exactly the untiled result: the network's
        # reach (5 before, 7 after) at its resolution, the pooling and upsampling, and
        # the detail filter's radius; tile edges on multiples of ``scale`` keep the
        # pooling grid.
        self.tile_margin, self.tile_align = 8 * scale + DETAIL_RADIUS + 1, scale
        layers: list[nn.Module] = []
        cin = len(FEATURES)
        for cout, k in zip(widths, KERNELS):
            layers += [SameConv2d(cin, cout, k), nn.LeakyReLU(leaky_slope)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = SameConv2d(cin, 5, 1)  # mask, detail, residual RGB
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        x = torch.arange(-DETAIL_RADIUS, DETAIL_RADIUS + 1, dtype=torch.float32)
        g = torch.exp(-x * x / (2 * DETAIL_SIGMA**2))
        self.register_buffer("gauss", g / g.sum(), persistent=False)
        self.config = {"widths": list(widths), "leaky_slope": leaky_slope, "scale": scale,
                       "flow_preset": flow_preset, "flow_width": int(flow_width), "motion": motion}

    def decisions(self, x: torch.Tensor) -> torch.Tensor:
        """The network: (N, 5, H, W) mask logit, detail logit and residual, at full size."""
        h, w = x.shape[-2:]
        if self.scale == 1:
            return self.head(self.body(x)).float()
        small = F.avg_pool2d(F.pad(x, (0, w % 2, 0, h % 2), mode="replicate"), 2)
        out = self.head(self.body(small)).float()
        return F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]

    def low(self, x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur (edges repeated): the low band of a frame.  Where no
        gradient is wanted on a CPU, OpenCV's vectorised blur does the same sum 5-10x
        faster than a grouped convolution."""
        if not (torch.is_grad_enabled() and x.requires_grad) and x.device.type == "cpu" and x.dtype == torch.float32:
            return _cv2_low(x)
        c, r = x.shape[1], DETAIL_RADIUS
        g = self.gauss.to(x.dtype)
        x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.decisions(x).contiguous()
        # Per-pixel arithmetic on whole planes: 3-4x faster than on channel slices of
        # the channels-last input.
        w0, w1 = x[:, 0:3].float().contiguous(), x[:, 3:6].float().contiguous()
        t = x[:, 10:11].float().contiguous().clamp(1e-3, 1 - 1e-3)
        m = torch.sigmoid(out[:, 0:1] + torch.log((1 - t) / t))
        b = torch.sigmoid(out[:, 1:2])
        blend = w1 + m * (w0 - w1)
        d0, d1, db = w0 - self.low(w0), w1 - self.low(w1), blend - self.low(blend)
        # Detail from the warp with the stronger detail where the two agree in sign;
        # where they disagree (misaligned), the blend's own.  low(blend) + db = blend, so
        # low + b * chosen + (1 - b) * db = blend + b * (chosen - db).
        chosen = torch.where(d0.abs() > d1.abs(), d0, d1)
        extra = torch.where(d0 * d1 > 0, chosen - db, torch.zeros((), dtype=db.dtype))
        return blend + b * extra + out[:, 2:5]

    @staticmethod
    def flops_per_pixel(widths=WIDTHS, scale: int = 2) -> int:
        """The network's multiply-adds x 2 per output pixel (at half resolution, a quarter)."""
        total, cin = 0, len(FEATURES)
        for cout, k in list(zip(widths, KERNELS)) + [(5, 1)]:
            total += 2 * cin * cout * k * k
            cin = cout
        return total // (scale * scale)


def _cv2_low(x: torch.Tensor) -> torch.Tensor:
    import cv2
    import numpy as np

    out = torch.empty_like(x, memory_format=torch.channels_last)
    k = 2 * DETAIL_RADIUS + 1
    for i in range(x.shape[0]):
        img = np.ascontiguousarray(x[i].permute(1, 2, 0).numpy())  # H x W x C
        blurred = cv2.GaussianBlur(img, (k, k), DETAIL_SIGMA, borderType=cv2.BORDER_REPLICATE)
        out[i] = torch.from_numpy(blurred.reshape(img.shape)).permute(2, 0, 1)
    return out
