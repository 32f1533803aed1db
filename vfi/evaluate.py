"""``vfi eval``: the drop-frame protocol. From each clip take triplets (t-1, t, t+1),
predict t from its neighbours with every method side by side, and compare with the
real t (PSNR, SSIM, BF, RBF, |RBF|), timing each method.  Beside each mean: the worst
triplet's PSNR and the 5th percentile, and (:func:`sheet`) where each method errs most
on its worst triplet, so that a regression on a few frames cannot hide in an average.

Methods that use the source frames around the pair (``neighbours``) are given, per
``neighbours=``: "true", the frames t-3 and t+3 (the clip at half its rate); "jumped",
frames from elsewhere in the same clip (at least ``JUMP`` frames from the pair) in
their place, as a jump cut, dropped frames or a missed cut give them; "none", nothing
(two-frame interpolation).

``evaluate_dataset`` does the same on a prepared dataset's validation split in the
models' own domain (paper 002 measures its autoencoders on 200x100 greyscale frames
on the 0..1 scale, so that is where its Blur Factor tables can be compared).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, UsageError
from .outputs import OutputSet, check_distinct, check_writable
from .methods import CLASSICAL, Method, make_method, model_method
from .metrics import bf_from_variance, error_region, laplacian_variance, psnr, rbf_from_variances, ssim
from .scenes import DEFAULT_THRESHOLD, cut_score, is_hold, thumbnail
from .io.colour import ColorConverter
from .io.reading import VideoReader

CHANNEL_ERRORS = ("error_r", "error_g", "error_b")  # mean signed error (prediction - truth) per RGB channel, levels
METRICS = ("psnr", "ssim", "bf", "rbf", "abs_rbf", *CHANNEL_ERRORS)
NEIGHBOURS = ("true", "jumped", "none")
JUMP = 16  # "jumped" neighbours lie at least this many frames from the pair (and from each other)


@dataclass
class Contender:
    label: str
    method: Method


@dataclass
class ClipResult:
    clip: str
    width: int
    height: int
    triplets: int = 0
    skipped: dict = field(default_factory=lambda: {"scene cut": 0, "frame hold": 0})
    values: dict = field(default_factory=dict)  # label -> metric -> list
    seconds: dict = field(default_factory=dict)  # label -> total prediction time
    indices: list = field(default_factory=list)  # the predicted frame of each triplet
    worst: dict = field(default_factory=dict)  # label -> its worst triplet's frames (keep_worst), for the sheet


def make_contenders(methods: list[str], models: list[tuple[str, str | None]], device: str = "auto",
                    precision: str = "auto") -> list[Contender]:
    out = []
    for m in methods:
        if m not in CLASSICAL:
            raise UsageError(f"unknown method {m!r} ({', '.join(CLASSICAL)})")
        out.append(Contender(m, make_method(m)))
    from .models import load_interpolator, shipped_weights

    for name, weights in models:
        interp = load_interpolator(name, weights, device=device, precision=precision)
        default = shipped_weights(name)
        shipped = weights is not None and default is not None and Path(weights).resolve() == default.resolve()
        label = name if weights is None or shipped else f"{name} ({Path(weights).stem})"
        if weights is not None and any(c.label == label for c in out):  # two files of the same name: say which folder
            label = f"{name} ({Path(weights).parent.name}/{Path(weights).stem})"
        n = 2
        while any(c.label == label for c in out):
            label, n = f"{label} #{n}", n + 1
        out.append(Contender(label, model_method(interp, depth=1)))
    if not out:
        raise UsageError("nothing to evaluate: give --methods and/or --model")
    return out


def _to_rgb(result, conv: ColorConverter) -> np.ndarray:
    return result if isinstance(result, np.ndarray) else conv.to_rgb(result)


def evaluate_clip(path: str, contenders: list[Contender], *, max_triplets: int | None = None, every: int = 1,
                  scene_threshold: float = DEFAULT_THRESHOLD, neighbours: str = "true", keep_worst: bool = False,
                  progress=None) -> ClipResult:
    """Every ``every``-th triplet of the clip (at most ``max_triplets`` scored), each
    method's prediction scored; ``neighbours``: see the module's notes; ``keep_worst``:
    keep each method's worst triplet (:func:`sheet`)."""
    if neighbours not in NEIGHBOURS:
        raise UsageError(f"neighbours must be one of {', '.join(NEIGHBOURS)}, not {neighbours!r}")
    with VideoReader(path) as reader:
        info = reader.info
        conv = ColorConverter(info.pix_fmt, info.color, info.height)
        for c in contenders:
            c.method.setup(conv)
        res = ClipResult(path, info.width, info.height)
        res.values = {c.label: {m: [] for m in METRICS} for c in contenders}
        res.seconds = {c.label: 0.0 for c in contenders}
        for tri in drop_frame_triplets(reader, conv, every=every, max_triplets=max_triplets,
                                       scene_threshold=scene_threshold, neighbours=neighbours, skipped=res.skipped):
            a, b, before, after, truth, ra, rb = tri.a, tri.b, tri.before, tri.after, tri.truth, tri.prev, tri.next
            v_true = laplacian_variance(truth)
            for c in contenders:
                t0 = time.perf_counter()
                around = {"before": before, "after": after} if c.method.neighbours else {}
                pred = _to_rgb(c.method.interpolate(a, b, [0.5], **around)[0], conv)
                res.seconds[c.label] += time.perf_counter() - t0
                v = laplacian_variance(pred)
                r = rbf_from_variances(v, v_true)
                vals = res.values[c.label]
                vals["psnr"].append(psnr(pred, truth))
                vals["ssim"].append(ssim(pred, truth))
                vals["bf"].append(bf_from_variance(v))
                vals["rbf"].append(r)
                vals["abs_rbf"].append(abs(r))
                for key, e in zip(CHANNEL_ERRORS, (pred.astype(np.float64) - truth).mean(axis=(0, 1))):
                    vals[key].append(float(e))
                if keep_worst and vals["psnr"][-1] < res.worst.get(c.label, {}).get("psnr", math.inf):
                    res.worst[c.label] = {"psnr": vals["psnr"][-1], "prev": ra, "next": rb, "truth": truth, "pred": pred,
                                          "index": tri.index}
            res.triplets += 1
            res.indices.append(tri.index)
            if progress:
                progress()
        if max_triplets is None or res.triplets < max_triplets:
            reader.check_complete()  # figures from a damaged clip would mislead
    return res


@dataclass
class Triplet:
    """A scored triplet: the pair's source frames ``a`` and ``b``, the frames given around
    them (or None), the dropped frame's RGB (``truth``, at source ``index``) and the pair's."""
    a: object
    b: object
    before: object
    after: object
    truth: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    index: int


def drop_frame_triplets(reader: VideoReader, conv: ColorConverter, *, every: int = 1, max_triplets: int | None = None,
                        scene_threshold: float = DEFAULT_THRESHOLD, neighbours: str = "true", skipped: dict | None = None):
    """`vfi eval`'s triplets of an open clip, as :class:`Triplet`: every ``every``-th run of
    three frames, at most ``max_triplets``, those across a cut or with a held frame left
    out (counted in ``skipped`` by reason); ``neighbours``: see the module's notes."""
    skipped = {"scene cut": 0, "frame hold": 0} if skipped is None else skipped
    reach = 3 + 2 * JUMP if neighbours == "jumped" else 3
    given = 0
    for position, (win, centre) in enumerate(_triplets_in_context(reader.frames(), reach), 1):
        if (position - 1) % every:
            continue
        if max_triplets is not None and given >= max_triplets:
            break
        a, mid, b = win[centre - 1][0], win[centre][0], win[centre + 1][0]
        if scene_threshold > 0 and max(_score(win, centre), _score(win, centre + 1)) > scene_threshold:
            skipped["scene cut"] += 1
            continue
        before, after = _neighbours(win, centre, neighbours, scene_threshold)
        truth = mid.rgb(conv)
        ra, rb = a.rgb(conv), b.rgb(conv)
        if is_hold(ra, truth) or is_hold(truth, rb):
            skipped["frame hold"] += 1
            continue
        given += 1
        yield Triplet(a, b, before, after, truth, ra, rb, mid.index)


def _triplets_in_context(frames, reach: int = 3):
    """(window, centre) for every run of three consecutive frames ``a, mid, b`` (the pair
    (a, b) with ``mid`` dropped, as in a clip at half the rate): ``window[centre]`` is
    ``mid``, and the window holds (frame, cut score against the frame before it,
    thumbnail) for the frames up to ``reach`` either side of it that the clip has.  The
    triplet around frame k comes once frame k + reach has (or the clip has ended)."""
    window: deque = deque(maxlen=2 * reach + 1)  # frames k - 2 reach .. k
    k = -1
    for k, sf in enumerate(frames):
        thumb = thumbnail(sf.frame)
        window.append((sf, cut_score(window[-1][2], thumb) if window else 0.0, thumb))
        if k - reach >= 1:
            yield list(window), len(window) - 1 - reach
    first = max(0, k - 2 * reach)  # the window's first frame
    for centre in range(max(1, k - reach + 1), k):  # the last ones: nothing ``reach`` frames after them
        yield list(window), centre - first


def _score(win: list, i: int) -> float:
    """The cut score between frames i - 1 and i of the window (0 past its ends)."""
    return win[i][1] if 1 <= i < len(win) else 0.0


def _frame(win: list, i: int):
    return win[i][0] if 0 <= i < len(win) else None


def _neighbours(win: list, centre: int, kind: str, scene_threshold: float):
    """(before, after) given with the pair around ``win[centre]``; see the module's notes.
    "true": frames centre -/+ 3, only from the pair's shot.  "jumped": frames JUMP
    further out (or, past the clip's ends, further out on the other side), shown at the
    times the true ones would have, so that a method takes them as the frames around
    the pair."""
    if kind == "none":
        return None, None
    if kind == "true":
        before, after = _frame(win, centre - 3), _frame(win, centre + 3)
        if scene_threshold > 0:  # the frames around the pair, only from the same shot
            if max(_score(win, centre - 1), _score(win, centre - 2)) > scene_threshold:
                before = None
            if max(_score(win, centre + 2), _score(win, centre + 3)) > scene_threshold:
                after = None
        return before, after
    import dataclasses

    a, b = win[centre - 1][0], win[centre + 1][0]
    span = b.time - a.time
    near, far = 3 + JUMP, 3 + 2 * JUMP
    before = _frame(win, centre - near) or _frame(win, centre + far)
    after = _frame(win, centre + near) or _frame(win, centre - far)
    return (None if before is None else dataclasses.replace(before, time=a.time - span),
            None if after is None else dataclasses.replace(after, time=b.time + span))


def summarise(values: dict) -> dict:
    """metric -> mean over finite values (PSNR of identical frames is inf: capped at 100 dB);
    for PSNR also the worst value (``psnr_worst``) and the 5th percentile (``psnr_p5``,
    linear between the nearest ranks)."""
    out = {}
    for m, vals in values.items():
        arr = np.array([min(v, 100.0) if m == "psnr" else v for v in vals], dtype=float)
        finite = arr[np.isfinite(arr)]
        out[m] = float(finite.mean()) if finite.size else math.nan
        out[m + "_std"] = float(finite.std()) if finite.size else math.nan
        if m == "psnr":
            out["psnr_worst"] = float(finite.min()) if finite.size else math.nan
            out["psnr_p5"] = float(np.percentile(finite, 5)) if finite.size else math.nan
    return out


def with_bias(summary: dict) -> dict:
    """Adds ``bias``: the mean error of the RGB channel furthest from zero, signed (levels).
    A frame that is too dark or too bright by a level costs PSNR everywhere, and
    averages of PSNR do not show it."""
    errors = [summary[k] for k in CHANNEL_ERRORS]
    summary["bias"] = max(errors, key=lambda e: -1.0 if math.isnan(e) else abs(e))
    return summary


def _worst_frame(clip: str, indices: list, psnrs: list) -> str:
    return f"{Path(clip).name}#{indices[int(np.argmin(psnrs))]}" if psnrs else ""


def report(results: list[ClipResult]) -> dict:
    """Per clip and overall, per method: the means of :data:`METRICS`, bias, PSNR's worst
    and 5th percentile, and the worst triplet's frame (``worst_frame``: clip#index)."""
    labels = list(results[0].values) if results else []
    clips = []
    for r in results:
        clips.append({"clip": r.clip, "size": f"{r.width}x{r.height}", "triplets": r.triplets, "skipped": r.skipped,
                      "methods": {lab: dict(with_bias(summarise(r.values[lab])), ms_per_frame=1000 * r.seconds[lab] / max(1, r.triplets),
                                            worst_frame=_worst_frame(r.clip, r.indices, r.values[lab]["psnr"]))
                                  for lab in labels}})
    overall = {}
    for lab in labels:
        merged = {m: [v for r in results for v in r.values[lab][m]] for m in METRICS}
        n = sum(r.triplets for r in results)
        worst = min(((min(r.values[lab]["psnr"]), _worst_frame(r.clip, r.indices, r.values[lab]["psnr"])) for r in results
                     if r.triplets), default=(0, ""))
        overall[lab] = dict(with_bias(summarise(merged)), triplets=n, worst_frame=worst[1])
    return {"clips": clips, "overall": overall}


def markdown(rep: dict) -> str:
    lines = ["| clip | size | method | PSNR dB | worst dB | p5 dB | SSIM | BF | RBF | abs RBF | bias | ms/frame |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in rep["clips"]:
        for lab, v in c["methods"].items():
            lines.append(f"| {Path(c['clip']).name} | {c['size']} | {lab} | {v['psnr']:.2f} | {v['psnr_worst']:.2f} | {v['psnr_p5']:.2f} | "
                         f"{v['ssim']:.4f} | {v['bf']:.4g} | {v['rbf']:+.3f} | {v['abs_rbf']:.3f} | {v['bias']:+.2f} | {v['ms_per_frame']:.1f} |")
    lines += ["", "| overall | triplets | PSNR dB | worst dB | p5 dB | worst triplet | SSIM | BF | RBF | abs RBF | bias |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, v in rep["overall"].items():
        lines.append(f"| {lab} | {v['triplets']} | {v['psnr']:.2f} | {v['psnr_worst']:.2f} | {v['psnr_p5']:.2f} | {v['worst_frame']} | "
                     f"{v['ssim']:.4f} | {v['bf']:.4g} | {v['rbf']:+.3f} | {v['abs_rbf']:.3f} | {v['bias']:+.2f} |")
    return "\n".join(lines) + "\n"


def table(rep: dict, title: str = "vfi eval: predict frame t from t-1 and t+1"):
    """The report as a Rich table: per clip and method, then overall."""
    from rich.table import Table

    out = Table(title=title)
    for col in ("clip", "size", "triplets", "skipped", "method", "PSNR dB", "worst", "p5", "SSIM", "BF", "RBF", "|RBF|", "bias", "ms/frame"):
        out.add_column(col)

    def cells(v):
        return (f"{v['psnr']:.2f}", f"{v['psnr_worst']:.2f}", f"{v['psnr_p5']:.2f}", f"{v['ssim']:.4f}", f"{v['bf']:.4g}",
                f"{v['rbf']:+.3f}", f"{v['abs_rbf']:.3f}", f"{v['bias']:+.2f}")

    for c in rep["clips"]:
        skipped = ", ".join(f"{v} {k}" for k, v in c["skipped"].items() if v) or "0"
        for i, (lab, v) in enumerate(c["methods"].items()):
            head = (Path(c["clip"]).name, c["size"], str(c["triplets"]), skipped) if i == 0 else ("",) * 4
            out.add_row(*head, lab, *cells(v), f"{v['ms_per_frame']:.1f}")
    for lab, v in rep["overall"].items():
        out.add_row("[bold]overall", "", str(v["triplets"]), "", lab, *cells(v), "")
    return out


def sheet(results: list[ClipResult], path: str, crop: int = 96) -> None:
    """A PNG with a row per method: its worst triplet over all clips (``keep_worst``),
    cropped to where its prediction errs most (:func:`vfi.metrics.error_region`): the
    frames either side, the prediction, the truth and the error (x4)."""
    from .figures import plt

    worst: dict = {}
    for r in results:
        for lab, w in r.worst.items():
            if lab not in worst or w["psnr"] < worst[lab][1]["psnr"]:
                worst[lab] = (Path(r.clip).name, w)
    if not worst:
        raise UsageError("no triplets to show in --sheet")
    fig, axes = plt.subplots(len(worst), 5, figsize=(2.4 * 5, 2.5 * len(worst) + 0.3), dpi=110, squeeze=False)
    for row, (lab, (clip, w)) in zip(axes, worst.items()):
        y, x, h, wd = error_region(w["pred"], w["truth"], crop)
        cut = lambda img: img[y:y + h, x:x + wd]  # noqa: E731
        error = np.clip(np.abs(w["pred"].astype(np.float64) - w["truth"]) * 4, 0, 255).astype(np.uint8)
        panels = [("t-1", w["prev"]), (f"{lab}: {w['psnr']:.2f} dB", w["pred"]), ("truth t", w["truth"]), ("t+1", w["next"]),
                  ("|error| x4", error)]
        for ax, (title, img) in zip(row, panels):
            ax.imshow(cut(img))
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{clip} #{w['index']}\n({x},{y}) {wd}x{h}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    import matplotlib.pyplot as _plt

    _plt.close(fig)


def model_weight_pairs(models: list[str], weights: list[str], dataset: bool = False) -> list[tuple[str, str | None]]:
    """(model, weights file or None for the shipped ones) as --model and --weights pair
    up by position; on a dataset every model needs its weights file."""
    if len(weights) > len(models):
        raise UsageError("each --weights needs a --model before it")
    pairs = [(m, weights[i] if i < len(weights) else None) for i, m in enumerate(models)]
    if dataset and (not pairs or any(w is None for _, w in pairs)):
        raise UsageError("--dataset evaluates weights files: give --model NAME --weights FILE pairs")
    return pairs


def check_report_paths(clips: list[str], json_path: str | None, md_path: str | None, sheet_path: str | None) -> None:
    """Before any work: each report file can be written and none of them is a clip."""
    written = [(what, p) for what, p in (("--json", json_path), ("--markdown", md_path), ("--sheet", sheet_path)) if p]
    for what, p in written:
        check_writable(p, what)
    check_distinct([("clip", c) for c in clips], written)


def usable_results(results: list[ClipResult]) -> tuple[list[ClipResult], list[str]]:
    """The clips that gave triplets, and a warning for each that gave none; no clip with
    a triplet is bad input."""
    usable = [r for r in results if r.triplets > 0]
    if not usable:
        raise InputError(f"no usable triplets in {', '.join(r.clip for r in results)}: each clip needs three frames in a row "
                         "without a cut or a hold")
    return usable, [f"{r.clip}: no usable triplets (too short, or only cuts and holds); left out" for r in results if r.triplets == 0]


def write_reports(rep: dict, results: list[ClipResult], json_path: str | None = None, md_path: str | None = None,
                  sheet_path: str | None = None) -> None:
    """The JSON, Markdown and worst-triplet sheet asked for, all written or none."""
    with OutputSet() as out:
        if json_path:
            out.path(json_path).write_text(json.dumps(rep, indent=1))
        if md_path:
            out.path(md_path).write_text(markdown(rep))
        if sheet_path:
            sheet(results, str(out.path(sheet_path)))


def dataset_report(dataset: str, pairs: list[tuple[str, str]], json_path: str | None = None, device: str = "cpu",
                   max_triplets: int | None = None) -> dict:
    """:func:`evaluate_dataset`, written to ``json_path`` too when given (checked first)."""
    if json_path:
        check_writable(json_path, "--json")
    rep = evaluate_dataset(dataset, pairs, device=device, max_triplets=max_triplets)
    write_reports(rep, [], json_path)
    return rep


def dataset_table(rep: dict, title: str):
    """:func:`evaluate_dataset`'s report as a Rich table, a row per weights file."""
    from rich.table import Table

    out = Table(title=title)
    for col in ("weights", "model", "loss", "triplets", "BF mean", "BF std", "RBF mean", "RBF std", "PSNR dB"):
        out.add_column(col)
    for k, v in rep.items():
        out.add_row(k, v["model"], str(v["loss"]), str(v["triplets"]), f"{v['bf']['bf']:.4g}", f"{v['bf']['bf_std']:.4g}",
                    f"{v['rbf']['rbf']:.4g}", f"{v['rbf']['rbf_std']:.4g}", f"{v['psnr']:.2f}")
    return out


def evaluate_dataset(dataset: str, models: list[tuple[str, str]], device: str = "cpu", max_triplets: int | None = None) -> dict:
    """Each (model, weights) on the dataset's validation split, each prediction made by
    the model's adapter on whole frames: BF and RBF on the scale its adapter reports
    (0..1 for paper 002's autoencoders, as in its tables; 0..255 otherwise), PSNR on
    0..255."""
    import torch

    from .data import TripletDataset
    from .models import check_dataset_fits, load_model, resolve_device

    data = TripletDataset(dataset)
    idx = data.val[:max_triplets] if max_triplets else data.val
    dev = resolve_device(device)
    out = {}
    for name, weights in models:
        spec, model, meta = load_model(weights, expected=name)
        check_dataset_fits(spec, data)
        model = model.to(dev).eval()
        bfs, rbfs, psnrs = [], [], []
        with torch.inference_mode():
            for t in idx:
                pred, truth = _dataset_prediction(spec.adapter, model, data, int(t), dev)
                vp, vt = laplacian_variance(pred), laplacian_variance(truth)
                bfs.append(bf_from_variance(vp))
                rbfs.append(rbf_from_variances(vp, vt))
                to_255 = 255.0 / spec.adapter.report_levels
                psnrs.append(psnr(np.clip(pred * to_255, 0, 255), truth * to_255))
        out[Path(weights).stem] = {"model": name, "loss": meta.get("recipe", {}).get("loss"), "triplets": len(idx),
                                   "bf": summarise({"bf": bfs}), "rbf": summarise({"rbf": rbfs}), "psnr": summarise({"psnr": psnrs})["psnr"]}
    return out


def _dataset_prediction(adapter, model, data, index: int, device) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, truth) of dataset triplet ``index``, H x W x C float64 on the scale
    the adapter reports on."""
    truth = data.frames(index)[1].astype(np.float64) / (255.0 / adapter.report_levels)
    pred = adapter.predict(model, data, index, device).astype(np.float64) * (adapter.report_levels / adapter.levels)
    return pred, truth
