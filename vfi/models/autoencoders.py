"""The four autoencoders of paper 002 (McCabe et al.), Sections 2-3.

All work on greyscale 200x100 frames (width x height) scaled to [0, 1], ReLU inside,
sigmoid at the output.

* Forward / Backward / Bi-directional multilayer autoencoders (MLAE): dense layers
  1024-512-256, a 128-unit code, 256-512-1024, then the 20,000 output pixels. Forward
  predicts a frame from the one before it, Backward from the one after it,
  Bi-directional from both (40,000 inputs).
* Convolutional autoencoder: two conv layers of 16 filters, each followed by 2x2 max
  pooling, and a decoder of two 16-filter conv + 2x upsampling stages and a final
  conv to one channel; predicts from the previous frame. The paper gives no kernel
  size or optimizer: 3x3 kernels with 'same' padding (the usual Keras autoencoder
  example) and Adam (lr 1e-3), as for the other models.
"""

from __future__ import annotations

import torch
import torch.nn as nn

WIDTH, HEIGHT = 200, 100
PIXELS = WIDTH * HEIGHT
HIDDEN = [1024, 512, 256, 128, 256, 512, 1024]


class MultilayerAE(nn.Module):
    """Input (N, C, 100, 200) with C = 1 (forward/backward) or 2 (bi-directional)."""

    def __init__(self, inputs: int = 1):
        super().__init__()
        dims = [inputs * PIXELS] + HIDDEN
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers += [nn.Linear(dims[-1], PIXELS), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.config = {"inputs": inputs}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(x.shape[0], 1, HEIGHT, WIDTH)


class ConvAE(nn.Module):
    """Input (N, 1, 100, 200) -> (N, 1, 100, 200)."""

    def __init__(self, filters: int = 16, kernel: int = 3):
        super().__init__()
        p = kernel // 2
        self.encoder = nn.Sequential(
            nn.Conv2d(1, filters, kernel, padding=p), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(filters, filters, kernel, padding=p), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(filters, filters, kernel, padding=p), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(filters, filters, kernel, padding=p), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(filters, 1, kernel, padding=p), nn.Sigmoid(),
        )
        self.config = {"filters": filters, "kernel": kernel}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
