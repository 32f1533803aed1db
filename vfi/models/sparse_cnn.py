"""The sparse CNN of paper 000 (Ghodoussi et al.), Section 7, as a PyTorch module.

Two RGB frames stacked (6 channels) -> 1x1 conv to 40 dims -> 7x7x40 -> 4x4x64 ->
3x3x70 -> 2x2x70 -> 1x1x80 -> 1x1x28, each followed by LeakyReLU -> 1x1x3 with ReLU.
Stride 1, 'same' padding everywhere. Where Keras and PyTorch differ, Keras wins:

* LeakyReLU: Keras' default slope is 0.3 (PyTorch's is 0.01).
* 'same' padding of even kernels: TensorFlow pads ``(k-1)//2`` before and the rest
  after, i.e. the extra row/column goes at the bottom/right. Done explicitly here.
* Input scale: the Keras model casts raw 0..255 pixels to float and trains MSE on that
  scale (its reported MSE of 5.9 is in 0..255 units), so this model does too.
* Initialisation: Keras' glorot_uniform kernels and zero biases.
* Dropout after each LeakyReLU is mentioned in the text but absent from the code:
  an option, off by default.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = [  # (out channels, kernel size); the first takes 6 channels
    (40, 1), (40, 7), (64, 4), (70, 3), (70, 2), (80, 1), (28, 1),
]
KERAS_LEAKY_SLOPE = 0.3


def tf_same_padding(k: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of TensorFlow's 'SAME' for stride 1."""
    before = (k - 1) // 2
    after = k - 1 - before
    return (before, after, before, after)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (asymmetric for even kernels)."""

    def __init__(self, cin: int, cout: int, k: int):
        # Odd kernels pad symmetrically, which the convolution does itself (no padded
        # copy of the activations: 10-15 % of the model's time at 320x180); even ones
        # need TensorFlow's extra row and column at the bottom and right, done by F.pad.
        super().__init__(cin, cout, k, stride=1, padding=(k - 1) // 2 if k % 2 else 0)
        self.tf_pad = tf_same_padding(k)
        nn.init.xavier_uniform_(self.weight)  # Keras glorot_uniform
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel_size[0] % 2 == 0:
            x = F.pad(x, self.tf_pad)
        return super().forward(x)


class SparseCNN(nn.Module):
    """Input: (N, 6, H, W) float, 0..255, frames 1 and 3 stacked. Output: (N, 3, H, W),
    the middle frame on the same scale. Any H, W."""

    input_scale = 255.0  # pixels arrive as 0..255 (see vfi.train.param_groups)
    # It sees 5 pixels before and 7 after each output pixel (7x7, 4x4, 3x3 and 2x2
    # kernels under TensorFlow padding): tiles overlapping by more give exactly the
    # untiled result.
    tile_margin, tile_align = 8, 1

    def __init__(self, dropout: float = 0.0, leaky_slope: float = KERAS_LEAKY_SLOPE):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 6
        for cout, k in LAYERS:
            layers += [SameConv2d(cin, cout, k), nn.LeakyReLU(leaky_slope)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            cin = cout
        layers += [SameConv2d(cin, 3, 1), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.config = {"dropout": dropout, "leaky_slope": leaky_slope}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_autocast_enabled(x.device.type):
            return self.net(x)
        # Under bf16/fp16 autocast the output layer (28 -> 3, 168 FLOP a pixel) runs in
        # fp32: bf16 steps by a whole level between 128 and 255, too coarse for pixels.
        h = self.net[:-2](x)
        with torch.autocast(x.device.type, enabled=False):
            return self.net[-2:](h.float())

    @torch.no_grad()
    def init_as_blend(self, noise: float = 0.1) -> "SparseCNN":
        """A training warm start (the architecture is untouched): channels 0-5 of every
        layer carry the six input values straight through (centre tap 1; on 0..255
        inputs every value is positive, where LeakyReLU is the identity) and the last
        layer averages the two frames, so the untrained model is the linear blend.
        All other weights keep ``noise`` times their Keras initialisation, from where
        training learns what improves on the blend."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs:
            conv.weight.mul_(noise)
            conv.bias.zero_()
        convs[-1].weight.zero_()
        self._write_blend_path()
        return self

    @torch.no_grad()
    def _write_blend_path(self) -> None:
        """The pass-through's exact values (the entries :meth:`blend_path_masks` marks):
        in every hidden layer channels 0-5 copy input channels 0-5 (centre tap 1, the rest
        of their rows and their biases 0); the output layer averages the two frames from
        them (taps 0.5) with no bias."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs[:-1]:
            c = (conv.kernel_size[0] - 1) // 2  # the tap that lines up with the output pixel under TF padding
            conv.weight[:6].zero_()
            conv.bias[:6].zero_()
            for ch in range(6):
                conv.weight[ch, ch, c, c] = 1.0
        last = convs[-1]
        last.weight[:, :6].zero_()
        last.bias.zero_()
        for ch in range(3):
            last.weight[ch, ch, 0, 0] = last.weight[ch, ch + 3, 0, 0] = 0.5

    @torch.no_grad()
    def blend_path_masks(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per convolution, (weight mask, bias mask): 0 on the entries that
        :meth:`init_as_blend` sets to carry the blend (the six pass-through channels of
        every hidden layer, whole rows, and the output layer's taps on them and its bias),
        1 elsewhere."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        masks = []
        for conv in convs[:-1]:
            w, b = torch.ones_like(conv.weight), torch.ones_like(conv.bias)
            w[:6], b[:6] = 0, 0
            masks.append((w, b))
        last = convs[-1]
        w = torch.ones_like(last.weight)
        w[:, :6] = 0
        masks.append((w, torch.zeros_like(last.bias)))
        return masks

    def pin_blend_path(self) -> "SparseCNN":
        """Set the blend pass-through to its exact values and hold it there while the
        rest trains (``--init residual``).

        Why: trained freely from the blend warm start, the pass-through drifts (an output
        tap of 0.497 instead of 0.5 darkens a mid-grey by 0.4 levels), and the shipped
        0.1.0-0.3.0 weights came out 0.4-1.7 levels dark on footage they had not seen.
        Pinned, the model is the blend plus what the other channels add, and the output
        layer's taps on those start at zero: training starts at the blend exactly and
        can only add a correction computed from the pixels, never a constant or a gain.
        The architecture and the weights file are the paper's; gradients of the pinned
        entries are zeroed, so Adam (no weight decay) never moves them."""
        self._write_blend_path()  # weights trained before may have moved it
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for conv, (wm, bm) in zip(convs, self.blend_path_masks()):
            conv.weight.register_hook(lambda g, m=wm: g * m.to(g.device, g.dtype))
            conv.bias.register_hook(lambda g, m=bm: g * m.to(g.device, g.dtype))
        return self

    @staticmethod
    def flops_per_pixel() -> int:
        """Multiply-adds x 2 per output pixel (what the performance figures use)."""
        total, cin = 0, 6
        for cout, k in LAYERS + [(3, 1)]:
            total += 2 * cin * cout * k * k
            cin = cout
        return total


def fused_cpu_available() -> bool:
    """Whether this PyTorch has oneDNN's fused convolution + pointwise op (the one
    torch.compile's CPU backend emits); present in CPU builds since PyTorch 2.0."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


class FusedSparseCNN:
    """Inference on CPU with each convolution and its LeakyReLU in one oneDNN call.

    In eager PyTorch every LeakyReLU is a separate pass over activations of 40-80
    channels (a fifth of the model's time at 320x180) and autocast re-casts the weights
    on every call; fused, the activation is applied while the convolution's output is
    still in registers.  Measured on 2 cores at 320x180: 1.3-1.4x faster in bf16, 1.1-1.3x
    in fp32, where the output is bit-identical (benchmarks/README.md, "Source-locked
    timing, no page faults, fused convolutions").
    Eval mode only (no dropout).  The weights are converted once, when it is built
    (inference on a loaded model): every Python-level op is one more wait for the GIL
    while the decoder and encoder threads run, and a call is now a dozen of them.  ``dtype``:
    float32, or bfloat16 with the output layer in fp32 as :meth:`SparseCNN.forward`
    does under autocast."""

    def __init__(self, model: SparseCNN, dtype: torch.dtype = torch.float32):
        convs = [m for m in model.net if isinstance(m, SameConv2d)]
        self.slope = float(next(m.negative_slope for m in model.net if isinstance(m, nn.LeakyReLU)))
        self.dtype = dtype
        with torch.no_grad():
            # (padding copy for even kernels, weight, bias, the convolution's own padding)
            self.layers = [
                (conv.tf_pad if conv.kernel_size[0] % 2 == 0 else None,
                 conv.weight.detach().to(dtype).contiguous(memory_format=torch.channels_last),
                 conv.bias.detach().to(dtype), list(conv.padding))
                for conv in convs[:-1]
            ]
            last = convs[-1]  # in fp32, with its ReLU
            self.last = (last.weight.detach().float().contiguous(memory_format=torch.channels_last), last.bias.detach().float())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        conv = torch.ops.mkldnn._convolution_pointwise
        h = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        for tf_pad, w, b, padding in self.layers:
            if tf_pad is not None:
                h = F.pad(h, tf_pad)
            h = conv(h, w, b, padding, [1, 1], [1, 1], 1, "leaky_relu", [self.slope], "")
        return conv(h.float(), *self.last, [0, 0], [1, 1], [1, 1], 1, "relu", [], "")


def fused_runner(model: nn.Module, precision: str):
    """The fused CPU path (:class:`FusedSparseCNN`) where this PyTorch has it, checked
    once against the eager model on a small input: it is built on an op that PyTorch
    keeps for its compiler, so a build where it behaves differently falls back to eager
    (None) instead of giving wrong pictures."""
    if not isinstance(model, SparseCNN) or precision not in ("fp32", "bf16") or not fused_cpu_available():
        return None
    dtype = torch.bfloat16 if precision == "bf16" else None
    fused = FusedSparseCNN(model, dtype or torch.float32)
    x = (torch.rand(1, 6, 24, 20, generator=torch.Generator().manual_seed(0)) * 255).contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            want = model(x).float()
        with torch.inference_mode():
            got = fused(x)
    except RuntimeError:
        return None
    # fp32: the same arithmetic; bf16: rounding at other points, within a few levels
    scale = 1.0 + float(want.abs().max())
    tolerance = 1e-5 * scale if dtype is None else 4.0 + 0.02 * scale
    if got.shape != want.shape or not torch.allclose(got, want, atol=tolerance, rtol=0):
        return None
    return fused
