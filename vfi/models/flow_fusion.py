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
quarter of the work), coarser on frames over 960 px wide so that it works at most
``NET_WIDTH`` pixels wide, and its five outputs are upsampled; the warps and the detail stay
at full resolution.  Its last layer starts at zero: the untrained model is the
time-weighted average of the warps with half of the chosen detail, and training on
the Charbonnier distance plus paper 002's blur term (``vfi train --loss
charbonnier-blur``) sets where to trust which warp and how much detail to take.

Input (N, 11, H, W): ``vfi.flow.FEATURES``.  Output (N, 3, H, W) on 0..1.  Any H, W.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import kernels
from ..flow import FEATURES, FLOW_WIDTH, MOTIONS, PRESETS
from .sparse_cnn import SameConv2d

KERNELS = (1, 7, 4, 3, 2, 1)  # paper 000's layout; the widths are this model's own
WIDTHS = (16, 16, 16, 16, 16, 16)
DETAIL_SIGMA, DETAIL_RADIUS = 1.0, 3  # the Gaussian that splits a frame into low band and detail
# The network works at most this wide at inference (a coarser scale on larger frames): it
# was trained on frames 160-640 px wide at its resolution; at 1080p scale 4 instead of 2
# costs half the time, and on the held-out clips scale 4 moved no clip by more than
# -0.06 dB and scale 3 (1280 px wide) none below -0.03 (benchmarks/README.md; the
# figures are in the shipped weights' metadata, "inference").
NET_WIDTH = 480
FUSION_ROWS = 64  # CPU: the fusion made in strips this tall stays in the caches (32-128 measured alike)


class FlowFusion(nn.Module):
    input_scale = 1.0  # features arrive on 0..1 scales (see vfi.train.param_groups)

    def __init__(self, widths: tuple[int, ...] | list[int] = WIDTHS, leaky_slope: float = 0.2, scale: int = 2,
                 flow_preset: str = "medium", flow_width: int = FLOW_WIDTH, motion: str = "quadratic",
                 net_width: int = NET_WIDTH):
        super().__init__()
        if scale not in (1, 2):
            raise ValueError("flow-fusion runs at full (scale 1) or half (scale 2) resolution")
        if len(widths) != len(KERNELS):
            raise ValueError(f"flow-fusion takes {len(KERNELS)} widths, got {len(widths)}")
        if flow_preset not in PRESETS or not 16 <= int(flow_width) <= 8192 or motion not in MOTIONS:
            raise ValueError(f"bad flow settings: preset {flow_preset!r}, width {flow_width!r}, motion {motion!r}")
        if net_width and not 64 <= int(net_width) <= 8192:
            raise ValueError(f"net_width must be 0 (off) or 64..8192 pixels, not {net_width!r}")
        self.scale, self.net_width = scale, int(net_width)
        # How its inputs are made is part of the model: the weights learnt these flows.
        self.flow_preset, self.flow_width, self.motion = flow_preset, int(flow_width), motion
        # Tiles overlapping by this much give exactly the untiled result: the network's
        # reach (5 before, 7 after) at its resolution, the pooling and upsampling, and
        # the detail filter's radius; tile edges on multiples of ``scale`` keep the
        # pooling grid.
        self.tile_margin, self.tile_align = self.tiling(scale)
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
                       "flow_preset": flow_preset, "flow_width": int(flow_width), "motion": motion,
                       "net_width": int(net_width)}

    def working_scale(self, width: int) -> int:
        """The network's scale on frames ``width`` wide: ``scale``, or coarser where that
        keeps it at most ``net_width`` pixels wide (its decisions vary slowly; the warps
        and the detail stay at full size)."""
        if self.scale == 1 or not self.net_width:
            return self.scale
        return max(self.scale, -(-width // self.net_width))

    @staticmethod
    def tiling(scale: int) -> tuple[int, int]:
        """(margin, align) of tiles that give exactly the untiled result at ``scale``:
        the network's reach (5 before, 7 after) at its resolution, the pooling and
        upsampling, and the detail filter's radius, in whole cells of the pooling grid;
        tile edges on multiples of ``scale``."""
        margin = 8 * scale + DETAIL_RADIUS + 1
        return -(-margin // scale) * scale, scale

    def decisions(self, x: torch.Tensor) -> torch.Tensor:
        """The network: (N, 5, H, W) mask logit, detail logit and residual, at full size."""
        if self.scale == 1:
            return self.head(self.body(x)).float()
        return self._up(self.head(self.body(self._down(x, self.scale))).float(), x.shape[-2:], self.scale)

    def decisions_from(self, w0: torch.Tensor, w1: torch.Tensor, cues: torch.Tensor, t: float,
                       scale: int | None = None) -> torch.Tensor:
        """:meth:`decisions` of the input whose parts :func:`vfi.flow.warped_inputs` gives,
        at ``scale`` (default: the model's), with the cues already at that scale
        (``warped_inputs(..., cell=scale)``): the warps are brought to the network's
        resolution on their own, so the full-size 11-channel input is never made."""
        s = scale or self.scale
        parts = [w0, w1] if s == 1 else [self._down(p, s) for p in (w0, w1)]
        small = torch.cat([p.float() for p in parts] + [cues.float(), torch.full_like(cues[:, :1], float(t))], dim=1)
        if small.device.type == "cpu":
            small = small.contiguous(memory_format=torch.channels_last)
        out = self.head(self.body(small)).float()
        return out if s == 1 else self._up(out, w0.shape[-2:], s)

    def _down(self, x: torch.Tensor, s: int) -> torch.Tensor:
        """``x`` at the network's resolution: the mean of each ``s`` x ``s`` cell (edges
        repeated to whole cells; tiles keep to multiples of the scale)."""
        return kernels.resize_cells(x, s)

    @staticmethod
    def _up(out: torch.Tensor, size, s: int) -> torch.Tensor:
        # plane by plane: what the fusion reads (see _planar)
        return kernels.resize(out.contiguous(), (out.shape[-2] * s, out.shape[-1] * s))[..., :size[0], :size[1]]

    def low(self, x: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur (edges repeated): the low band of a frame."""
        return kernels.gaussian_blur(x, self.gauss)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(x[:, 0:3], x[:, 3:6], x[:, 10:11], self.decisions(x))

    def combine(self, w0: torch.Tensor, w1: torch.Tensor, t: torch.Tensor | float, out: torch.Tensor) -> torch.Tensor:
        """The frame from the two warps (N, 3, H, W on 0..1), the time (a plane, or one
        number for the whole frame) and the network's :meth:`decisions`.

        At inference on a CPU the frame is made in strips of ``FUSION_ROWS`` rows (and
        the detail filter's reach of real neighbours): its twenty-odd passes over the
        pixels then stay in the caches, 1.6x faster at 1080p than whole tiles.  Elsewhere
        (CUDA, training) the strip is the whole frame: the same arithmetic, :meth:`_fuse`."""
        w0, w1, out = _planar(w0.float()), _planar(w1.float()), _planar(out.float())
        if isinstance(t, torch.Tensor):
            t = _planar(t.float()).clamp(1e-3, 1 - 1e-3)
            prior = torch.log((1 - t) / t)
        else:  # one number: its logit once, not per pixel
            t = torch.tensor(float(t), dtype=torch.float32).clamp(1e-3, 1 - 1e-3)
            prior = torch.log((1 - t) / t).item()
        h = w0.shape[-2]
        strip = FUSION_ROWS if w0.device.type == "cpu" and not torch.is_grad_enabled() else h
        if strip >= h:
            return self._fuse(w0, w1, prior, out, 0, h)
        y = torch.empty_like(w0, memory_format=torch.channels_last)  # what frame_levels reads fastest
        r = DETAIL_RADIUS
        for a in range(0, h, strip):
            b = min(h, a + strip)
            ea, eb = max(0, a - r), min(h, b + r)
            rows = (..., slice(ea, eb), slice(None))
            p = prior[rows] if isinstance(prior, torch.Tensor) else prior
            y[..., a:b, :] = self._fuse(w0[rows], w1[rows], p, out[rows], a - ea, b - ea)
        return y

    def _fuse(self, w0: torch.Tensor, w1: torch.Tensor, prior, out: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
        """:meth:`combine` of rows ``r0:r1`` of a block, its other rows read by the detail
        filter only.  ``prior``: the time's logit (a number or a plane)."""
        m = torch.sigmoid(out[:, 0:1] + prior)
        blend = torch.lerp(w1, w0, m)
        d0, d1, db = w0 - self.low(w0), w1 - self.low(w1), blend - self.low(blend)
        if (r0, r1) != (0, w0.shape[-2]):
            d0, d1, db, blend, out = (v[..., r0:r1, :] for v in (d0, d1, db, blend, out))
        # Detail from the warp with the stronger detail where the two agree in sign;
        # where they disagree (misaligned), the blend's own.  low(blend) + db = blend, so
        # low + b * chosen + (1 - b) * db = blend + b * (chosen - db).
        extra = torch.where(d0.abs() > d1.abs(), d0, d1).sub_(db)
        extra = torch.where(d0 * d1 > 0, extra, torch.zeros((), dtype=db.dtype, device=db.device))
        return torch.addcmul(out[:, 2:5], torch.sigmoid(out[:, 1:2]), extra).add_(blend)

    @staticmethod
    def flops_per_pixel(widths=WIDTHS, scale: int = 2) -> int:
        """The network's multiply-adds x 2 per output pixel (at half resolution, a quarter)."""
        total, cin = 0, len(FEATURES)
        for cout, k in list(zip(widths, KERNELS)) + [(5, 1)]:
            total += 2 * cin * cout * k * k
            cin = cout
        return total // (scale * scale)


def _planar(x: torch.Tensor) -> torch.Tensor:
    """``x`` in plain (N, C, H, W) order: a pixel's weights (one plane) then meet each
    colour plane along whole rows, which PyTorch vectorises (channels-last interleaves
    three colours: 2x slower per pass).  Planes already whole along rows are kept as they are."""
    return x if x.stride(-1) == 1 else x.contiguous()
