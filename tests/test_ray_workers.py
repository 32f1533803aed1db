"""Chunks as Ray tasks on a local cluster the tests start (2 CPUs): the same output as
local worker processes, with the input read from its path or shipped through Ray's
object store, and a worker killed mid-task costs only a retry of its chunk; the GPUs a
task asks for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import pickle
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import make_video, moving_frames, read_frames, vfi
from vfi.chunks import Tracker
from vfi.errors import UsageError
from vfi.ray_workers import InputFile, InputNotOnNode, _Shipping, input_on_node, task_cpus, task_gpus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ray():
    return pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'vfi[ray]')")


@pytest.fixture(scope="module")
def cluster(ray):
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


@pytest.fixture(scope="module")
def two_workers(clip, tmp_path_factory):
    """The clip's job made by two worker processes on this machine."""
    out = tmp_path_factory.mktemp("local") / "local.mkv"
    assert vfi("upsample", clip, "-o", out, *ARGS, "--workers", "2").exit_code == 0
    return out


def _job(clip, out, address, *extra):
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-m", "vfi", "upsample", str(clip), "-o", str(out), *ARGS, "--ray", address, *extra],
                            env=env, stderr=subprocess.PIPE, text=True)


def test_ray_gives_the_output_of_two_local_workers(cluster, clip, two_workers, tmp_path):
    job = _job(clip, tmp_path / "ray.mkv", cluster)
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    assert same_frames(two_workers, tmp_path / "ray.mkv")
    assert not list(tmp_path.glob(".*chunks*"))


def test_the_input_shipped_through_the_object_store_gives_the_same_output(cluster, clip, two_workers, tmp_path):
    job = _job(clip, tmp_path / "ray.mkv", cluster, "--ray-ship", "always")
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    assert same_frames(two_workers, tmp_path / "ray.mkv")
    assert not list(tmp_path.glob(".*chunks*"))


def test_a_node_reads_the_input_from_its_path_only_if_it_is_the_same_file(cluster, clip, tmp_path):
    here = InputFile.of(str(clip))
    assert here.here() and input_on_node(here, str(tmp_path)) == str(clip.resolve())
    touched = replace(here, mtime_ns=here.mtime_ns + 1)  # another file of the same name and size
    elsewhere = replace(here, path=str(tmp_path / "not-here" / clip.name))
    for missing in (touched, elsewhere):
        assert not missing.here()
        with pytest.raises(InputNotOnNode, match="--ray-ship auto"):
            input_on_node(missing, str(tmp_path))


def test_a_shipped_input_is_written_on_the_node_under_its_name(cluster, ray, clip, tmp_path):
    shipped = replace(InputFile.of(str(clip)), path=str(tmp_path / "not-here" / clip.name), shipped=ray.put(clip.read_bytes()))
    local = input_on_node(shipped, str(tmp_path))
    assert local == str(tmp_path / "input" / clip.name)
    assert Path(local).read_bytes() == clip.read_bytes()


def test_auto_ships_once_a_node_lacks_the_input_and_never_does_not(cluster, ray, clip):
    missing = InputNotOnNode(str(clip), "node-b")
    assert str(pickle.loads(pickle.dumps(missing))) == str(missing)  # as it comes back from a task
    auto = _Shipping(ray, str(clip), "auto", Tracker([], None))
    assert auto.file.shipped is None
    auto.ship(missing)
    assert bytes(ray.get(auto.file.shipped)) == clip.read_bytes()
    never = _Shipping(ray, str(clip), "never", Tracker([], None))
    with pytest.raises(InputNotOnNode):
        never.ship(missing)
    assert never.file.shipped is None


def test_a_task_asks_for_a_gpu_only_for_a_cuda_job():
    assert task_gpus("cpu", 0) == 0 and task_gpus("cpu", 4) == 0
    assert task_gpus("auto", 0) == 0 and task_gpus("auto", 4) == 1
    assert task_gpus("cuda", 1) == 1 and task_gpus("cuda:1", 2) == 1
    assert task_gpus("auto", 4, "blend") == 0 and task_gpus("cuda", 4, "mci") == 0
    with pytest.raises(UsageError, match="no GPU"):
        task_gpus("cuda", 0)


def test_a_gpu_task_asks_for_its_share_of_the_cores():
    assert task_cpus(0, {"CPU": 64.0, "GPU": 4.0}) == 1  # a chunk per core
    assert task_cpus(1, {"CPU": 64.0, "GPU": 4.0}) == 16 and task_cpus(1, {"CPU": 2.0, "GPU": 4.0}) == 1


def test_ray_ship_goes_with_ray(clip, tmp_path):
    r = vfi("upsample", clip, "-o", tmp_path / "o.mkv", *ARGS, "--ray-ship", "always")
    assert r.exit_code == 2 and "--ray-ship goes with --ray" in r.output


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


def test_an_address_where_no_cluster_answers_stops_at_once(ray, clip, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on once it is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()  # a process of its own: this one may have joined the test's cluster
    r = subprocess.run([sys.executable, "-m", "vfi", "upsample", str(clip), "-o", str(tmp_path / "o.mkv"), *ARGS,
                        "--ray", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no Ray cluster answers there" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and time.monotonic() - started < 60
    assert not list(tmp_path.iterdir())
