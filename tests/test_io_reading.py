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


def test_a_sample_aspect_ratio_kept_by_the_container_only_is_read(tmp_path):
    """Y4M (as Matroska and NUT for FFV1 or AV1) keeps non-square pixels on the stream
    alone, where the codec has none: the reader takes it, and an output that can carry
    it does."""
    from fractions import Fraction

    from click.testing import CliRunner
    from conftest import make_video, moving_frames

    from vfi.cli import main
    from vfi.io.reading import VideoReader

    raw = make_video(tmp_path / "raw.y4m", moving_frames(6, 48, 64), Fraction(25), codec="rawvideo")
    header = raw.read_bytes()
    assert b" A0:0 " in header[:80]  # PyAV leaves the stream's ratio unset: tag it as ffmpeg -vf setsar does
    src = tmp_path / "sar.y4m"
    src.write_bytes(header.replace(b" A0:0 ", b" A4:3 ", 1))
    with VideoReader(src) as reader:
        assert reader.info.sample_aspect_ratio == Fraction(4, 3)
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(main, ["upsample", str(src), "-o", str(out), "--factor", "2", "--method", "blend"])
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
