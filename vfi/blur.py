"""``vfi blur-report``: per-frame Blur Factor (and, against a reference, RBF, PSNR and
SSIM), summaries as in paper 002's Tables 1-2, CSV/JSON, plots and local heatmaps."""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .engine import REPEAT, SOURCE, SYNTH, Observer
from .errors import InputError, UsageError
from .io.colour import ColorConverter
from .io.reading import VideoReader
from .io.target import sidecar_path
from .metrics import bf_from_variance, laplacian_variance, local_laplacian_variance, psnr, rbf_from_variances, ssim
from .outputs import OutputSet, check_distinct, check_writable

KIND_NAMES = {SOURCE: "source", SYNTH: "synthesised", REPEAT: "repeated", "?": "frame"}


@dataclass
class FrameScore:
    index: int
    time: float
    kind: str
    bf: float
    rbf: float | None = None
    psnr: float | None = None
    ssim: float | None = None


@dataclass
class Report:
    video: str
    reference: str | None
    frames: list[FrameScore]
    local: dict[int, dict]  # frame index -> {"lapvar": grid, "rbf": grid or None, "image": RGB}

    def groups(self) -> dict[str, list[FrameScore]]:
        g = {"all": self.frames}
        kinds = {f.kind for f in self.frames}
        if kinds - {"?"}:
            for k in (SOURCE, SYNTH, REPEAT):
                sel = [f for f in self.frames if f.kind == k]
                if sel:
                    g[KIND_NAMES[k]] = sel
        return g

    def summary(self) -> dict[str, dict]:
        out = {}
        for name, frames in self.groups().items():
            row = {"frames": len(frames)}
            for key in ("bf", "rbf", "abs_rbf", "psnr", "ssim"):
                vals = [abs(f.rbf) if key == "abs_rbf" and f.rbf is not None else getattr(f, key, None) for f in frames]
                vals = [v for v in vals if v is not None]
                if not vals:
                    continue
                finite = [v for v in vals if math.isfinite(v)]
                row[key] = {"mean": float(np.mean(finite)) if finite else math.inf,
                            "std": float(np.std(finite)) if finite else math.nan,
                            "infinite": len(vals) - len(finite)}
            out[name] = row
        return out


def read_kinds(video: str, count: int | None = None) -> str | None:
    p = sidecar_path(video)
    if not p.exists():
        return None
    try:
        kinds = json.loads(p.read_text())["frames"]
    except (ValueError, KeyError):
        return None
    return kinds if count is None or len(kinds) == count else None


def _frames(path: str):
    reader = VideoReader(path)
    conv = ColorConverter(reader.info.pix_fmt, reader.info.color, reader.info.height)
    return reader, conv


MIN_TILE = 4  # pixels a side: a Laplacian variance over fewer says nothing
MAX_TILES = 64  # per side: more cells than a heat map can show


def check_tiles(tiles: tuple[int, int], width: int, height: int) -> None:
    """--tiles ROWSxCOLS must leave tiles of at least MIN_TILE pixels, at most MAX_TILES a side."""
    rows, cols = tiles
    most_rows, most_cols = min(MAX_TILES, height // MIN_TILE), min(MAX_TILES, width // MIN_TILE)
    if not (1 <= rows <= most_rows and 1 <= cols <= most_cols):
        raise UsageError(f"--tiles {cols}x{rows} does not fit {width}x{height} frames: at most {max(1, most_cols)}x{max(1, most_rows)} "
                         f"(tiles of {MIN_TILE} pixels or more, {MAX_TILES} a side at most)")


def blur_report(video: str, reference: str | None = None, local_frames: tuple[int, ...] = (), tiles=(8, 8), progress=None) -> Report:
    reader, conv = _frames(video)
    if local_frames:
        try:
            check_tiles(tiles, reader.info.width, reader.info.height)
        except UsageError:
            reader.close()
            raise
    kinds = read_kinds(video)
    ref_iter = ref_reader = None
    if reference:
        ref_reader, ref_conv = _frames(reference)
        if (ref_reader.info.width, ref_reader.info.height) != (reader.info.width, reader.info.height):
            raise InputError(f"{reference}: {ref_reader.info.width}x{ref_reader.info.height} frames, but {video} has "
                             f"{reader.info.width}x{reader.info.height}: they do not line up")
        ref_iter = ref_reader.frames()
        tol = Fraction(1, 2) / max(reader.info.nominal_rate, ref_reader.info.nominal_rate)
    scores: list[FrameScore] = []
    local: dict[int, dict] = {}
    t0 = r0 = None
    try:
        for sf in reader.frames():
            rgb = conv.to_rgb(sf.frame)
            t0 = sf.time if t0 is None else t0
            kind = kinds[sf.index] if kinds and sf.index < len(kinds) else "?"
            v_pred = laplacian_variance(rgb)
            fs = FrameScore(sf.index, float(sf.time - t0), kind, bf_from_variance(v_pred))
            ref_rgb = None
            if ref_iter is not None:
                rf = next(ref_iter, None)
                if rf is None:
                    raise InputError(f"{video} and {reference} do not line up: {video} has more frames "
                                     f"(frame {sf.index} at {float(sf.time - t0):.3f} s has no reference)")
                r0 = rf.time if r0 is None else r0
                if abs((sf.time - t0) - (rf.time - r0)) > tol:
                    raise InputError(f"{video} and {reference} do not line up: frame {sf.index} is at "
                                     f"{float(sf.time - t0):.3f} s, the reference's at {float(rf.time - r0):.3f} s")
                ref_rgb = ref_conv.to_rgb(rf.frame)
                fs.rbf = rbf_from_variances(v_pred, laplacian_variance(ref_rgb))
                fs.psnr = psnr(rgb, ref_rgb)
                fs.ssim = ssim(rgb, ref_rgb)
            if sf.index in local_frames:
                lv = local_laplacian_variance(rgb, tiles)
                entry = {"lapvar": lv, "image": rgb, "rbf": None}
                if ref_rgb is not None:
                    entry["rbf"] = np.vectorize(rbf_from_variances)(lv, local_laplacian_variance(ref_rgb, tiles))
                local[sf.index] = entry
            scores.append(fs)
            if progress:
                progress()
        if ref_iter is not None and next(ref_iter, None) is not None:
            raise InputError(f"{video} and {reference} do not line up: the reference has more frames than {len(scores)}")
        reader.check_complete()
    finally:
        reader.close()
        if ref_reader is not None:
            ref_reader.close()
    missing = [i for i in local_frames if i not in local]
    if missing:
        raise InputError(f"{video}: no frame {missing[0]} for --local (the video has {len(scores)} frames)")
    return Report(video, reference, scores, local)


def write_csv(report: Report, path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "time", "kind", "bf", "rbf", "abs_rbf", "psnr", "ssim"])
        for s in report.frames:
            w.writerow([s.index, f"{s.time:.6f}", KIND_NAMES[s.kind], _num(s.bf), _num(s.rbf),
                        _num(abs(s.rbf) if s.rbf is not None else None), _num(s.psnr), _num(s.ssim)])


def _num(v):
    if v is None:
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v


def write_json(report: Report, path: str) -> None:
    data = {"video": report.video, "reference": report.reference, "summary": report.summary(),
            "frames": [dict(asdict(s), kind=KIND_NAMES[s.kind]) for s in report.frames],
            "conventions": "see vfi.metrics: BT.601 luma, 3x3 Laplacian, mirrored borders, 0..255"}
    Path(path).write_text(json.dumps(_json_safe(data), indent=1))


def plot(report: Report, path: str) -> None:
    from .figures import plt

    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    t = np.array([s.time for s in report.frames])
    bf = np.array([s.bf for s in report.frames])
    finite = np.isfinite(bf)
    ax.plot(t[finite], bf[finite], "-", color="0.7", lw=1, zorder=1)
    styles = {SOURCE: ("o", "tab:blue"), SYNTH: ("^", "tab:red"), REPEAT: ("s", "tab:orange"), "?": ("o", "tab:blue")}
    for k, (marker, color) in styles.items():
        sel = np.array([s.kind == k for s in report.frames]) & finite
        if sel.any():
            ax.scatter(t[sel], bf[sel], s=14, marker=marker, color=color, label=KIND_NAMES[k], zorder=2)
    if (~finite).any():
        ax.scatter(t[~finite], np.full((~finite).sum(), np.nanmax(bf[finite]) if finite.any() else 1), marker="x",
                   color="k", label="flat (BF = inf)")
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Blur Factor 1/var(Laplacian) (log)")
    ax.set_title(f"Blur Factor per frame: {Path(report.video).name}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def heatmaps(report: Report, path: str) -> None:
    """For each chosen frame: the frame and its per-tile RBF (or BF without reference)."""
    from .figures import plt

    idx = sorted(report.local)
    fig, axes = plt.subplots(len(idx), 2, figsize=(10, 3.2 * len(idx)), dpi=100, squeeze=False)
    for row, i in zip(axes, idx):
        e = report.local[i]
        row[0].imshow(e["image"])
        row[0].set_title(f"frame {i} ({KIND_NAMES[report.frames[i].kind]})", fontsize=9)
        row[0].axis("off")
        if e["rbf"] is not None:
            labels = e["rbf"]
            grid = np.clip(np.nan_to_num(e["rbf"], posinf=10.0), -1, 10)  # colours saturate at 10
            im = row[1].imshow(grid, cmap="coolwarm", vmin=-1, vmax=max(1.0, float(grid.max())))
            row[1].set_title("local RBF per tile (>0 blurrier than reference)", fontsize=9)
        else:
            with np.errstate(divide="ignore"):
                grid = np.log10(1.0 / np.maximum(e["lapvar"], 1e-12))
            labels = grid
            im = row[1].imshow(grid, cmap="magma")
            row[1].set_title("local log10 Blur Factor per tile", fontsize=9)
        for (y, x), v in np.ndenumerate(labels):
            row[1].text(x, y, f"{v:.2g}", ha="center", va="center", fontsize=6)
        fig.colorbar(im, ax=row[1])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report_to_files(video: str, reference: str | None = None, csv_path=None, json_path=None, plot_path=None, local_path=None,
                    local_frames: tuple[int, ...] | None = None, tiles=(8, 8), progress=None) -> Report:
    """``vfi blur-report``: the report of ``video`` written to the files asked for, all or
    none, their names checked before any work.  ``local_frames`` for the heatmaps
    (``local_path``): by default the first inserted frame."""
    if local_path and not local_frames:
        kinds = read_kinds(video) or ""
        local_frames = (kinds.index("I"),) if "I" in kinds else (0,)
    written = [("--csv", csv_path), ("--json", json_path), ("--plot", plot_path), ("--local", local_path)]
    written = [(what, p) for what, p in written if p]
    for what, p in written:
        check_writable(p, what)
    check_distinct([("video", video)] + ([("reference", reference)] if reference else []), written)
    report = blur_report(video, reference, local_frames if local_path else (), tiles, progress=progress)
    with OutputSet() as out:
        for path, write in ((csv_path, write_csv), (json_path, write_json), (plot_path, plot), (local_path, heatmaps)):
            if path:
                write(report, out.path(path))
    return report


class BlurObserver(Observer):
    """``vfi upsample --blur-report FILE``: BF of each inserted frame and its RBF against
    the two source frames around it, written while the job runs."""

    def __init__(self, path: str):
        self.path = path
        self.outputs = [("--blur-report", path)]
        self.file = None
        self.tmp = None
        self.cache: dict[int, float] = {}

    def start(self, total, info):
        from .outputs import temporary_path

        self.conv = ColorConverter(info.pix_fmt, info.color, info.height)  # as the engine's
        self.tmp = temporary_path(self.path)  # put in place with the video, or removed
        self.file = open(self.tmp, "w", newline="")
        self.writer = csv.writer(self.file)
        self.writer.writerow(["index", "kind", "t", "bf", "rbf_vs_prev", "rbf_vs_next"])

    def _var(self, sf) -> float:
        if sf.index not in self.cache:
            self.cache = {k: v for k, v in self.cache.items() if k >= sf.index - 1}
            self.cache[sf.index] = laplacian_variance(sf.rgb(self.conv))
        return self.cache[sf.index]

    def frame(self, index, kind, rgb, a, b, t):
        if kind == SOURCE:
            return
        v = laplacian_variance(rgb())
        prev_rbf = rbf_from_variances(v, self._var(a))
        next_rbf = rbf_from_variances(v, self._var(b)) if b is not None else None
        self.writer.writerow([index, KIND_NAMES[kind], f"{t:.4f}", _num(bf_from_variance(v)), _num(prev_rbf), _num(next_rbf)])

    def finish(self):
        if self.file:
            self.file.close()
            self.file = None
        if sys.exc_info()[0] is not None and self.tmp is not None:
            self.tmp.unlink(missing_ok=True)  # the job failed: no report
            self.tmp = None

    def finished_files(self):
        return [(self.tmp, Path(self.path))] if self.tmp is not None else []


SUMMARY_COLUMNS = {"bf": "BF mean (std)", "rbf": "RBF mean (std)", "abs_rbf": "|RBF| mean", "psnr": "PSNR dB", "ssim": "SSIM"}


def summary_table(report: Report, title: str):
    """The report's summary as a Rich table: a row per kind of frame (source,
    synthesised, repeated, all), a column per measure."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("frames of")
    table.add_column("frames")
    for name in SUMMARY_COLUMNS.values():
        table.add_column(name)
    for kind, row in report.summary().items():
        table.add_row(kind, str(row["frames"]), *(_summary_cell(c, row.get(c)) for c in SUMMARY_COLUMNS))
    return table


def _summary_cell(column: str, v: dict | None) -> str:
    if v is None:
        return "-"
    inf = f" ({v['infinite']} inf)" if v["infinite"] else ""
    return f"{v['mean']:.4g} ({v['std']:.3g}){inf}" if column in ("bf", "rbf") else f"{v['mean']:.4g}{inf}"
