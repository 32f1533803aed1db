"""Reading video (vfi.io.reading)."""

from __future__ import annotations

import av
import pytest

from vfi.io.reading import REORDER_MIN, REORDER_WINDOW, reorder_window


@pytest.mark.parametrize("width, height, fmt, frames", [
    (320, 180, "yuv420p", REORDER_WINDOW),
    (1920, 1080, "yuv420p", REORDER_WINDOW),
    (3840, 2160, "yuv420p", 5),
    (3840, 2160, "yuv444p16le", REORDER_MIN),
])
def test_the_reorder_window_holds_fewer_large_frames(width, height, fmt, frames):
    assert reorder_window(av.VideoFrame(width, height, fmt)) == frames
