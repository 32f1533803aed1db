"""Formats `vfi eval --dataset` results as paper 002's Tables 1-2, beside its numbers:
the 10-epoch run (the paper's) and the longer one (until validation stopped improving).

    python examples/recipes/paper002_tables.py RESULTS_10.json RESULTS_LONG.json DATASET > docs/paper002.md

The reading (what agrees, what does not, and why) is kept in docs/paper002_reading.md
and appended.
"""

import json
import sys
from pathlib import Path

PAPER_BF = {  # Table 1: Blur Factor of predictions, mean and std
    ("backward-ae", "mse"): (10.9949, 17.3854), ("backward-ae", "msle"): (10.8436, 15.2972), ("backward-ae", "cosine"): (4.00839, 2.95358),
    ("forward-ae", "mse"): (10.7538, 17.594), ("forward-ae", "msle"): (10.9283, 18.8961), ("forward-ae", "cosine"): (3.77434, 2.25595),
    ("bidirectional-ae", "mse"): (10.7391, 15.2558), ("bidirectional-ae", "msle"): (10.7269, 22.6795), ("bidirectional-ae", "cosine"): (3.94646, 2.46125),
    ("conv-ae", "mse"): (117.685, 56.5844), ("conv-ae", "msle"): (154.445, 71.3409), ("conv-ae", "cosine"): (52638.3, 22244.4),
}
PAPER_RBF = {  # Table 2: Relative Blur Factor, mean and std
    ("backward-ae", "mse"): (0.39392, 0.69326), ("backward-ae", "msle"): (0.37855, 0.63957), ("backward-ae", "cosine"): (-0.43245, 0.25595),
    ("forward-ae", "mse"): (0.33912, 0.72271), ("forward-ae", "msle"): (0.34999, 0.72292), ("forward-ae", "cosine"): (-0.45711, 0.1971),
    ("bidirectional-ae", "mse"): (0.36767, 0.67801), ("bidirectional-ae", "msle"): (0.30246, 0.85977), ("bidirectional-ae", "cosine"): (-0.42955, 0.26931),
    ("conv-ae", "mse"): (16.1837, 3.05879), ("conv-ae", "msle"): (21.7373, 4.26764), ("conv-ae", "cosine"): (7820.67, 1421.55),
}
MODELS = ["backward-ae", "forward-ae", "bidirectional-ae", "conv-ae"]
LOSSES = ["mse", "msle", "cosine", "blur"]


def rows(path):
    res = json.load(open(path))
    out = {(v["model"], v["loss"]): dict(v, weights=k) for k, v in res.items()}
    return dict(sorted(out.items(), key=lambda kv: (MODELS.index(kv[0][0]), LOSSES.index(kv[0][1]))))


def epochs_of(run_dir: Path, model: str, loss: str) -> str:
    """The epoch the longer run's weights come from, and how many it ran."""
    summary = run_dir / "long" / f"{model}-{loss}" / "summary.json"
    if not summary.exists():
        return "?"
    h = json.loads(summary.read_text())["history"]
    best = min(h[1:], key=lambda e: e["val_loss"])
    return f"{best['epoch']} of {h[-1]['epoch']}"


def references(dataset):
    """The truth's Blur Factor and two trivial predictions, repeating frame t-1 and
    averaging t-1 and t+1, measured as `vfi eval --dataset` measures the models."""
    import numpy as np

    from vfi.data import TripletDataset
    from vfi.evaluate import summarise
    from vfi.metrics import bf_from_variance, laplacian_variance, psnr, rbf_from_variances

    data = TripletDataset(dataset)
    holds = 0
    moving = {"repeat t-1": [], "blend of t-1 and t+1": []}  # PSNR without the frame holds
    rows = {"truth": {"bf": []}, "repeat t-1": {"bf": [], "rbf": [], "psnr": []}, "blend of t-1 and t+1": {"bf": [], "rbf": [], "psnr": []}}
    for t in data.val:
        a, m, b = (np.asarray(f, np.float64) for f in data.frames(int(t)))
        holds += bool(np.array_equal(a, m))
        vt = laplacian_variance(m / 255)
        rows["truth"]["bf"].append(bf_from_variance(vt))
        for name, pred in (("repeat t-1", a), ("blend of t-1 and t+1", (a + b) / 2)):
            vp = laplacian_variance(pred / 255)
            rows[name]["bf"].append(bf_from_variance(vp))
            rows[name]["rbf"].append(rbf_from_variances(vp, vt))
            rows[name]["psnr"].append(psnr(pred, m))
            if not np.array_equal(a, m):
                moving[name].append(psnr(pred, m))
    out = {k: summarise(v) for k, v in rows.items()}
    out["holds"] = holds
    for name, values in moving.items():
        out[name]["psnr_moving"] = float(np.mean(np.minimum(values, 100)))
    return out


def fmt(x):
    return "-" if x is None else f"{x:.4g}"


def main(path10, path_long, dataset):
    short, long = rows(path10), rows(path_long)
    run_dir = Path(path10).parent
    manifest = json.loads((Path(dataset) / "manifest.json").read_text())
    n_test = next(iter(short.values()))["triplets"]
    print("# Paper 002 reproduced on one cartoon style: Blur Factor and Relative Blur Factor\n")
    print(f"Made by `examples/recipes/reproduce_paper002.sh`: the 14 Planet Blupi cutscenes of the corpus ({sum(s['frames'] for s in manifest['sources'])} "
          f"frames of one pre-rendered 3D style, the closest thing here to the paper's Bambi scene), paper-002 preset "
          f"(greyscale 200x100, [0,1]), random 70/30 split (seed 0), every frame kept as the paper did: "
          f"**{manifest['train']} training and {manifest['val']} test triplets**; figures on all {n_test} test triplets. "
          "BF = 1/var(Laplacian) on the [0,1] scale as in the paper (3x3 Laplacian, mirrored borders); PSNR on 0..255.\n")
    print("Two runs: **10 epochs**, as in the paper, and **longer**: up to 60 epochs, stopping after 5 without a new best "
          "validation loss, the best epoch's weights (the epoch is given). `blur` is the blur-aware loss the paper proposes "
          "(MSE + 0.1 x (log var Lap(true) - log var Lap(pred))^2), measured for the convolutional autoencoder.\n")
    from vfi.data import TripletDataset

    refs = references(dataset)
    print("For scale, on the same test triplets: the truth's BF is "
          f"{fmt(refs['truth']['bf'])} ({fmt(refs['truth']['bf_std'])}); repeating frame t-1 gives "
          f"{refs['repeat t-1']['psnr']:.2f} dB (RBF {refs['repeat t-1']['rbf']:+.3g}), averaging t-1 and t+1 "
          f"{refs['blend of t-1 and t+1']['psnr']:.2f} dB (RBF {refs['blend of t-1 and t+1']['rbf']:+.3g}) "
          f"(PSNR of identical frames counted as 100 dB, as `vfi eval` does: {refs['holds']} of the {len(TripletDataset(dataset).val)} test "
          "triplets are frame holds, kept as the paper kept them, which lifts both figures; without them "
          f"{refs['repeat t-1']['psnr_moving']:.2f} and {refs['blend of t-1 and t+1']['psnr_moving']:.2f} dB).\n")
    print("## Table 1: Blur Factor of predictions (mean, std)\n")
    print("| model - loss | 10 epochs | longer | paper |\n|---|---|---|---|")
    for key, v in short.items():
        w = long.get(key)
        p = PAPER_BF.get(key)
        print(f"| {key[0]} - {key[1]} | {fmt(v['bf']['bf'])} ({fmt(v['bf']['bf_std'])}) | "
              + (f"{fmt(w['bf']['bf'])} ({fmt(w['bf']['bf_std'])})" if w else "-") + " | "
              + (f"{p[0]:.6g} ({p[1]:.6g})" if p else "not in the paper") + " |")
    print("\n## Table 2: Relative Blur Factor (mean, std) and PSNR\n")
    print("| model - loss | 10 epochs RBF | PSNR dB | longer RBF | PSNR dB | best epoch | paper RBF |\n|---|---|---|---|---|---|---|")
    for key, v in short.items():
        w = long.get(key)
        p = PAPER_RBF.get(key)
        print(f"| {key[0]} - {key[1]} | {v['rbf']['rbf']:+.4g} ({fmt(v['rbf']['rbf_std'])}) | {v['psnr']:.2f} | "
              + (f"{w['rbf']['rbf']:+.4g} ({fmt(w['rbf']['rbf_std'])}) | {w['psnr']:.2f} | {epochs_of(run_dir, *key)}" if w else "- | - | -")
              + " | " + (f"{p[0]:+.5g} ({p[1]:.5g})" if p else "not in the paper") + " |")
    reading = Path(__file__).resolve().parents[2] / "docs" / "paper002_reading.md"
    if reading.exists():
        print("\n" + reading.read_text())


if __name__ == "__main__":
    main(*sys.argv[1:4])
