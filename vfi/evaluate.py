"""``vfi eval``: the drop-frame protocol. From each clip take triplets (t-1, t, t+1),
predict t from its neighbours with every method side by side, and compare with the
real t (PSNR, SSIM, BF, RBF, |RBF|), timing each method.

``evaluate_dataset`` does the same on a prepared dataset's validation split in the
models' own domain (paper 002 measures its autoencoders on 200x100 greyscale frames
on the 0..1 scale, so that is where its Blur Factor tables can be compared).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UsageError
from .methods import CLASSICAL, Method, make_method, model_method
from .metrics import laplacian_variance, psnr, rbf_from_variances, ssim
from .scenes import DEFAULT_THRESHOLD, cut_score, is_hold, thumbnail
from .io.colour import ColorConverter
from .io.reading import VideoReader

CHANNEL_ERRORS = ("error_r", "error_g", "error_b")  # mean signed error (prediction - truth) per RGB channel, levels
METRICS = ("psnr", "ssim", "bf", "rbf", "abs_rbf", *CHANNEL_ERRORS)


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
    examples: list = field(default_factory=list)  # for the sheet


def make_contenders(methods: list[str], models: list[tuple[str, str | None]], device: str = "auto") -> list[Contender]:
    out = []
    for m in methods:
        if m not in CLASSICAL:
            raise UsageError(f"unknown method {m!r} (dup, blend, mci)")
        out.append(Contender(m, make_method(m)))
    from .models import load_interpolator, shipped_weights

    for name, weights in models:
        interp = load_interpolator(name, weights, device=device)
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
                  scene_threshold: float = DEFAULT_THRESHOLD, sheet_examples: int = 0, progress=None) -> ClipResult:
    with VideoReader(path) as reader:
        info = reader.info
        conv = ColorConverter(info.pix_fmt, info.color, info.height)
        for c in contenders:
            c.method.setup(conv)
        res = ClipResult(path, info.width, info.height)
        res.values = {c.label: {m: [] for m in METRICS} for c in contenders}
        res.seconds = {c.label: 0.0 for c in contenders}
        for position, (before, a, mid, b, after, scores) in enumerate(_triplets_in_context(reader.frames()), 1):
            if (position - 1) % every:
                continue
            if max_triplets is not None and res.triplets >= max_triplets:
                break
            if scene_threshold > 0 and max(scores[2], scores[3]) > scene_threshold:
                res.skipped["scene cut"] += 1
                continue
            if scene_threshold > 0:  # the frames around the pair, only from the same shot
                before = before if before is not None and max(scores[0], scores[1]) <= scene_threshold else None
                after = after if after is not None and max(scores[4], scores[5]) <= scene_threshold else None
            truth = mid.rgb(conv)
            ra, rb = a.rgb(conv), b.rgb(conv)
            if is_hold(ra, truth) or is_hold(truth, rb):
                res.skipped["frame hold"] += 1
                continue
            v_true = laplacian_variance(truth)
            preds = {}
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
                vals["bf"].append(math.inf if v == 0 else 1 / v)
                vals["rbf"].append(r)
                vals["abs_rbf"].append(abs(r))
                for key, e in zip(CHANNEL_ERRORS, (pred.astype(np.float64) - truth).mean(axis=(0, 1))):
                    vals[key].append(float(e))
                preds[c.label] = pred
            res.triplets += 1
            if len(res.examples) < sheet_examples and res.triplets % 7 == 1:
                res.examples.append({"prev": ra, "next": rb, "truth": truth, "preds": preds, "index": mid.index})
            if progress:
                progress()
        if max_triplets is None or res.triplets < max_triplets:
            reader.check_complete()  # figures from a damaged clip would mislead
    return res


def _triplets_in_context(frames):
    """(before, a, mid, b, after, scores) for every run of three consecutive frames ``a,
    mid, b``: the pair (a, b) with ``mid`` dropped, as in a clip at half the rate, whose
    neighbouring frames are then ``before`` (two frames before ``a``) and ``after`` (two
    after ``b``), None past the clip's ends.  ``scores``: the cut scores between the
    consecutive frames from ``before``'s to ``after``'s (six; 0 past the ends).  The
    triplet around frame k comes once frame k + 3 has (or the clip has ended)."""
    window: deque = deque(maxlen=7)  # (frame, cut score against the frame before it, thumbnail): frames k - 6 .. k
    k = -1
    for k, sf in enumerate(frames):
        thumb = thumbnail(sf.frame)
        window.append((sf, cut_score(window[-1][2], thumb) if window else 0.0, thumb))
        if k - 3 >= 1:
            yield _context(list(window), len(window) - 4)
    first = max(0, k - 6)  # the window's first frame
    for centre in range(max(1, k - 2), k):  # the last ones: nothing three frames after them
        yield _context(list(window), centre - first)


def _context(win: list, centre: int):
    def frame(i):
        return win[i][0] if 0 <= i < len(win) else None

    def score(i):  # between frames i - 1 and i of the window
        return win[i][1] if 1 <= i < len(win) else 0.0

    return (frame(centre - 3), frame(centre - 1), frame(centre), frame(centre + 1), frame(centre + 3),
            [score(centre + k) for k in (-2, -1, 0, 1, 2, 3)])


def summarise(values: dict) -> dict:
    """metric -> mean over finite values (PSNR of identical frames is inf: capped at 100 dB)."""
    out = {}
    for m, vals in values.items():
        arr = np.array([min(v, 100.0) if m == "psnr" else v for v in vals], dtype=float)
        finite = arr[np.isfinite(arr)]
        out[m] = float(finite.mean()) if finite.size else math.nan
        out[m + "_std"] = float(finite.std()) if finite.size else math.nan
    return out


def with_bias(summary: dict) -> dict:
    """Adds ``bias``: the mean error of the RGB channel furthest from zero, signed (levels).
    A frame that is too dark or too bright by a level costs PSNR everywhere, and
    averages of PSNR do not show it."""
    errors = [summary[k] for k in CHANNEL_ERRORS]
    summary["bias"] = max(errors, key=lambda e: -1.0 if math.isnan(e) else abs(e))
    return summary


def report(results: list[ClipResult]) -> dict:
    labels = list(results[0].values) if results else []
    clips = []
    for r in results:
        clips.append({"clip": r.clip, "size": f"{r.width}x{r.height}", "triplets": r.triplets, "skipped": r.skipped,
                      "methods": {lab: dict(with_bias(summarise(r.values[lab])), ms_per_frame=1000 * r.seconds[lab] / max(1, r.triplets))
                                  for lab in labels}})
    overall = {}
    for lab in labels:
        merged = {m: [v for r in results for v in r.values[lab][m]] for m in METRICS}
        n = sum(r.triplets for r in results)
        overall[lab] = dict(with_bias(summarise(merged)), triplets=n)
    return {"clips": clips, "overall": overall}


def markdown(rep: dict) -> str:
    lines = ["| clip | size | method | PSNR dB | SSIM | BF | RBF | abs RBF | bias | ms/frame |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in rep["clips"]:
        for lab, v in c["methods"].items():
            lines.append(f"| {Path(c['clip']).name} | {c['size']} | {lab} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v['bf']:.4g} | "
                         f"{v['rbf']:+.3f} | {v['abs_rbf']:.3f} | {v['bias']:+.2f} | {v['ms_per_frame']:.1f} |")
    lines += ["", "| overall | triplets | PSNR dB | SSIM | BF | RBF | abs RBF | bias |", "|---|---|---|---|---|---|---|---|"]
    for lab, v in rep["overall"].items():
        lines.append(f"| {lab} | {v['triplets']} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v['bf']:.4g} | {v['rbf']:+.3f} | {v['abs_rbf']:.3f} | "
                     f"{v['bias']:+.2f} |")
    return "\n".join(lines) + "\n"


def sheet(results: list[ClipResult], path: str, rows: int = 3) -> None:
    from .figures import plt

    examples = [(Path(r.clip).name, e) for r in results for e in r.examples][:rows]
    if not examples:
        raise UsageError("no triplets to show in --sheet")
    labels = list(examples[0][1]["preds"])
    cols = 3 + len(labels)
    fig, axes = plt.subplots(len(examples), cols, figsize=(2.6 * cols, 2.2 * len(examples) + 0.4), dpi=110, squeeze=False)
    for row, (clip, e) in zip(axes, examples):
        panels = [("t-1", e["prev"])] + [(lab, e["preds"][lab]) for lab in labels] + [("truth t", e["truth"]), ("t+1", e["next"])]
        for ax, (title, img) in zip(row, panels):
            ax.imshow(img)
            extra = f"\n{psnr(img, e['truth']):.1f} dB" if title in labels else ""
            ax.set_title(f"{title}{extra}", fontsize=8)
            ax.axis("off")
        row[0].set_ylabel(f"{clip} #{e['index']}")
    fig.tight_layout()
    fig.savefig(path)
    import matplotlib.pyplot as _plt

    _plt.close(fig)


def evaluate_dataset(dataset: str, models: list[tuple[str, str]], device: str = "cpu", max_triplets: int | None = None) -> dict:
    """Each (model, weights) on the dataset's validation split, in the model's domain:
    BF and RBF on the dataset's scale (0..1 for paper002, 0..255 for paper000)."""
    import torch

    from .data import TripletDataset
    from .models import load_model, model_inputs, resolve_device

    data = TripletDataset(dataset)
    idx = data.val[:max_triplets] if max_triplets else data.val
    scale = 255.0 if data.preset == "paper002" else 1.0
    dev = resolve_device(device)
    out = {}
    for name, weights in models:
        spec, model, meta = load_model(weights, expected=name)
        model = model.to(dev).eval()
        bfs, rbfs, psnrs = [], [], []
        with torch.inference_mode():
            for t in idx:
                a, m, b = data.frames(int(t))
                prev, nxt = (torch.from_numpy(np.array(f)).permute(2, 0, 1).float().unsqueeze(0).to(dev) / scale for f in (a, b))
                pred = model(model_inputs(spec, prev, nxt))[0].permute(1, 2, 0).float().cpu().numpy()
                truth = m.astype(np.float64) / scale
                vp, vt = laplacian_variance(pred), laplacian_variance(truth)
                bfs.append(math.inf if vp == 0 else 1 / vp)
                rbfs.append(rbf_from_variances(vp, vt))
                psnrs.append(psnr(np.clip(pred * scale, 0, 255), m))  # PSNR on 0..255 either way
        out[Path(weights).stem] = {"model": name, "loss": meta.get("recipe", {}).get("loss"), "triplets": len(idx),
                                   "bf": summarise({"bf": bfs}), "rbf": summarise({"rbf": rbfs}), "psnr": summarise({"psnr": psnrs})["psnr"]}
    return out
