"""Stopping on signals (vfi.signals): repeated signals while a job cleans up (Ctrl-C
twice; ``timeout``, which signals twice) leave nothing behind, and a cleanup that hangs
ends at the fourth signal.  Real processes, real signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction

import pytest

from conftest import make_video, moving_frames


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".vfi-") or ".part" in p.name)


def wait_for_part_file(folder, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not any(".part" in p.name for p in folder.iterdir()):
        time.sleep(0.02)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("src") / "long.mp4", moving_frames(400, 90, 160, speed=1), Fraction(24))


@pytest.mark.parametrize("first, second, gap", [(signal.SIGINT, signal.SIGINT, 0.05), (signal.SIGINT, signal.SIGINT, 0.005),
                                                (signal.SIGTERM, signal.SIGTERM, 0.0), (signal.SIGTERM, signal.SIGINT, 0.02)])
def test_a_second_signal_during_cleanup_leaves_nothing(long_clip, tmp_path, first, second, gap):
    out = tmp_path / "o.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "upsample", str(long_clip), "-o", str(out), "--factor", "4",
                             "--method", "mci"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_part_file(tmp_path)
    time.sleep(0.3)
    proc.send_signal(first)
    time.sleep(gap)
    proc.send_signal(second)
    text = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + first, text
    assert "Traceback" not in text and "no output was left behind" in text, text
    assert not out.exists() and leftovers(tmp_path) == []


def test_the_fourth_signal_ends_a_hanging_cleanup_and_removes_temporary_files(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from vfi.outputs import temporary_path
        from vfi.signals import StopSignals
        StopSignals().install()
        temporary_path({str(tmp_path / "o.mp4")!r})
        try:
            print("ready", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            time.sleep(60)  # a cleanup that hangs
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout.readline().strip() == b"ready"
    assert len(leftovers(tmp_path)) == 1
    started = time.time()
    for _ in range(4):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
    text = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 130 and time.time() - started < 10, text
    assert "stopped at once; no output was left behind" in text and leftovers(tmp_path) == []
