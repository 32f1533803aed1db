"""flow-fusion: vfi's motion-compensated model, paper 000's sparse CNN idea with the
motion taken out of its way.

The sparse CNN sees a 13 x 13 window of its two input frames: it cannot follow motion
larger than that.  Here optical flow (:mod:`vfi.flow`) moves the pixels first: both
source frames are warped to the wanted time ``t``, and a narrow network of paper 000's
layout (1x1 lift into more dimensions, 7x7, 4x4, 3x3 and 2x2 convolutions, 1x1 down,
LeakyReLU) only has to decide, per pixel, how much to trust each warp and what small
correction to add:

    frame = m * W0 + (1 - m) * W1 + r,    m = sigmoid(logit(1 - t) + mask_logit)

Input (N, 11, H, W): the two warps, their disagreement, each warp's travel error, the
size of the motion and t (``vfi.flow.FEATURES``).  Output (N, 3, H, W) on 0..1.  Its
last layer starts at zero, so the untrained model is the time-weighted average of the
two warps, and training learns where to prefer one of them (occlusions) and what to
correct.  Any H, W; stride 1 and TensorFlow 'same' padding as in paper 000, so a
pixel sees 5 before and 7 after it (tiles with an 8-pixel margin are seamless).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..flow import FEATURES, FLOW_WIDTH, PRESETS
from .sparse_cnn import SameConv2d

KERNELS = (1, 7, 4, 3, 2, 1)  # paper 000's layout; the widths are this model's own
WIDTHS = (16, 16, 16, 16, 16, 16)


class FlowFusion(nn.Module):
    input_scale = 1.0  # features arrive on 0..1 scales (see vfi.train.param_groups)

    def __init__(self, widths: tuple[int, ...] | list[int] = WIDTHS, leaky_slope: float = 0.2, scale: int = 2,
                 flow_preset: str = "medium", flow_width: int = FLOW_WIDTH):
        super().__init__()
        if scale not in (1, 2):
            raise ValueError("flow-fusion runs at full (scale 1) or half (scale 2) resolution")
        if flow_preset not in PRESETS or not 16 <= int(flow_width) <= 8192:
            raise ValueError(f"bad flow settings: preset {flow_preset!r}, width {flow_width!r}")
        self.scale = scale
        # How its inputs are made is part of the model: the weights learnt these flows.
        self.flow_preset, self.flow_width = flow_preset, int(flow_width)
        # Tiles overlapping by this much give exactly the untiled result (5 + 7 pixels of
        # reach at the network's resolution, plus the pooling and upsampling), and tile
        # edges on multiples of ``scale`` keep the pooling grid.
        self.tile_margin, self.tile_align = 8 * scale, scale
        if len(widths) != len(KERNELS):
            raise ValueError(f"flow-fusion takes {len(KERNELS)} widths, got {len(widths)}")
        layers: list[nn.Module] = []
        cin = len(FEATURES)
        for cout, k in zip(widths, KERNELS):
            layers += [SameConv2d(cin, cout, k), nn.LeakyReLU(leaky_slope)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = SameConv2d(cin, 4, 1)  # mask logit, residual RGB
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.config = {"widths": list(widths), "leaky_slope": leaky_slope, "scale": scale,
                       "flow_preset": flow_preset, "flow_width": int(flow_width)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w0, w1, t = x[:, 0:3], x[:, 3:6], x[:, 10:11]
        h, w = x.shape[-2:]
        if self.scale == 1:
            out = self.head(self.body(x)).float()
        else:
            # The decisions (which warp, what correction) vary slowly across the frame:
            # made at half resolution (a quarter of the work) and applied at full.
            small = F.avg_pool2d(F.pad(x, (0, w % 2, 0, h % 2), mode="replicate"), 2)
            out = self.head(self.body(small)).float()
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)[..., :h, :w]
        t = t.float().clamp(1e-3, 1 - 1e-3)
        m = torch.sigmoid(out[:, :1] + torch.log((1 - t) / t))
        return m * w0.float() + (1 - m) * w1.float() + out[:, 1:4]

    @staticmethod
    def flops_per_pixel(widths=WIDTHS) -> int:
        total, cin = 0, len(FEATURES)
        for cout, k in list(zip(widths, KERNELS)) + [(4, 1)]:
            total += 2 * cin * cout * k * k
            cin = cout
        return total
