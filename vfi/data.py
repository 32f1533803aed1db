"""Datasets of frame triplets for training and evaluation (``vfi prep``).

A dataset is a folder::

    manifest.json        sources (with SHA-256), frame counts, options, split sizes
    frames_000.npy ...   one uint8 array per source: (frames, H, W, C), memory-mapped
    triplets.npy         (M, 4) int32: source, i-d, i, i+d (predict i from its neighbours)
    train.npy, val.npy   indices into triplets

Presets: ``paper000`` keeps RGB at native size (or ``--size``); ``paper002`` is paper
002's pipeline: greyscale, proportional resize to 200x100 with a centre crop, scaled
to [0, 1] when read (stored as uint8), and a seeded pseudo-random 70/30 split.

``flow`` (the motion-compensated model) is ``paper000``'s RGB frames plus, computed
once here so that an epoch costs only the network, the optical flow both ways between
the two outer frames of every triplet::

    flows_000.npy ...    per source: (pairs, 2, H, W, 2) float16, F01 and F10 in pixels
    triplet_flows.npy    (M,) int64: each triplet's row in its source's flows array

Its triplets need not be centred: ``--spans 2,3`` takes the frames between i and i+2
(t = 1/2) and between i and i+3 (t = 1/3 and 2/3, one flow for both), so the model
learns every t, not only the midpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import av
import numpy as np

from . import __version__
from .errors import InputError, UsageError, VfiError
from .outputs import OutputLock, check_distinct, forget, temporary_dir
from .models.autoencoders import HEIGHT as AE_HEIGHT
from .models.autoencoders import WIDTH as AE_WIDTH
from .scenes import DEFAULT_THRESHOLD, cut_score, is_hold, thumbnail
from .io.colour import ColorConverter
from .io.formats import VIDEO_EXTENSIONS
from .io.reading import VideoReader



@dataclass
class PrepOptions:
    preset: str = "paper000"  # or "paper002", "flow"
    size: tuple[int, int] | None = None  # (width, height) for paper000 and flow; paper002 is fixed
    max_width: int | None = None  # paper000 and flow: frames wider than this are scaled down to it
    scales: tuple[float, ...] = (1.0,)  # paper000: each source once per scale (a smaller copy has smaller motion)
    stride: int = 1  # triplet (i-d, i, i+d) with d = stride
    max_frames: int | None = None  # per video
    drop_cuts: bool = True
    drop_duplicates: bool = True
    scene_threshold: float = DEFAULT_THRESHOLD
    split: str = "random"  # or "segments"
    val_fraction: float = 0.3
    segment: int = 30  # triplets per segment for split="segments"
    seed: int = 0
    spans: tuple[int, ...] = (2,)  # flow: windows (i, i+s), every frame inside one a target at t = j/s
    every: int = 1  # flow: a window starts at every k-th frame
    flow_preset: str = "medium"  # flow: DIS preset and width, as the model will see them
    flow_width: int = 640


@dataclass
class SourceReport:
    source: str
    ok: bool
    message: str
    frames: int = 0
    triplets: int = 0


def cache_dir() -> Path:
    base = os.environ.get("VFI_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "vfi")
    return Path(base)


def is_url(s: str) -> bool:
    return s.startswith(("http://", "https://", "ftp://"))


def download(url: str, progress: Callable[[dict], None] | None = None) -> Path:
    """Downloads ``url`` with yt-dlp into the cache (keyed by the URL) and returns the
    file; a second call finds it there and does not download again."""
    import yt_dlp

    folder = cache_dir() / "downloads" / hashlib.sha256(url.encode()).hexdigest()[:24]
    done = folder / "done.json"
    if done.exists():
        path = folder / json.loads(done.read_text())["file"]
        if path.exists():
            return path
    folder.mkdir(parents=True, exist_ok=True)
    opts = {
        "outtmpl": str(folder / "video.%(ext)s"),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "format": "bestvideo[height<=1080]+bestaudio/best[height<=1080]/best",
        "progress_hooks": [progress] if progress else [],
        "retries": 1,
        "socket_timeout": 20,
        "logger": _QuietLogger(),
    }
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
            path = Path(ydl.prepare_filename(info))
    except yt_dlp.utils.UnsupportedError:
        raise InputError(f"{url}: unsupported site or not a video link") from None
    except yt_dlp.utils.DownloadError as e:
        if "Unsupported URL" in str(e):
            raise InputError(f"{url}: unsupported site or not a video link") from None
        raise InputError(f"{url}: download failed: {_short(str(e))}") from None
    if not path.exists():
        candidates = [p for p in folder.iterdir() if p.name.startswith("video.")]
        if not candidates:
            raise InputError(f"{url}: download produced no file")
        path = candidates[0]
    done.write_text(json.dumps({"url": url, "file": path.name}))
    return path


class _QuietLogger:
    def debug(self, msg):
        pass

    def info(self, msg):
        pass

    def warning(self, msg):
        pass

    def error(self, msg):
        pass


def _short(msg: str) -> str:
    msg = msg.replace("ERROR: ", "").strip()
    msg = msg.split(" (caused by ")[0]
    return msg.splitlines()[0][:200] if msg else "unknown error"


def expand_sources(sources: Iterable[str]) -> list[str]:
    out = []
    for s in sources:
        p = Path(s)
        if not is_url(s) and p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file())
            out += [str(f) for f in files] or [s]  # an empty folder is reported as such by read_source
        else:
            out.append(s)
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare_frame(rgb: np.ndarray, opts: PrepOptions, scale: float = 1.0) -> np.ndarray:
    """One decoded RGB frame -> what the dataset stores (uint8)."""
    if opts.preset == "paper002":
        return grey_200x100(rgb)[..., None]
    if opts.size:
        rgb = resize_rgb(rgb, opts.size)
    if opts.max_width and rgb.shape[1] > opts.max_width:
        h, w = rgb.shape[:2]
        rgb = resize_rgb(rgb, (opts.max_width, max(8, round(h * opts.max_width / w))))
    if scale != 1.0:
        h, w = rgb.shape[:2]
        rgb = resize_rgb(rgb, (max(8, round(w * scale)), max(8, round(h * scale))))
    return rgb


def grey_200x100(rgb: np.ndarray) -> np.ndarray:
    """Paper 002: greyscale, proportional resize so that 200x100 is covered, centre crop."""
    from PIL import Image

    img = Image.fromarray(rgb).convert("L")  # ITU-R 601 luma, as in every image library
    w, h = img.size
    scale = max(AE_WIDTH / w, AE_HEIGHT / h)
    nw, nh = max(AE_WIDTH, round(w * scale)), max(AE_HEIGHT, round(h * scale))
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - AE_WIDTH) // 2, (nh - AE_HEIGHT) // 2
    return np.asarray(img.crop((left, top, left + AE_WIDTH, top + AE_HEIGHT)), dtype=np.uint8)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    # reducing_gap: a box pre-filter on large reductions, so downscaled copies are not aliased.
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR, reducing_gap=2.0), dtype=np.uint8)


def read_source(path: str, opts: PrepOptions, out_file: Path, scale: float = 1.0) -> tuple[int, list[tuple[int, int, int]], int, int, list[bool]]:
    """Decodes one video into ``out_file`` (uint8 .npy) and returns (frames, triplets,
    dropped for cuts, dropped as duplicates, whether a cut follows each frame). Frames
    stream to disk: memory stays flat however long the video is."""
    n, cut_after, same_after = decode_frames(path, opts, out_file, scale)
    if opts.preset == "flow":
        return (n, *flow_triplets(n, cut_after, same_after, opts), cut_after)
    d = opts.stride
    triplets, cuts, dups = [], 0, 0
    for i in range(d, n - d):
        if opts.drop_cuts and any(cut_after[i - d: i + d]):
            cuts += 1
            continue
        if opts.drop_duplicates and (all(same_after[i - d: i]) or all(same_after[i: i + d])):
            dups += 1
            continue
        triplets.append((i - d, i, i + d))
    return n, triplets, cuts, dups, cut_after


def decode_frames(path: str, opts: PrepOptions, out_file: Path, scale: float) -> tuple[int, list[bool], list[bool]]:
    """Every frame of ``path`` as the preset stores it, into ``out_file``; returns the
    frame count and, for each consecutive pair, whether a cut lies between them and
    whether the second repeats the first."""
    raw_file = out_file.with_suffix(".raw")
    n, shape = 0, None
    cut_after: list[bool] = []  # cut between frame i and i+1
    same_after: list[bool] = []  # frame i+1 repeats frame i
    prev_frame = prev_thumb = None
    with VideoReader(path) as reader, open(raw_file, "wb") as raw:
        info = reader.info
        conv = ColorConverter(info.pix_fmt, info.color, info.height)
        limit = opts.max_frames or 10**12
        stopped = False
        for sf in reader.frames():
            if n >= limit:
                stopped = True  # the rest of the video was not wanted: not a sign of damage
                break
            frame = prepare_frame(conv.to_rgb(sf.frame), opts, scale)
            thumb = thumbnail(sf.frame)
            if prev_frame is not None:
                cut_after.append(opts.scene_threshold > 0 and cut_score(prev_thumb, thumb) > opts.scene_threshold)
                same_after.append(is_hold(prev_frame, frame))
            shape = frame.shape
            raw.write(np.ascontiguousarray(frame).tobytes())
            prev_frame, prev_thumb = frame, thumb
            n += 1
        try:
            if not stopped:
                reader.check_complete()
        except InputError:
            # Frames from a truncated or damaged file do not go into training data.
            raw_file.unlink(missing_ok=True)
            raise
    need = min(opts.spans) + 1 if opts.preset == "flow" else 2 * opts.stride + 1
    if n < need:
        raw_file.unlink(missing_ok=True)
        raise InputError(f"{path}: only {n} frames, too few for a triplet")
    src = np.memmap(raw_file, dtype=np.uint8, mode="r", shape=(n, *shape))
    arr = np.lib.format.open_memmap(out_file, mode="w+", dtype=np.uint8, shape=(n, *shape))
    for i in range(0, n, 64):
        arr[i: i + 64] = src[i: i + 64]
    arr.flush()
    del arr, src
    raw_file.unlink()
    return n, cut_after, same_after


def flow_triplets(n: int, cut_after: list[bool], same_after: list[bool], opts: PrepOptions) -> tuple[list[tuple[int, int, int]], int, int]:
    """The flow preset's triplets (a, m, b): for every window (a, a + span) that starts
    at a multiple of ``every``, each frame inside it.  A window with a cut, or with a
    frame that repeats its neighbour (motion that stops and starts is not the even
    motion between two frames), gives none."""
    triplets, cuts, dups = [], 0, 0
    for span in opts.spans:
        for a in range(0, n - span, opts.every):
            b = a + span
            if opts.drop_cuts and any(cut_after[a:b]):
                cuts += span - 1
                continue
            if opts.drop_duplicates and any(same_after[a:b]):
                dups += span - 1
                continue
            triplets += [(a, m, b) for m in range(a + 1, b)]
    return triplets, cuts, dups


def store_flows(frames_file: Path, triplets: list[tuple[int, int, int]], out_file: Path, opts: PrepOptions,
                cut_after: list[bool]) -> list[int]:
    """For every triplet's outer frames (a, b), once per pair, into ``out_file``
    (float16): DIS flow both ways, and from a to the frame as far again before it and
    from b to the frame as far again after it (the source frames around the pair in a
    video at the pair's spacing; zeros where there is none: past the ends, across a cut,
    or a held frame, by the rules inference follows).  Beside it, ``*_around.npy`` says
    which of those two exist.  Returns each triplet's row."""
    from .flow import FlowEstimator, to_size, usable_neighbour
    from .methods import FlowCache

    frames = np.load(frames_file, mmap_mode="r")
    n, size = len(frames), frames.shape[1:3]
    pairs = sorted({(a, b) for a, _, b in triplets})
    row = {p: i for i, p in enumerate(pairs)}
    flows = np.lib.format.open_memmap(out_file, mode="w+", dtype=np.float16, shape=(len(pairs), 4, *size, 2))
    around = np.zeros((len(pairs), 2), dtype=bool)
    cache = FlowCache(FlowEstimator(opts.flow_preset, opts.flow_width))  # a pair's flow to a neighbour is an earlier pair's own

    def frame(k):
        return lambda: np.asarray(frames[k])

    def grey(k):
        return cache.grey_of(k, frame(k))

    def flow(x, y):
        return to_size(cache.flow_between(x, y, frame(x), frame(y)), size)

    for i, (a, b) in enumerate(pairs):
        span = b - a
        flows[i, 0], flows[i, 1] = flow(a, b), flow(b, a)
        for j, (x, k, cuts) in enumerate(((a, a - span, cut_after[max(0, a - span):a]), (b, b + span, cut_after[b:b + span]))):
            if 0 <= k < n and not any(cuts) and usable_neighbour(grey(k), grey(x)):
                flows[i, 2 + j] = flow(x, k)
                around[i, j] = True
    flows.flush()
    del flows
    np.save(around_file(out_file), around)
    return [row[(a, b)] for a, _, b in triplets]


def around_file(flows_file: Path) -> Path:
    """Where a flows array says which pairs have frames around them."""
    return flows_file.with_name(flows_file.stem + "_around.npy")


def split_indices(triplets: np.ndarray, opts: PrepOptions) -> tuple[np.ndarray, np.ndarray]:
    """Random split (paper 002), or whole contiguous segments to one side so that
    near-identical neighbours never sit on both."""
    rng = np.random.default_rng(opts.seed)
    m = len(triplets)
    if opts.split == "random":
        order = rng.permutation(m)
        n_val = int(round(m * opts.val_fraction))
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    if opts.split == "segments":
        key = triplets[:, 0] * 10**9 + triplets[:, 2] // max(1, opts.segment)
        _, seg_ids = np.unique(key, return_inverse=True)
        n_seg = seg_ids.max() + 1 if m else 0
        order = rng.permutation(n_seg)
        n_val = max(1, int(round(n_seg * opts.val_fraction))) if n_seg > 1 else 0
        val_segs = set(order[:n_val].tolist())
        is_val = np.array([s in val_segs for s in seg_ids], dtype=bool)
        return np.nonzero(~is_val)[0], np.nonzero(is_val)[0]
    raise UsageError(f"unknown split {opts.split!r} (random or segments)")


def prep(sources: list[str], out: str | os.PathLike, opts: PrepOptions, on_report: Callable[[SourceReport], None] | None = None,
         on_download: Callable[[dict], None] | None = None, overwrite: bool = False) -> tuple[Path, list[SourceReport]]:
    out = Path(out)
    if opts.preset not in ("paper000", "paper002", "flow"):
        raise UsageError(f"unknown preset {opts.preset!r} (paper000, paper002 or flow)")
    if not opts.spans or any(not 2 <= k <= 16 for k in opts.spans) or opts.every < 1:
        raise UsageError("--spans must be between 2 and 16 and --every at least 1")
    if opts.stride < 1:
        raise UsageError("--stride must be at least 1")
    if not 0 < opts.val_fraction < 1:
        raise UsageError("--val must be between 0 and 1")
    if not opts.scales or any(not 0 < x <= 1 for x in opts.scales):
        raise UsageError("--scale must be in (0, 1]")
    if opts.preset == "paper002" and tuple(opts.scales) != (1.0,):
        raise UsageError("--scale is for the paper000 and flow presets (paper002 frames are always 200x100)")
    if out.exists():
        if not overwrite:
            raise UsageError(f"{out}: already exists (use --overwrite to replace it)")
        if not out.is_dir() or not (out / "manifest.json").exists() and any(out.iterdir()):
            raise UsageError(f"{out}: exists and is not a vfi dataset; vfi will not replace it")
    check_distinct([("source", s) for s in sources if not is_url(s)], [("dataset", out)])
    out.parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        return _prep(sources, out, opts, on_report, on_download, overwrite)


def _prep(sources, out: Path, opts: PrepOptions, on_report, on_download, overwrite: bool) -> tuple[Path, list[SourceReport]]:
    tmp = temporary_dir(out)  # renamed to ``out`` at the end
    reports: list[SourceReport] = []
    manifest_sources = []
    all_triplets = []
    all_rows: list[int] = []  # flow preset: each triplet's row in its source's flows
    try:
        for src in expand_sources(sources):
            path, mine, trips_here, rows_here = None, [], [], []  # this source's arrays, at every scale
            try:
                path = download(src, on_download) if is_url(src) else Path(src)
                if path.is_dir():
                    raise InputError(f"{src}: folder holds no video files ({', '.join(sorted(VIDEO_EXTENSIONS))})")
                if not path.exists():
                    raise InputError(f"{src}: no such file")
                digest = sha256(path)
                for scale in opts.scales:
                    k = len(manifest_sources) + len(mine)
                    fname = f"frames_{k:03d}.npy"
                    n, trips, cuts, dups, cut_after = read_source(str(path), opts, tmp / fname, scale)
                    entry = {"source": src, "file": str(path), "sha256": digest, "scale": scale, "frames": n,
                             "array": fname, "triplets": len(trips), "dropped_cuts": cuts, "dropped_duplicates": dups}
                    mine.append(entry)
                    if opts.preset == "flow" and trips:
                        entry["flows"] = f"flows_{k:03d}.npy"
                        rows_here += store_flows(tmp / fname, trips, tmp / entry["flows"], opts, cut_after)
                    trips_here += [(k, *t) for t in trips]
            except (VfiError, OSError, av.error.FFmpegError) as e:
                for m in mine:  # a source goes in at every scale or not at all
                    for key in ("array", "flows"):
                        if key in m:
                            (tmp / m[key]).unlink(missing_ok=True)
                    if "flows" in m:
                        around_file(tmp / m["flows"]).unlink(missing_ok=True)
                msg = str(e) if isinstance(e, VfiError) else f"{src}: {e}"
                if path is not None and is_url(src) and str(path) in msg:
                    msg = msg.replace(str(path), f"{src} (downloaded)")
                rep = SourceReport(src, False, msg)
            else:
                manifest_sources += mine
                all_triplets += trips_here
                all_rows += rows_here
                n, nt = mine[0]["frames"], len(trips_here)
                cuts, dups = sum(m["dropped_cuts"] for m in mine), sum(m["dropped_duplicates"] for m in mine)
                at = "" if len(opts.scales) == 1 else f" at {len(opts.scales)} scales"
                rep = SourceReport(src, True, f"{n} frames, {nt} triplets{at} ({cuts} across cuts, {dups} duplicates dropped)", n, nt)
            reports.append(rep)
            if on_report:
                on_report(rep)
        if not all_triplets:
            raise InputError("no usable triplets from any source")
        trip = np.array(all_triplets, dtype=np.int32)
        train, val = split_indices(trip, opts)
        np.save(tmp / "triplets.npy", trip)
        np.save(tmp / "train.npy", train.astype(np.int64))
        np.save(tmp / "val.npy", val.astype(np.int64))
        if opts.preset == "flow":
            np.save(tmp / "triplet_flows.npy", np.array(all_rows, dtype=np.int64))
        manifest = {
            "vfi_version": __version__,
            "options": {k: v for k, v in asdict(opts).items()},
            "sources": manifest_sources,
            "failed": [asdict(r) for r in reports if not r.ok],
            "triplets": int(len(trip)),
            "train": int(len(train)),
            "val": int(len(val)),
            "channels": 1 if opts.preset == "paper002" else 3,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        forget(tmp)
        os.chmod(out, 0o755 & ~_umask())  # mkdtemp makes 0700; a dataset is an ordinary folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        forget(tmp)
        raise
    return out, reports


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class TripletDataset:
    """Reads a prepared dataset; frames stay memory-mapped."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        mf = self.root / "manifest.json"
        if not mf.is_file():
            raise InputError(f"{root}: not a vfi dataset (no manifest.json; make one with 'vfi prep')")
        try:
            self.manifest = json.loads(mf.read_text())
            sources = self.manifest["sources"]
            self.preset = self.manifest["options"]["preset"]
        except (ValueError, KeyError, TypeError, OSError) as e:
            raise InputError(f"{mf}: not a readable vfi manifest ({type(e).__name__}); make the dataset again with 'vfi prep'") from None
        self.arrays = [self._array(s["array"]) for s in sources]
        self.triplets = self._array("triplets.npy")
        self.train = self._array("train.npy")
        self.val = self._array("val.npy")
        self.flow_arrays = None
        if self.preset == "flow":
            self.flow_arrays = [self._array(s["flows"]) if "flows" in s else None for s in sources]
            # Datasets from vfi 0.2.0 hold two flows per pair and nothing around it.
            self.around_arrays = [self._array(around_file(Path(s["flows"])).name) if "flows" in s and
                                  (self.root / around_file(Path(s["flows"]))).is_file() else None for s in sources]
            self.flow_rows = self._array("triplet_flows.npy")
        self._check()

    def _array(self, name: str) -> np.ndarray:
        """One of the dataset's arrays, memory-mapped; never unpickled."""
        path = self.root / str(name)
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise InputError(f"{path}: unreadable dataset array ({e.__class__.__name__}: {str(e)[:80]}); "
                             "make the dataset again with 'vfi prep'") from None

    def _check(self) -> None:
        """Indices that point outside the arrays mean a damaged dataset."""
        t = self.triplets
        bad = t.ndim != 2 or t.shape[1] != 4 or len(t) == 0
        if not bad:
            bad = t[:, 0].min() < 0 or t[:, 0].max() >= len(self.arrays) or t[:, 1:].min() < 0 or \
                any(int(t[t[:, 0] == k][:, 1:].max(initial=0)) >= len(a) for k, a in enumerate(self.arrays))
        for split in (self.train, self.val):
            bad = bad or split.ndim != 1 or (split.size and (split.min() < 0 or split.max() >= len(t)))
        if bad:
            raise InputError(f"{self.root}: damaged dataset (triplet indices outside its arrays); make it again with 'vfi prep'")

    def frames(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, a, m, b = self.triplets[t]
        arr = self.arrays[s]
        return arr[a], arr[m], arr[b]

    def time(self, t: int) -> float:
        """Where the middle frame of triplet ``t`` lies between its outer frames."""
        _, a, m, b = self.triplets[t]
        return float((m - a) / (b - a))

    def motion(self, t: int, kind: str = "quadratic"):
        """Triplet ``t``'s :class:`vfi.flow.PairMotion` (flow datasets), with the flows to
        the frames around its pair where the dataset holds them."""
        from .flow import FlowEstimator, PairMotion

        s, row = int(self.triplets[t][0]), int(self.flow_rows[t])
        flows, around = self.flow_arrays[s][row], self.around_arrays[s]
        has = around[row] if around is not None else (False, False)
        f = [flows[k].astype(np.float32) if k < 2 or has[k - 2] else None for k in range(4)]
        a, _, b = self.frames(t)
        grey = FlowEstimator(self.manifest["options"].get("flow_preset", "medium"), max_width=10**6).grey
        return PairMotion(f[0], f[1], a.shape[:2], f[2], f[3], kind=kind, grey0=grey(a), grey1=grey(b))

    def describe(self) -> str:
        m = self.manifest
        o = m["options"]
        lines = [f"{self.root}: preset {o['preset']}, {m['triplets']} triplets ({m['train']} train / {m['val']} val, "
                 f"{o['split']} split, seed {o['seed']}), stride {o['stride']}"]
        for s in m["sources"]:
            shape = self.arrays[m["sources"].index(s)].shape
            at = f" (scale {s['scale']:g})" if s.get("scale", 1.0) != 1.0 else ""
            lines.append(f"  {s['source']}{at}: {s['frames']} frames {shape[2]}x{shape[1]}x{shape[3]}, {s['triplets']} triplets, "
                         f"dropped {s['dropped_cuts']} across cuts, {s['dropped_duplicates']} duplicates; sha256 {s['sha256'][:12]}")
        for f in m.get("failed", []):
            lines.append(f"  failed: {f['message']}")
        return "\n".join(lines)
