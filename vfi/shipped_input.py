"""The input shipped through Ray's object store, written once per node and job.

Where a Ray node lacks the input, the first of the job's tasks on that node writes the
shipped bytes to ``vfi-shipped-<job>/`` in the node's temporary folder (a temporary
name in that folder, then a rename) while it holds a lock on ``.lock`` there; the job's
later tasks on the node find the file whole (its size checked) and read it in place,
without fetching the bytes again.  ``<job>`` is drawn afresh for every job: two jobs
never share or remove each other's copies.  When the job ends (done, failed or
stopped), one task on each node that is still in the cluster removes the folder; a
node that could not (lost, or its removal failed) is named in one warning."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: the rename alone keeps a half-written copy from being read
    fcntl = None

FOLDER_PREFIX = "vfi-shipped-"
LOCK_NAME = ".lock"
CLEAN_SECONDS = 30.0  # how long the removal tasks (and cancelled chunks before them) may take


def new_key() -> str:
    """A job's own name for its copies."""
    return uuid.uuid4().hex[:12]


def node_addresses(ray, alive_only: bool = False) -> dict[str, str]:
    """The cluster's nodes: id -> address (the id where a node gives none)."""
    return {n["NodeID"]: n.get("NodeManagerAddress") or n["NodeID"] for n in ray.nodes() if n.get("Alive") or not alive_only}


def node_folder(key: str) -> Path:
    """Where this node keeps the job's copy: under its temporary folder."""
    return Path(tempfile.gettempdir()) / f"{FOLDER_PREFIX}{key}"


class _Locked:
    """An exclusive lock on ``folder/.lock`` for the tasks of one node (none on Windows)."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        self.file = None

    def __enter__(self):
        if fcntl is not None:
            self.file = open(self.path, "a+b")
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()  # the lock goes with the descriptor (and with a worker that dies)


def copy_on_node(key: str, name: str, size: int, fetch) -> tuple[str, bool]:
    """The path of the job's copy of the input on this node, and whether this call wrote
    it (else it was there, whole).  ``fetch()`` gives the bytes; it is called only by
    the task that writes the copy."""
    folder = node_folder(key)
    folder.mkdir(mode=0o700, exist_ok=True)
    local = folder / name
    with _Locked(folder):
        try:
            if local.stat().st_size == size:
                return str(local), False
        except FileNotFoundError:
            pass
        for stale in folder.glob(".*.part"):  # a writer that died before its rename
            stale.unlink(missing_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.part"
        try:
            data = fetch()
            with open(tmp, "wb") as f:
                f.write(memoryview(data))
            del data
            if tmp.stat().st_size != size:
                raise OSError(f"{tmp}: {tmp.stat().st_size} bytes written of {size}")
            os.replace(tmp, local)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return str(local), True


def remove_on_node(key: str) -> tuple[str, bool, str | None]:
    """A removal task: the job's folder on this node gone.  Gives the node's id, whether
    there was a folder, and what could not be removed (None when all was)."""
    import ray

    folder = node_folder(key)
    node = ray.get_runtime_context().get_node_id()
    if not folder.exists():
        return node, False, None
    try:
        with _Locked(folder):  # a writer still ending (a cancelled task) finishes first
            shutil.rmtree(folder)
    except OSError as e:
        return node, True, str(e)
    return node, True, None


def remove_copies(ray, key: str, written_on: dict, stopping: list) -> tuple[int, str | None]:
    """After the job: the cancelled tasks in ``stopping`` given time to end, then one
    removal task on each node alive in the cluster (tied to it).  ``written_on`` maps
    the nodes where a task said it wrote a copy to their addresses.  Gives how many
    nodes had a folder removed, and a warning (None when nothing was left)."""
    import time

    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    started = time.monotonic()
    if stopping:
        ray.wait(stopping, num_returns=len(stopping), timeout=CLEAN_SECONDS / 3)
    nodes = node_addresses(ray, alive_only=True)
    task = ray.remote(num_cpus=0, max_retries=0)(remove_on_node)
    refs = {task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(key): node for node in nodes}
    left = max(1.0, CLEAN_SECONDS - (time.monotonic() - started))
    ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=left)
    removed, failed = 0, {}
    for ref in refs:
        node = refs[ref]
        if ref not in ready:
            failed[node] = f"no answer in {CLEAN_SECONDS:.0f} s"
            ray.cancel(ref, force=True)
            continue
        try:
            _, existed, problem = ray.get(ref)
        except Exception as e:  # the node went while removing
            failed[node] = type(e).__name__
            continue
        removed += existed
        if problem:
            failed[node] = problem
    for node in written_on:
        if node not in nodes:
            failed[node] = "the node left the cluster"
    if not failed:
        return removed, None
    where = ", ".join(f"{written_on.get(n) or nodes.get(n) or n} ({why})" for n, why in failed.items())
    return removed, (f"the input's shipped copy may be left in {FOLDER_PREFIX}{key} under the temporary folder of "
                     f"{len(failed)} Ray node(s): {where}; remove it by hand")
