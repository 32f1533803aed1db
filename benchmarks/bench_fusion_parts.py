"""What each part of flow-fusion earns, in PSNR, against the plain two-frame warp
(docs/flow_fusion_experiments.md, "What each part earns against the plain warp").

On `vfi eval`'s triplets (every 4th, at most 12 a clip, cuts and holds skipped) with no
frames around the pair, so that the paths are straight and only the fusion differs, the
frame between t-1 and t+1 is made by:

* `dis`: `--method dis` (straight flows blended as Super SloMo does, warps mixed (1 - t) : t);
* `flow-fusion`: the default as shipped;
* `no cross-fade`: without the cross-fade where content changes in place;
* `no detail`: the network's detail choice off (its weight forced to 0);
* `no network`: the network off (its mask at (1 - t) : t, no detail, no residual): the
  default's warps mixed as `dis` mixes them, with the cross-fade where content changes;
* `no network, no cross-fade`: the same without that cross-fade.

flow-fusion's flows are computed once per triplet (`dis` computes its own); the variants
only change what follows.  Per clip
the mean PSNR of each is printed, and the mean over the clips; --json keeps them.

    . examples/recipes/corpus_split.sh
    python benchmarks/bench_fusion_parts.py --json parts.json "${train[@]}" "${val[@]}"

About 15 minutes for the 40 development clips on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from vfi import flow
from vfi.evaluate import drop_frame_triplets
from vfi.io.colour import ColorConverter
from vfi.io.reading import VideoReader
from vfi.methods import DisWarp, FlowFusionMethod
from vfi.metrics import psnr
from vfi.models import load_interpolator

# name: (the network's decisions used as they are, detail choice, residual, cross-fade where changed)
VARIANTS = {
    "flow-fusion": ("network", True, True, True),
    "no cross-fade": ("network", True, True, False),
    "no detail": ("network", False, True, True),
    "no network": ("mix", False, False, True),
    "no network, no cross-fade": ("mix", False, False, False),
}


class FusionSwitch:
    """The shipped network's ``combine`` with parts of its decisions switched off:
    channel 0 the mask's logit (0: (1 - t) : t), 1 the detail choice's (very negative:
    none), 2-4 the residual."""

    def __init__(self, net):
        self.net, self.combine = net, net.combine
        self.variant = VARIANTS["flow-fusion"]
        net.combine = self

    def __call__(self, w0, w1, t, out):
        mask, detail, residual, _ = self.variant
        if (mask, detail, residual) != ("network", True, True):
            out = out.clone()
            if mask == "mix":
                out[:, 0] = 0
            if not detail:
                out[:, 1] = -30.0
            if not residual:
                out[:, 2:5] = 0
        return self.combine(w0, w1, t, out)


def measure_clip(path: str, method: FlowFusionMethod, switch: FusionSwitch) -> dict[str, float]:
    reader = VideoReader(path)
    conv = ColorConverter(reader.info.pix_fmt, reader.info.color, reader.info.height)
    method.setup(conv)
    dis = DisWarp()
    dis.setup(conv)
    scores: dict[str, list[float]] = {name: [] for name in ["dis", *VARIANTS]}
    try:
        for tr in drop_frame_triplets(reader, conv, every=4, max_triplets=12, neighbours="none"):
            scores["dis"].append(psnr(dis.interpolate(tr.a, tr.b, [0.5])[0], tr.truth))
            for name, variant in VARIANTS.items():
                switch.variant = variant
                flow.CHANGE_FALLBACK = variant[3]
                scores[name].append(psnr(method.interpolate(tr.a, tr.b, [0.5])[0], tr.truth))
    finally:
        flow.CHANGE_FALLBACK = True
        method.close()
        reader.close()
    return {name: float(np.mean(v)) for name, v in scores.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    interp = load_interpolator("flow-fusion", precision="fp32")
    switch = FusionSwitch(interp.model)
    method = FlowFusionMethod(interp)
    results = {}
    for path in args.clips:
        r = results[os.path.basename(path)] = measure_clip(path, method, switch)
        print(f"{os.path.basename(path):38s} " + "  ".join(f"{k} {v:.2f}" for k, v in r.items()), flush=True)
    names = ["dis", *VARIANTS]
    means = {k: float(np.mean([r[k] for r in results.values() if k in r])) for k in names}
    print(f"{'mean of ' + str(len(results)) + ' clips':38s} " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"clips": results, "mean": means}, f, indent=1)


if __name__ == "__main__":
    main()
