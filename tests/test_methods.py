"""The classical methods (vfi.methods) on frames made here."""

from __future__ import annotations

import numpy as np
import pytest

from vfi.io.colour import rgb_levels
from vfi.methods import Blend


@pytest.mark.parametrize("dtype, precise", [(np.uint8, False), (np.float32, True)])
def test_blend_made_in_strips_equals_the_whole_frame_cross_fade(dtype, precise):
    rng = np.random.default_rng(1)
    a, b = ((rng.random((600, 41, 3)) * 255).astype(dtype) for _ in range(2))
    blend = Blend()
    blend.precise = precise
    for t in (0.25, 0.5, 0.7):
        whole = rgb_levels((1 - t) * a.astype(np.float32) + t * b.astype(np.float32), precise)
        made = blend.fade(a, b, t)
        assert made.dtype == whole.dtype and np.array_equal(made, whole)
