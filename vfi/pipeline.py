"""Overlapping decode, interpolation and encode: a decoder thread ahead of the main
thread and an encoder thread behind it, joined by small bounded queues (so memory
stays flat however long the video), and a profile of where the time went.

PyAV and PyTorch release the GIL in their heavy calls, so the threads really overlap.
Errors in either thread are re-raised in the main thread; stopping is prompt.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from contextlib import contextmanager

_END = object()
MODEL_STAGES = ("flow", "motion", "warp", "network", "fusion")  # how flow-fusion's model time is split in a profile


class Profile:
    """Seconds per stage: decode, prepare, scenes, model, convert, encode, wait."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.seconds[name] += seconds

    @contextmanager
    def time(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class BackgroundIterator:
    """Runs ``iterable`` in a thread, ``maxsize`` items ahead of the consumer."""

    def __init__(self, iterable, profile: Profile, stage: str = "decode", maxsize: int = 8, prepare=None):
        # ``prepare(item)``: per-item work done here, ahead of the consumer (timed as
        # "prepare"), so that it overlaps the consumer's work instead of adding to it.
        self.prepare = prepare
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.stop_event = threading.Event()
        self.profile = profile
        self.stage = stage
        self.thread = threading.Thread(target=self._run, args=(iter(iterable),), daemon=True, name=f"vfi-{stage}")
        try:
            self.thread.start()
        except BaseException:  # Ctrl-C or SIGTERM while the thread starts: nobody else can stop it
            self.stop()
            raise

    def _put(self, item) -> bool:
        while not self.stop_event.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, it) -> None:
        try:
            while not self.stop_event.is_set():
                t0 = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    break
                self.profile.add(self.stage, time.perf_counter() - t0)
                if self.prepare is not None:
                    t0 = time.perf_counter()
                    self.prepare(item)
                    self.profile.add("prepare", time.perf_counter() - t0)
                if not self._put(item):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self._put(_Failure(e))
            return
        self._put(_END)

    def __iter__(self):
        return self

    def __next__(self):
        t0 = time.perf_counter()
        item = self.queue.get()
        self.profile.add("wait", time.perf_counter() - t0)
        if item is _END:
            raise StopIteration
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread.ident is not None:  # not yet started (stopped as it starts): it sees the event first thing
            self.thread.join(timeout=5)


class BackgroundWorker:
    """Runs submitted calls in order in one thread (the encoder owns the output
    container: every write and mux goes through here)."""

    def __init__(self, profile: Profile, stage: str = "encode", maxsize: int = 8):
        self.queue: queue.Queue = queue.Queue(maxsize)
        self.profile = profile
        self.stage = stage
        self.error: BaseException | None = None
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"vfi-{stage}")
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is _END:
                return
            if self.error is not None or self.stopped:
                continue  # drain after a failure
            fn, args = job
            t0 = time.perf_counter()
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
                self.error = e
            self.profile.add(self.stage, time.perf_counter() - t0)

    def submit(self, fn, *args) -> None:
        if self.error is not None:
            raise self.error
        t0 = time.perf_counter()
        self.queue.put((fn, args))
        self.profile.add("wait", time.perf_counter() - t0)

    def finish(self) -> None:
        """Waits for every submitted call; re-raises the first failure."""
        self.queue.put(_END)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.stopped = True
        try:
            self.queue.put(_END, timeout=1)
        except queue.Full:
            pass
        self.thread.join(timeout=10)


class ModelStreams:
    """Runs model calls for several frame pairs at once, each in its own thread with
    its share of the CPU threads (``streams`` x ``threads``), instead of one pair at a
    time with all threads.  On a 2-core CPU two one-thread streams are 1.3-1.4x faster
    than one two-thread call at 320x180-640x272 (about 1.1x at 720p), with the same
    output: no barrier between the threads of every layer, and a decoder or encoder
    thread that preempts one stream delays only that stream (benchmarks/README.md)."""

    def __init__(self, streams: int, threads: int, profile: Profile | None = None, stage: str = "model"):
        from concurrent.futures import ThreadPoolExecutor

        self.streams, self.threads = streams, threads
        self.profile = profile
        self.stage = stage
        self.pool = ThreadPoolExecutor(streams, thread_name_prefix="vfi-model", initializer=self._init_thread)

    def _init_thread(self) -> None:
        import torch

        torch.set_num_threads(self.threads)  # this thread's OpenMP/oneDNN threads only
        try:
            import cv2  # optical flow: OpenCV's pool is process-wide, so every stream shares it

            cv2.setNumThreads(self.threads)
        except ImportError:
            pass

    def _timed(self, fn, args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            if self.profile is not None:
                self.profile.add(self.stage, time.perf_counter() - t0)

    def submit(self, fn, *args):
        return self.pool.submit(self._timed, fn, args)

    def map(self, fn, items):
        return list(self.pool.map(lambda item: self._timed(fn, (item,)), items))

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


QUEUE_BYTES = 64 << 20  # RGB frames a queue between threads may hold, in bytes
# Above 1440p the job holds fewer frames at once: one frame pair in the model at a time
# (each pair in flight holds about 300 MB at 4K) and a shorter x264 lookahead (5 frames,
# not veryfast's 10: 150 MB less at 4K), x264 threads on slices of a frame and a
# shorter reorder window in the decoder.  A 31-frame 4K job peaks at 1.3 GiB instead of
# 2.0 (benchmarks/README.md, "4K under 1.5 GB" and "4K in less memory").
LARGE_FRAME_PIXELS = 2560 * 1440


def queue_depth(width: int, height: int) -> int:
    """How many frames of this size the decoder may run ahead (and the encoder lag
    behind): 8, fewer for frames over 8 MB of RGB (5 at 1440p, 2 at 4K), at least 2
    so that the threads still overlap."""
    return max(2, min(8, QUEUE_BYTES // max(1, width * height * 3)))


MMAP_THRESHOLD = 32 << 20  # blocks glibc keeps in its heaps for reuse: up to 32 MiB
LARGE_FRAME_MMAP_THRESHOLD = 8 << 20  # above LARGE_FRAME_PIXELS: up to 8 MiB
_MMAP_THRESHOLD_SET: int | None = None


def tune_allocator(frame_pixels: int | None = None) -> bool:
    """Keeps the model's large, short-lived buffers in the heap (glibc only).

    glibc serves blocks above its mmap threshold (dynamic, 128 KiB to 32 MiB) with fresh
    mmap()s and returns them at free(); a 320x180 frame's 40-channel activations (5-9 MB)
    then come back as new zero-filled pages on every model call: 3,000-10,000 page faults
    and 5-15 ms of kernel time a frame, more when the decoder and encoder threads share
    the cores.  A fixed 32 MiB threshold and a high trim threshold keep those blocks in
    the heap to be reused (benchmarks/README.md, "Source-locked timing, no page faults,
    fused convolutions").

    Frames of more than ``LARGE_FRAME_PIXELS`` (``frame_pixels``) take an 8 MiB threshold
    instead: their frames, tiles and strips (8-32 MB at 4K) interleave with smaller
    blocks and left the heaps fragmented, 150 MiB of a 4K job's peak RSS; the page faults
    that come back cost the 4K job about 1.5 s of kernel time in 60 s, and no wall time
    measurable (benchmarks/README.md, "4K: big blocks back to the system").

    Process-wide: the engine sets it for each job of a heavy method (the last job's frame
    size holds until the next); ``frame_pixels`` None keeps whatever was set, or sets the
    default.  Returns whether it took effect."""
    global _MMAP_THRESHOLD_SET
    if frame_pixels is None and _MMAP_THRESHOLD_SET is not None:
        return True
    threshold = LARGE_FRAME_MMAP_THRESHOLD if (frame_pixels or 0) > LARGE_FRAME_PIXELS else MMAP_THRESHOLD
    if threshold == _MMAP_THRESHOLD_SET:
        return True
    import ctypes
    import ctypes.util
    import os
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
        ok = libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1
        # One heap per core, not glibc's eight: each keeps its freed frames for reuse,
        # with decoder, encoder, flow and model threads that was 7 % of the peak at 4K.
        ok = ok and libc.mallopt(M_ARENA_MAX, max(2, os.cpu_count() or 2)) == 1
    except (OSError, AttributeError):
        return False
    if ok:
        _MMAP_THRESHOLD_SET = threshold
    return ok


def cpu_streams(requested: int | None = None, pixels: int = 0) -> tuple[int, int]:
    """(streams, threads per stream) for a CPU model: by default two streams sharing
    the intra-op threads (one each on 2 cores, 8 each on 16), one stream on one core
    or for frames of more than ``LARGE_FRAME_PIXELS`` (memory)."""
    import torch

    total = max(1, torch.get_num_threads())
    streams = requested if requested else (2 if total >= 2 and pixels <= LARGE_FRAME_PIXELS else 1)
    streams = max(1, min(streams, total))
    return streams, max(1, total // streams)
