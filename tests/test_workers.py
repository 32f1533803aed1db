"""Workers on this machine: each gets its share of the cores and, with several CUDA
devices, a device of its own in turn (the worker processes are started for real)."""

from __future__ import annotations

import multiprocessing
import os
import time

from vfi.workers import gpu_ids, spread_gpus, worker_gpu, worker_pool


def test_gpus_are_given_out_in_turn():
    gpus = gpu_ids("auto", 3, None)
    assert gpus == ["0", "1", "2"]
    assert [worker_gpu(n, gpus) for n in range(7)] == ["0", "1", "2", "0", "1", "2", "0"]


def test_the_devices_named_visible_are_the_ones_given_out():
    assert gpu_ids("cuda", 2, "5,7") == ["5", "7"]
    assert gpu_ids("cuda", 2, "GPU-a1, GPU-b2") == ["GPU-a1", "GPU-b2"]


def test_cpu_jobs_one_named_device_and_one_gpu_are_left_alone():
    assert gpu_ids("cpu", 4, None) == []
    assert gpu_ids("cuda:1", 4, None) == []
    assert gpu_ids("auto", 1, None) == []
    assert gpu_ids("auto", 0, None) == []
    assert worker_gpu(3, []) is None
    assert spread_gpus("cpu") == []


def _device_and_pid(meet: str | None = None, workers: int = 1):
    """The worker's device; with ``meet``, once ``workers`` workers are in it at once
    (else the first started might take every call)."""
    if meet is not None:
        open(os.path.join(meet, str(os.getpid())), "w").close()
        deadline = time.monotonic() + 60
        while len(os.listdir(meet)) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
    return os.environ.get("CUDA_VISIBLE_DEVICES"), os.getpid()


def test_each_worker_process_sees_its_own_gpu(tmp_path):
    context = multiprocessing.get_context("spawn")
    pool = worker_pool(context, 2, context.Queue(), ["3", "5"])
    try:
        seen = [f.result(timeout=120) for f in [pool.submit(_device_and_pid, str(tmp_path), 2) for _ in range(2)]]
    finally:
        pool.shutdown()
    assert len({pid for _, pid in seen}) == 2
    assert sorted(device for device, _ in seen) == ["3", "5"]


def test_without_gpus_a_worker_keeps_the_environment_it_was_given():
    context = multiprocessing.get_context("spawn")
    pool = worker_pool(context, 1, context.Queue(), [])
    try:
        device, _ = pool.submit(_device_and_pid).result(timeout=120)
    finally:
        pool.shutdown()
    assert device == os.environ.get("CUDA_VISIBLE_DEVICES")
