"""Writes the shipped weights: a `vfi train` result plus the validation figures that
`vfi eval` measured on held-out clips, into weights/MODEL.safetensors.

    python examples/recipes/finalize_weights.py RUN/sparse-cnn.safetensors EVAL.json [--label ROW] [--notes TEXT]
"""

import argparse
import json
from pathlib import Path

from vfi.models import load_model, save_weights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("eval_json")
    ap.add_argument("--out", default=None)
    ap.add_argument("--notes", default="")
    ap.add_argument("--label", default=None, help="the eval row of these weights (default: the first of the model's)")
    args = ap.parse_args()
    spec, model, meta = load_model(args.weights)
    ev = json.loads(Path(args.eval_json).read_text())
    label = args.label or next(k for k in ev["overall"] if k.startswith(spec.name))
    mine, blend = ev["overall"][label], ev["overall"]["blend"]
    meta["validation"] = {
        "protocol": "vfi eval drop-frame (predict t from t-1, t+1) on clips never used in training",
        "clips": [Path(c["clip"]).name for c in ev["clips"]],
        "triplets": mine["triplets"],
        "psnr": round(mine["psnr"], 3), "ssim": round(mine["ssim"], 4), "abs_rbf": round(mine["abs_rbf"], 4),
        "psnr_blend": round(blend["psnr"], 3), "abs_rbf_blend": round(blend["abs_rbf"], 4),
        "psnr_mci": round(ev["overall"]["mci"]["psnr"], 3) if "mci" in ev["overall"] else None,
    }
    if args.notes:
        meta["notes"] = args.notes
    out = Path(args.out or Path(__file__).resolve().parents[2] / "weights" / f"{spec.name}.safetensors")
    save_weights(out, spec, model, meta)
    print(f"{out}: {json.dumps(meta['validation'])}")


if __name__ == "__main__":
    main()
