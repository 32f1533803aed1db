"""Chunks as Ray tasks on a local cluster the tests start (2 CPUs): the same output as
local worker processes, and a worker killed mid-task costs only a retry of its chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import make_video, moving_frames, read_frames, vfi

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'vfi[ray]')")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of this machine with 2 CPUs (Ray names it by the machine's own
    address even when asked for 127.0.0.1); its address for other processes."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), before) if p)  # the workers import this vfi
    try:
        info = ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
        yield info.address_info["gcs_address"]
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """10 s at 10 fps, 160x90, a scene cut at frame 60."""
    return make_video(tmp_path_factory.mktemp("ray") / "clip.mp4", moving_frames(100, 90, 160, cut_at=60), Fraction(10), audio=True)


ARGS = ["--factor", "2", "--method", "blend", "--codec", "ffv1", "--chunk-seconds", "1", "-q"]


def same_frames(a, b) -> bool:
    fa, fb = read_frames(a), read_frames(b)
    return len(fa) == len(fb) and all(ta == tb and (x == y).all() for (ta, x), (tb, y) in zip(fa, fb))


def _job(clip, out, address):
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-m", "vfi", "upsample", str(clip), "-o", str(out), *ARGS, "--ray", address],
                            env=env, stderr=subprocess.PIPE, text=True)


def test_ray_gives_the_output_of_two_local_workers(cluster, clip, tmp_path):
    assert vfi("upsample", clip, "-o", tmp_path / "local.mkv", *ARGS, "--workers", "2").exit_code == 0
    job = _job(clip, tmp_path / "ray.mkv", cluster)
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    assert same_frames(tmp_path / "local.mkv", tmp_path / "ray.mkv")
    assert not list(tmp_path.glob(".*chunks*"))


def _chunk_task_pids() -> list[int]:
    """Ray workers running a chunk now (Ray titles a worker by its task)."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "cmdline").read_bytes().startswith(b"ray::make_chunk_task"):
                pids.append(int(d.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the Ray workers in /proc")
def test_a_worker_killed_mid_task_is_survived(cluster, clip, tmp_path):
    assert vfi("upsample", clip, "-o", tmp_path / "whole.mkv", *ARGS).exit_code == 0
    job = _job(clip, tmp_path / "ray.mkv", cluster)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and job.poll() is None and time.monotonic() < deadline:
        pids = _chunk_task_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.005)
    _, err = job.communicate(timeout=300)
    assert killed is not None, "no chunk task was seen running"
    assert job.returncode == 0, err
    assert same_frames(tmp_path / "whole.mkv", tmp_path / "ray.mkv")
