"""The shipped input's copy on a node: written once per job by the first of several
processes that want it at the same time, never read half-written, rewritten when a
writer died before it was whole, and kept apart from another job's copy.  (Its
removal on the nodes runs as Ray tasks: tests/test_ray_workers.py.)"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from vfi.shipped_input import FOLDER_PREFIX, copy_on_node, new_key, node_folder

DATA = bytes(range(256)) * 40_000  # 10 MB: a write that takes a moment


def _slow_bytes():
    time.sleep(0.3)  # the others are waiting on the lock by now
    return DATA


def _want_copy(key, start, results):
    start.wait()
    path, wrote = copy_on_node(key, "film.mkv", len(DATA), _slow_bytes)
    results.put((path, wrote, Path(path).read_bytes() == DATA))


@pytest.fixture
def key():
    k = new_key()
    yield k
    shutil.rmtree(node_folder(k), ignore_errors=True)


def test_the_copy_is_kept_in_the_temporary_folder_under_the_jobs_name(key):
    path, wrote = copy_on_node(key, "film.mkv", len(DATA), lambda: DATA)
    assert wrote and Path(path) == Path(tempfile.gettempdir()) / f"{FOLDER_PREFIX}{key}" / "film.mkv"
    assert Path(path).read_bytes() == DATA


@pytest.mark.skipif(sys.platform == "win32", reason="forks the processes")
def test_of_processes_wanting_the_copy_at_once_one_writes_and_all_read_it_whole(key):
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_want_copy, args=(key, start, results)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(wrote for _, wrote, _ in got) == 1
    assert len({path for path, _, _ in got}) == 1 and all(whole for _, _, whole in got)
    assert sorted(p.name for p in node_folder(key).iterdir()) == [".lock", "film.mkv"]


def test_a_later_task_reuses_the_copy_without_fetching_the_bytes(key):
    copy_on_node(key, "film.mkv", len(DATA), lambda: DATA)

    def fetch():
        raise AssertionError("fetched again")

    assert copy_on_node(key, "film.mkv", len(DATA), fetch)[1] is False


def test_a_copy_cut_short_is_written_again_and_a_dead_writers_part_removed(key):
    folder = node_folder(key)
    folder.mkdir()
    (folder / "film.mkv").write_bytes(DATA[:1000])  # not the input's size
    (folder / ".film.mkv.999999.part").write_bytes(DATA[:5000])
    path, wrote = copy_on_node(key, "film.mkv", len(DATA), lambda: DATA)
    assert wrote and Path(path).read_bytes() == DATA
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*.part"))


def test_a_fetch_that_fails_leaves_no_copy(key):
    def fetch():
        raise ConnectionError("the object store went away")

    with pytest.raises(ConnectionError):
        copy_on_node(key, "film.mkv", len(DATA), fetch)
    assert sorted(p.name for p in node_folder(key).iterdir()) == [".lock"]
    assert copy_on_node(key, "film.mkv", len(DATA), lambda: DATA)[1]


def test_two_jobs_never_share_a_copy(key):
    other = new_key()
    try:
        a, _ = copy_on_node(key, "film.mkv", len(DATA), lambda: DATA)
        b, wrote = copy_on_node(other, "film.mkv", 3, lambda: b"abc")
        assert wrote and a != b and Path(a).read_bytes() == DATA and Path(b).read_bytes() == b"abc"
    finally:
        shutil.rmtree(node_folder(other), ignore_errors=True)
    assert Path(a).read_bytes() == DATA
