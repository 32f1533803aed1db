"""Chunks on this machine: one after another in this process, or ``workers`` at once in
processes of their own, each with its share of the cores (PyTorch's and OpenCV's
thread pools) so that they do not fight over them and, on a machine with several CUDA
devices, a device of its own (round robin)."""

from __future__ import annotations

import multiprocessing
import os
import queue
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

_progress = None  # a worker process's queue to the job's progress bar


def run_local(job, plan, todo: list, folder: Path, digests: dict, tracker) -> dict:
    """Makes the chunks of ``todo``; returns their records by number."""
    from .chunks import make_chunk

    if not todo:
        return {}
    workers = min(job.chunks.workers, len(todo))
    records = {}
    if workers == 1:
        for c in todo:
            records[c.number] = make_chunk(job, plan.first_time, c, str(folder), digests[c.number], tracker.frames)
            tracker.made(c)
        return records
    return _in_processes(job, plan, todo, folder, digests, tracker, workers)


def _in_processes(job, plan, todo: list, folder: Path, digests: dict, tracker, workers: int) -> dict:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads and a model in it
    progress = context.Queue()
    records = {}
    pool = worker_pool(context, workers, progress, spread_gpus(job.device))
    try:
        futures = {pool.submit(_make_in_worker, job, plan.first_time, c, str(folder), digests[c.number]): c for c in todo}
        while futures:
            done, _ = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(progress, tracker.frames)
            for f in done:
                c = futures.pop(f)
                records[c.number] = f.result()
                tracker.made(c)
        # A worker's reports go through a feeder thread and can trail its chunk's result:
        # they are all in the queue once the workers have left.
        pool.shutdown()
        _drain(progress, tracker.frames)
    except BaseException:
        _stop(pool)
        raise
    return records


def worker_pool(context, workers: int, progress, gpus: list[str]) -> ProcessPoolExecutor:
    """``workers`` processes, each with its share of the cores and, where ``gpus`` are
    given, the next of them as its only CUDA device."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    started = context.Value("i", 0)  # workers started so far: the next one's number
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(progress, threads, gpus, started))


def spread_gpus(device: str) -> list[str]:
    """The CUDA devices this machine's workers are spread over (see :func:`gpu_ids`)."""
    if device not in ("auto", "cuda"):
        return []
    import torch

    return gpu_ids(device, torch.cuda.device_count(), os.environ.get("CUDA_VISIBLE_DEVICES"))


def gpu_ids(device: str, count: int, visible: str | None) -> list[str]:
    """The devices to give out, one to a worker in turn, as CUDA_VISIBLE_DEVICES names
    them (``visible``: this process's own setting, its order kept): every one of the
    ``count`` CUDA devices where the job's device is ``auto`` or ``cuda`` and there are
    two or more; none on the CPU, on one named device (``cuda:1``) or with one GPU,
    which the workers share."""
    if device not in ("auto", "cuda") or count < 2:
        return []
    names = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    return names[:count]


def worker_gpu(number: int, gpus: list[str]) -> str | None:
    """Worker ``number``'s (from 0) device: the GPUs in turn."""
    return gpus[number % len(gpus)] if gpus else None


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stops the workers at once: each removes its partial chunk (SIGTERM, as for vfi),
    then the pool's own thread is joined (left running, it fails at exit)."""
    processes = list((pool._processes or {}).values())  # the executor has no public way to stop running calls
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _drain(progress, report) -> None:
    while True:
        try:
            report(progress.get_nowait())
        except queue.Empty:
            return


def share_cores(threads: int) -> None:
    """This process's thread pools sized to its share of the machine."""
    import torch

    torch.set_num_threads(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass


def _start_worker(progress, threads: int, gpus: list[str], started) -> None:
    import signal

    global _progress
    _progress = progress
    with started.get_lock():
        number = started.value
        started.value += 1
    gpu = worker_gpu(number, gpus)
    if gpu is not None:  # before anything starts CUDA in this process: it reads this once
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    share_cores(threads)
    # Ctrl-C reaches the whole process group: the job's process stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_requested)


_stopping = 0  # the signal that asked this worker to stop
_in_chunk = False


def _stop_requested(signum, frame):
    """Between chunks a worker leaves at once; in one it stops at its next progress
    report (within a second), where its partial chunk is removed: an exception raised
    here could land anywhere, even in a callback that swallows it."""
    global _stopping
    if not _in_chunk:
        os._exit(128 + signum)
    _stopping = signum


def _report(frames: int) -> None:
    if _stopping:
        from .errors import Interrupted

        raise Interrupted(_stopping)
    _progress.put(frames)


def _make_in_worker(job, first_time, chunk, folder: str, digest: str) -> dict:
    global _in_chunk
    from .chunks import make_chunk
    from .errors import Interrupted

    _in_chunk = True
    try:
        return make_chunk(job, first_time, chunk, folder, digest, _report)
    except Interrupted as e:
        os._exit(128 + e.signum)  # the partial chunk is gone; the pool would hand this process the next one
    finally:
        _in_chunk = False
