"""Chunks as Ray tasks (``--ray ADDRESS`` or ``auto``; ``pip install 'vfi[ray]'``).

Each chunk is a task with one CPU (its PyTorch and OpenCV threads sized to it), and one
GPU where the job runs on CUDA, that hands the chunk's packets and record back through
Ray's object store, so the workers need not see the work folder: the chunks are written
and joined where the command runs.  A task reads the input from its path where its node
has the same file there (storage every worker can read: the same machine, NFS, a bucket
mounted alike); where it has not, the input's bytes are put in the object store once and
the job's first task on each such node writes them to a file that the job's later tasks
there read too, removed when the job ends (:mod:`vfi.shipped_input`; ``ship``: ``auto``;
always with ``always``; ``never`` makes such a node an error).  A task whose worker dies (killed,
out of memory, a machine lost) is run again, up to ``RETRIES`` times; an error in the job
itself (an unreadable input) is not, and stops the job as it would on one machine."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InputError, UsageError, VfiError
from .shipped_input import FOLDER_PREFIX, copy_on_node, new_key, node_addresses, remove_copies

RETRIES = 3
CONNECT_SECONDS = 10  # how long the cluster's address may take to answer before the job stops
SHIP_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class InputFile:
    """The input as the command's machine sees it: a node reads it from ``path`` where
    it finds a file of the same size and modification time, else from ``shipped``."""

    path: str
    size: int
    mtime_ns: int
    shipped: object = None  # a Ray object reference to the file's bytes (nested: the task gets the reference)
    key: str = field(default_factory=new_key)  # the job's own name for its copies on the nodes

    @classmethod
    def of(cls, path: str) -> InputFile:
        st = os.stat(path)
        return cls(os.path.abspath(path), st.st_size, st.st_mtime_ns)

    def here(self) -> bool:
        """Whether this node has the same file at the path."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns and os.access(self.path, os.R_OK)


class InputNotOnNode(InputError):
    """A Ray node lacks the input (or has another file at its path) and nothing was shipped."""

    def __init__(self, path: str, node: str):
        super().__init__(path, node)  # as the arguments: the error crosses back to the command pickled
        self.path, self.node = path, node

    def __str__(self) -> str:
        return (f"{self.path}: not on the Ray node {self.node} (or another file is there); "
                "--ray-ship auto sends it through Ray's object store")


def task_gpus(device: str, cluster_gpus: float, method: str = "flow-fusion") -> int:
    """GPUs a chunk's task asks for: one where the job runs a model on CUDA (``auto``:
    where the cluster has any), none on the CPU or for the classical methods (dup,
    blend, dis, mci), which never use one; Ray then shows the task its GPU alone."""
    from .methods import CLASSICAL

    if method in CLASSICAL or device == "cpu" or (device == "auto" and cluster_gpus < 1):
        return 0
    if cluster_gpus < 1:
        raise UsageError(f"--device {device}: the Ray cluster has no GPU")
    return 1


def task_cpus(gpus: int, cluster: dict) -> int:
    """CPUs a chunk's task asks for: one on the CPU (a chunk per core), and with a GPU
    the cluster's cores per GPU, which its flow (on the CPU) and decoding use."""
    if not gpus:
        return 1
    return max(1, int(cluster.get("CPU", 1) // max(1, cluster.get("GPU", 1))))


def run_on_ray(job, plan, todo: list, folder: Path, digests: dict, tracker) -> dict:
    """Makes the chunks of ``todo`` on the cluster; returns their records by number."""
    ray = _connect(job.chunks.ray)
    gpus = task_gpus(job.device, ray.cluster_resources().get("GPU", 0), job.method)
    cpus = task_cpus(gpus, ray.cluster_resources())
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=RETRIES, retry_exceptions=False)(make_chunk_task)
    source = _Shipping(ray, job.input, job.chunks.ship, tracker)

    def submit(c):
        return task.remote(job, plan.first_time, c, digests[c.number], source.file)

    pending = {submit(c): c for c in todo}
    records = {}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                c = pending.pop(ref)
                try:
                    record, packets, copy = _result(ray, ref)
                except InputNotOnNode as e:
                    source.ship(e)  # raises with --ray-ship never
                    pending[submit(c)] = c
                    continue
                records[c.number] = _store(folder, c, record, packets)
                tracker.frames(c.frames_out)
                tracker.made(c, " on Ray" + source.copied(copy))
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        source.remove_copies(list(pending))
    return records


class _Shipping:
    """The input as the tasks are given it: its path, and its bytes in the object store
    once a node has been found without it (or from the start, with ``always``)."""

    def __init__(self, ray, path: str, mode: str, tracker):
        self.ray, self.mode, self.tracker = ray, mode, tracker
        self.file = InputFile.of(path)
        self.written_on: dict[str, str] = {}  # node id -> address, where a task wrote the copy
        self.addresses: dict[str, str] = {}
        if mode == "always":
            self._put("--ray-ship always")

    def ship(self, missing: InputNotOnNode) -> None:
        if self.mode == "never":
            raise missing
        if self.file.shipped is None:
            self._put(f"the node {missing.node} lacks it")

    def _put(self, why: str) -> None:
        import numpy as np

        # mapped, not read: the bytes go from the page cache into the object store
        data = np.memmap(self.file.path, dtype=np.uint8, mode="r").view(np.ndarray)
        self.file = replace(self.file, shipped=self.ray.put(data))
        self.tracker.note(f"the input ({self.file.size / 1e6:.1f} MB) goes to the workers through Ray's object store ({why}); "
                          f"each node without it keeps one copy for the job, in {FOLDER_PREFIX}{self.file.key} in its temporary folder")

    def copied(self, copy: tuple[str, bool] | None) -> str:
        """The log's word on a task's copy of the input: ``copy`` is its node and
        whether it wrote the copy there (None: the task read the input's own path)."""
        if copy is None:
            return ""
        node, wrote = copy
        if node not in self.addresses:
            self.addresses.update(node_addresses(self.ray))
        address = self.addresses.get(node, node)
        if wrote:
            self.written_on[node] = address
            return f" (the input copied to {address})"
        return f" (the input's copy on {address} reused)"

    def remove_copies(self, stopping: list) -> None:
        """The job's copies removed from the nodes (``stopping``: tasks cancelled, given
        time to end first); what could not be is said in one warning."""
        if self.file.shipped is None:
            return
        try:
            removed, warning = remove_copies(self.ray, self.file.key, self.written_on, stopping)
        except Exception as e:  # the cluster gone: the job's own outcome stands
            removed, warning = 0, f"the input's shipped copies ({FOLDER_PREFIX}{self.file.key}) could not be removed from the Ray nodes: {e}"
        if warning:
            self.tracker.warn(warning)
        elif removed:
            self.tracker.note(f"the input's copies removed from {removed} node(s)")


def _connect(address: str):
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'vfi[ray]'") from None
    if not ray.is_initialized():
        import logging

        _check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING, configure_logging=True)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise UsageError(f"--ray {address}: no Ray cluster to join ({e})") from None
    return ray


def _check_reachable(address: str) -> None:
    """Stops at once when ``address`` (host:port, or ray://host:port) does not answer:
    Ray itself retries an unreachable cluster for minutes before it gives up."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local": Ray finds or starts the cluster itself
    import socket

    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as e:
        raise UsageError(f"--ray {address}: no Ray cluster answers there ({e})") from None


def _result(ray, ref) -> tuple[dict, object, tuple | None]:
    """The task's record, packets and word on the input's copy; an error of the job raised as itself."""
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, VfiError):
            raise cause from None
        raise


def _store(folder: Path, chunk, record: dict, packets) -> dict:
    """A chunk made elsewhere, written here as if made here (packets, then the record);
    ``packets`` is read where the object store keeps it, not copied into this process."""
    from .chunks import CHUNK_SUFFIX, save_json

    final = folder / f"{chunk.name}{CHUNK_SUFFIX}"
    tmp = final.with_name(f".{final.name}.part")
    with open(tmp, "wb") as f:
        f.write(memoryview(packets))
    os.replace(tmp, final)
    save_json(folder / f"{chunk.name}.json", record)
    return record


def input_on_node(source: InputFile) -> tuple[str, bool | None]:
    """The input's path on this node, and whether this task wrote it (None: the node's
    own file).  Its own path where the node has the same file, else the job's copy of
    the shipped bytes (under the input's name: its extension kept), written by the
    job's first task on the node and read in place by the others."""
    if source.shipped is None:
        if source.here():
            return source.path, None
        import socket

        raise InputNotOnNode(source.path, socket.gethostname())
    import ray

    return copy_on_node(source.key, Path(source.path).name, source.size, lambda: ray.get(source.shipped))


def make_chunk_task(job, first_time, chunk, digest: str, source: InputFile) -> tuple[dict, object, tuple | None]:
    """On a Ray worker: the chunk made in a folder of its own (removed after), returned
    whole, with the node's id and whether this task wrote the input's copy there
    (None: it read the input's own path)."""
    import numpy as np
    import ray

    from .chunks import CHUNK_SUFFIX, make_chunk
    from .workers import share_cores

    assigned = ray.get_runtime_context().get_assigned_resources()
    share_cores(max(1, int(assigned.get("CPU", 1))))
    if assigned.get("GPU") and job.device.startswith("cuda"):
        job = replace(job, device="cuda")  # Ray shows the task its own GPU alone, as device 0
    path, wrote = input_on_node(source)
    copy = None if wrote is None else (ray.get_runtime_context().get_node_id(), wrote)
    with tempfile.TemporaryDirectory(prefix="vfi-chunk-") as here:
        record = make_chunk(replace(job, input=path), first_time, chunk, here, digest)
        # an array: Ray hands it to the command's process in shared memory, without a copy
        return record, np.fromfile(Path(here) / f"{chunk.name}{CHUNK_SUFFIX}", dtype=np.uint8), copy
