"""Chunks as Ray tasks (``--ray ADDRESS`` or ``auto``; ``pip install 'vfi[ray]'``).

Each chunk is a task with one CPU (its PyTorch and OpenCV threads sized to it) that
reads the input from its path (storage every worker can read: the same machine, NFS,
a bucket mounted alike) and hands the chunk's packets and record back through Ray's
object store, so the workers need not see the work folder: the chunks are written
and joined where the command runs.  A task whose worker dies (killed, out of memory, a
machine lost) is run again, up to ``RETRIES`` times; an error in the job itself (an
unreadable input) is not, and stops the job as it would on one machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .errors import UsageError, VfiError

RETRIES = 3


def run_on_ray(job, plan, todo: list, folder: Path, digests: dict, tracker) -> dict:
    """Makes the chunks of ``todo`` on the cluster; returns their records by number."""
    ray = _connect(job.chunks.ray)
    task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(make_chunk_task)
    pending = {task.remote(job, plan.first_time, c, digests[c.number]): c for c in todo}
    records = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                c = pending.pop(ref)
                records[c.number] = _store(folder, c, *_result(ray, ref))
                tracker.frames(c.frames_out)
                tracker.made(c, " on Ray")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return records


def _connect(address: str):
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'vfi[ray]'") from None
    if not ray.is_initialized():
        import logging

        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UsageError(f"--ray {address}: no Ray cluster to join ({e})") from None
    return ray


def _result(ray, ref) -> tuple[dict, bytes]:
    """The task's record and packets; an error of the job raised as itself."""
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, VfiError):
            raise cause from None
        raise


def _store(folder: Path, chunk, record: dict, packets: bytes) -> dict:
    """A chunk made elsewhere, written here as if made here (packets, then the record)."""
    import os

    from .chunks import CHUNK_SUFFIX, save_json

    final = folder / f"{chunk.name}{CHUNK_SUFFIX}"
    tmp = final.with_name(f".{final.name}.part")
    tmp.write_bytes(packets)
    os.replace(tmp, final)
    save_json(folder / f"{chunk.name}.json", record)
    return record


def make_chunk_task(job, first_time, chunk, digest: str) -> tuple[dict, bytes]:
    """On a Ray worker: the chunk made in a folder of its own, returned whole."""
    import ray

    from .chunks import CHUNK_SUFFIX, make_chunk
    from .workers import share_cores

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    share_cores(max(1, int(cpus)))
    with tempfile.TemporaryDirectory(prefix="vfi-chunk-") as here:
        record = make_chunk(job, first_time, chunk, here, digest)
        return record, (Path(here) / f"{chunk.name}{CHUNK_SUFFIX}").read_bytes()
