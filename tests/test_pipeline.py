"""What the job holds at once (vfi.pipeline): model streams, queues and frames by size,
so that 4K stays within its memory while smaller frames keep their speed."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from vfi.io.colour import ColorConverter, ColorSpec
from vfi.io.encoding import LARGE_FRAME_LOOKAHEAD, EncodeOptions, encoder_options
from vfi.io.frames import SourceFrame, VideoInfo
from vfi.pipeline import LARGE_FRAME_PIXELS, cpu_streams, queue_depth


def info(width: int, height: int) -> VideoInfo:
    return VideoInfo(path="x.mp4", width=width, height=height, pix_fmt="yuv420p", codec="h264", time_base=Fraction(1, 25),
                     rate=Fraction(25), start=Fraction(0), duration=None, frame_count=None, color=ColorSpec())


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one stream on one core whatever the size")
def test_frames_above_1440p_take_one_model_stream_and_smaller_ones_two():
    assert cpu_streams(None, 1920 * 1080)[0] == 2
    assert cpu_streams(None, 2560 * 1440)[0] == 2
    streams, threads = cpu_streams(None, 3840 * 2160)
    assert streams == 1 and threads == torch.get_num_threads()
    assert cpu_streams(2, 3840 * 2160)[0] == 2  # asked for: given


def test_queues_hold_fewer_large_frames():
    assert queue_depth(640, 360) == 8 and queue_depth(3840, 2160) == 2


def test_x264_looks_ahead_less_above_1440p_only():
    big, _ = encoder_options("libx264", EncodeOptions(), info(3840, 2160))
    small, _ = encoder_options("libx264", EncodeOptions(), info(1920, 1080))
    assert big["x264-params"] == f"rc-lookahead={LARGE_FRAME_LOOKAHEAD}"
    assert "x264-params" not in small
    assert 3840 * 2160 > LARGE_FRAME_PIXELS >= 2560 * 1440


@pytest.mark.parametrize("width, height, kept", [(320, 180, True), (3840, 2160, False)])
def test_source_rgb_is_kept_below_1440p_and_made_again_above(width, height, kept):
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    sf = SourceFrame(0, Fraction(0), av.VideoFrame.from_ndarray(rgb, format="rgb24"))
    conv = ColorConverter("rgb24", ColorSpec(), height)
    first, second = sf.rgb(conv), sf.rgb(conv)
    assert np.array_equal(first, rgb) and np.array_equal(second, rgb)
    assert (first is second) == kept and sf.keeps_rgb == kept


def test_importing_vfi_makes_idle_openmp_threads_sleep_unless_told_otherwise():
    code = "import os, vfi; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "ACTIVE"


HEAP_PROBE = r"""
import os
import sys
import numpy as np
from vfi.pipeline import tune_allocator

def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

assert tune_allocator(int(sys.argv[1]))
before = rss_mib()
block = np.ones(16 << 20, dtype=np.uint8)  # a 16 MiB buffer, written through
del block
print(rss_mib() - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_large_frames_hand_big_blocks_back_to_the_system_and_small_ones_keep_them():
    def kept_after_free(pixels: int) -> float:
        out = subprocess.run([sys.executable, "-c", HEAP_PROBE, str(pixels)], capture_output=True, text=True, check=True)
        return float(out.stdout)

    assert kept_after_free(3840 * 2160) < 4  # mapped for itself, unmapped at free
    assert kept_after_free(1920 * 1080) > 12  # kept in the heap for the next frame's buffers


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_job_sets_the_heap_for_its_frame_size(tmp_path):
    import vfi.pipeline as pipeline
    from conftest import make_video, moving_frames
    from vfi.engine import Job, run

    src = make_video(tmp_path / "in.mkv", moving_frames(3, 48, 64), Fraction(24), codec="ffv1")
    assert pipeline.tune_allocator(3840 * 2160)
    run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=Fraction(2), method="dis"))
    assert pipeline._MMAP_THRESHOLD_SET == pipeline.MMAP_THRESHOLD  # back to the small frames' setting
