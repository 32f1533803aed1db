"""Chunks as Ray tasks on a local cluster the tests start (2 CPUs): the same output as
local worker processes, with the input read from its path or shipped through Ray's
object store (written once on the node for the whole job, removed when it ends), and a
worker killed mid-task costs only a retry of its chunk; the GPUs a task asks for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import pickle
import re
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import make_video, moving_frames, read_frames, vfi
from vfi.chunks import Tracker
from vfi.errors import UsageError
from vfi.ray_workers import InputFile, InputNotOnNode, _Shipping, input_on_node, task_cpus, task_gpus
from vfi.shipped_input import FOLDER_PREFIX, node_folder, remove_copies

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


def _job(clip, out, address, *extra, args=ARGS):
    env = dict(os.environ)
    return subprocess.Popen([sys.executable, "-m", "vfi", "upsample", str(clip), "-o", str(out), *args, "--ray", address, *extra],
                            env=env, stderr=subprocess.PIPE, text=True)


def _shipped_folder(log: str) -> Path:
    """The folder the job's log names for the input's copy on each node."""
    key = re.search(FOLDER_PREFIX + r"([0-9a-f]+)", log)
    assert key, log
    return node_folder(key.group(1))


def test_ray_gives_the_output_of_two_local_workers(cluster, clip, two_workers, tmp_path):
    job = _job(clip, tmp_path / "ray.mkv", cluster)
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    assert same_frames(two_workers, tmp_path / "ray.mkv")
    assert not list(tmp_path.glob(".*chunks*"))


def test_the_input_shipped_is_written_once_on_the_node_and_removed_after(cluster, clip, two_workers, tmp_path):
    job = _job(clip, tmp_path / "ray.mkv", cluster, "--ray-ship", "always", args=[a for a in ARGS if a != "-q"])
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    assert same_frames(two_workers, tmp_path / "ray.mkv")
    assert not list(tmp_path.glob(".*chunks*"))
    made = [line for line in err.splitlines() if ": made on Ray" in line]
    assert len(made) >= 8  # 1 s chunks of 10 s
    assert sum("the input copied to" in line for line in made) == 1  # one node
    assert sum("the input's copy on" in line and line.endswith("reused)") for line in made) == len(made) - 1
    assert "the input's copies removed from 1 node(s)" in err and "warning" not in err
    assert not _shipped_folder(err).exists()


def test_a_job_stopped_with_ctrl_c_removes_the_shipped_copy(cluster, clip, tmp_path):
    job = _job(clip, tmp_path / "ray.mkv", cluster, "--ray-ship", "always", args=[a for a in ARGS if a != "-q"])
    lines = []
    for line in job.stderr:  # stopped once a chunk made on Ray is logged: the copy is on the node
        lines.append(line)
        if ": made on Ray" in line:
            job.send_signal(signal.SIGINT)
            break
    err = "".join(lines) + job.communicate(timeout=120)[1]
    assert job.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err and "warning" not in err
    assert not _shipped_folder(err).exists() and not (tmp_path / "ray.mkv").exists()


def test_a_node_reads_the_input_from_its_path_only_if_it_is_the_same_file(cluster, clip, tmp_path):
    here = InputFile.of(str(clip))
    assert here.here() and input_on_node(here) == (str(clip.resolve()), None)
    touched = replace(here, mtime_ns=here.mtime_ns + 1)  # another file of the same name and size
    elsewhere = replace(here, path=str(tmp_path / "not-here" / clip.name))
    for missing in (touched, elsewhere):
        assert not missing.here()
        with pytest.raises(InputNotOnNode, match="--ray-ship auto"):
            input_on_node(missing)


def test_a_shipped_input_is_written_on_the_node_once_under_its_name_then_removed(cluster, ray, clip, tmp_path):
    shipped = replace(InputFile.of(str(clip)), path=str(tmp_path / "not-here" / clip.name), shipped=ray.put(clip.read_bytes()))
    local, wrote = input_on_node(shipped)
    assert wrote and local == str(node_folder(shipped.key) / clip.name)
    assert Path(local).read_bytes() == clip.read_bytes()
    assert input_on_node(shipped) == (local, False)
    assert remove_copies(ray, shipped.key, {}, []) == (1, None)  # a task on each node of the cluster
    assert not node_folder(shipped.key).exists()
    assert remove_copies(ray, shipped.key, {}, []) == (0, None)


def test_a_copy_on_a_node_that_left_the_cluster_is_said_in_one_warning(cluster, ray, clip, tmp_path):
    shipped = replace(InputFile.of(str(clip)), path=str(tmp_path / "not-here" / clip.name), shipped=ray.put(clip.read_bytes()))
    input_on_node(shipped)
    gone = "ab" * 28  # a node id the cluster no longer has
    removed, warning = remove_copies(ray, shipped.key, {gone: "10.1.2.3"}, [])
    assert removed == 1 and not node_folder(shipped.key).exists()  # this node's copy went
    assert warning and "\n" not in warning
    assert "10.1.2.3 (the node left the cluster)" in warning and f"{FOLDER_PREFIX}{shipped.key}" in warning


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
