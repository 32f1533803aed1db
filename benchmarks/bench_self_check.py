"""The self-check measured offline (docs/flow_fusion_experiments.md, "A self-check from
the video itself"): does a frame of the pair, made from its own neighbours, say where
the cross-fade beats motion compensation?

For each triplet of `vfi eval`'s protocol (every 4th, at most 12 a clip, cuts and holds
skipped, the clip's own neighbours t-3 and t+3), the default's frame (flow-fusion as
shipped) is made once.  Then frame b of the pair is made from (a, after) and frame a from
(before, b), on copies at most 320 px wide, two ways: motion-compensated ("dis": DIS
ultrafast, both halfway along the straight path, averaged; "model": flow-fusion itself
at that size) and by the cross-fade.  Their mean squared errors against the real frame,
per block, decide how much of the pair's cross-fade goes into the made frame, by the
rules A-G of the document's table; each rule's PSNR change per clip is printed and
written to --json.

    . examples/recipes/corpus_split.sh
    python benchmarks/bench_self_check.py --json self_check.json "${val[@]}" "$C/birds.mp4" ...

About 2-4 minutes for the document's 24 clips on 2 cores.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from vfi.evaluate import _to_rgb, drop_frame_triplets, make_contenders
from vfi.flow import PairMotion, frame_tensor, usable_neighbour
from vfi.io.colour import ColorConverter
from vfi.io.reading import VideoReader
from vfi.metrics import psnr

WIDTH = 320
EPS = 4.0  # squared levels added to both errors before their ratio
# name: (proxy, blur sigma, block px, smoothing sigma in blocks, region ratio ramp, pair ratio ramp, fade-error ramp)
REGION_RULES = {
    "A": ("dis", 0.0, 16, 1.0, (1.0, 1.5), None, None),
    "B": ("dis", 0.0, 16, 1.0, (1.5, 3.0), None, None),
    "C": ("dis", 1.0, 32, 1.0, (1.5, 3.0), (1.0, 1.3), None),
    "D": ("model", 0.0, 8, 1.0, (1.5, 3.0), None, None),
    "E": ("dis", 0.0, 8, 1.0, (1.5, 3.0), None, (64.0, 128.0)),
}
# name: (proxy, lowest pair ratio, highest, share of the cross-fade over the whole frame)
BAND_RULES = {"F": ("model", 0.95, 1.05, 0.25), "G": ("model", 0.85, 1.05, 0.25)}


def small(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    return x if w <= WIDTH else cv2.resize(x, (WIDTH, max(16, round(h * WIDTH / w))), interpolation=cv2.INTER_AREA)


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def block_errors(made, truth, fade, blur: float, block: int) -> np.ndarray:
    """(2, gh, gw): mean squared error per block of ``made`` and of ``fade`` against ``truth``."""
    truth = truth.astype(np.float32)
    errs = [x.astype(np.float32) - truth for x in (made, fade)]
    if blur > 0:
        errs = [cv2.GaussianBlur(e, (0, 0), blur) for e in errs]
    h, w = truth.shape
    size = (-(-w // block), -(-h // block))
    return np.stack([cv2.resize(e * e, size, interpolation=cv2.INTER_AREA) for e in errs])


def dis_made(g0, g2):
    """g1 made from g0 and g2: DIS ultrafast both ways, each carried halfway along the straight path."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    f02, f20 = dis.calc(g0, g2, None), dis.calc(g2, g0, None)
    h, w = g0.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    half = 0.25 * (f20 - f02)  # F_t0 at t = 1/2 (Super SloMo's blend of the two flows); F_t2 is its negative
    w0 = cv2.remap(g0, gx + half[..., 0], gy + half[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    w2 = cv2.remap(g2, gx - half[..., 0], gy - half[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (w0.astype(np.float32) + w2) * 0.5


def model_made(method, r0, r2):
    """g1 made from r0 and r2 by the default model itself (straight paths), as grey."""
    g0, g2 = grey(r0), grey(r2)
    with torch.inference_mode():
        motion = PairMotion(method.flow.flow(g0, g2), method.flow.flow(g2, g0), r0.shape[:2], kind=method.kind,
                            grey0=g0, grey1=g2, device=method.model.device)
        (t0, levels), (t2, _) = (frame_tensor(x, method.model.device) for x in (r0, r2))
        return grey(method._frame(t0, t2, motion, 0.5, levels))


def checks(method, frames, proxy: str, blur: float, block: int) -> list[np.ndarray]:
    out = []
    for r0, r1, r2 in frames:
        g0, g1, g2 = grey(r0), grey(r1), grey(r2)
        made = dis_made(g0, g2) if proxy == "dis" else model_made(method, r0, r2)
        out.append(block_errors(made, g1, (g0.astype(np.float32) + g2) * 0.5, blur, block))
    return out


def ramp(x, lo_hi):
    lo, hi = lo_hi
    return np.clip((x - lo) / (hi - lo), 0, 1)


def region_weight(errs: list[np.ndarray], sigma: float, ratio, pair, change) -> np.ndarray | None:
    if not errs:
        return None
    total = sum(errs)
    total = np.stack([cv2.GaussianBlur(p, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE) for p in total])
    w = ramp((total[0] + EPS) / (total[1] + EPS), ratio)
    if pair is not None:
        w = w * ramp(float(total[0].sum() + EPS) / float(total[1].sum() + EPS), pair)
    if change is not None:
        w = w * ramp(total[1], change)
    return w if w.max() > 0 else None


def mixed(pred, fade, w) -> np.ndarray:
    p = pred.astype(np.float32)
    if np.ndim(w):
        w = cv2.resize(w.astype(np.float32), pred.shape[1::-1], interpolation=cv2.INTER_LINEAR)[..., None]
    return np.clip(np.round(p + w * (fade - p)), 0, 255).astype(np.uint8)


def clip_changes(method, path: str, every: int = 4, max_triplets: int = 12) -> dict:
    rules = {**REGION_RULES, **BAND_RULES}
    changes = {name: [] for name in rules}
    base, blend = [], []
    with VideoReader(path) as reader:
        conv = ColorConverter(reader.info.pix_fmt, reader.info.color, reader.info.height)
        method.setup(conv)
        for tri in drop_frame_triplets(reader, conv, every=every, max_triplets=max_triplets):
            a, b, before, after, truth, ra, rb = tri.a, tri.b, tri.before, tri.after, tri.truth, tri.prev, tri.next
            pred = _to_rgb(method.interpolate(a, b, [0.5], before=before, after=after)[0], conv)
            fade = (ra.astype(np.float32) + rb) * 0.5
            p0 = psnr(pred, truth)
            base.append(p0)
            blend.append(psnr(np.round(fade).astype(np.uint8), truth))
            g = lambda sf: method.flows.grey(sf, conv)  # noqa: E731
            trips = []
            if after is not None and usable_neighbour(g(after), g(b)):
                trips.append((a, b, after))
            if before is not None and usable_neighbour(g(before), g(a)):
                trips.append((before, a, b))
            frames = [tuple(small(x.rgb(conv)) for x in t) for t in trips]
            for name, (proxy, blur, block, sigma, ratio, pair, change) in REGION_RULES.items():
                w = region_weight(checks(method, frames, proxy, blur, block), sigma, ratio, pair, change)
                changes[name].append(0.0 if w is None else psnr(mixed(pred, fade, w), truth) - p0)
            for name, (proxy, lo, hi, share) in BAND_RULES.items():
                errs = checks(method, frames, proxy, 0.0, 16)
                r = np.mean([float(e[0].mean() + EPS) / float(e[1].mean() + EPS) for e in errs]) if errs else None
                fires = r is not None and lo <= r < hi
                changes[name].append(psnr(mixed(pred, fade, share), truth) - p0 if fires else 0.0)
    return {"triplets": len(base), "blend": float(np.mean(blend)), "flow-fusion": float(np.mean(base)),
            "changes": {name: float(np.mean(v)) for name, v in changes.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--json", help="write the per-clip results here")
    args = ap.parse_args()
    (contender,) = make_contenders([], [("flow-fusion", None)], device="cpu")
    results = {}
    names = [*REGION_RULES, *BAND_RULES]
    print("clip | triplets | blend | flow-fusion | " + " | ".join(names))
    for path in args.clips:
        r = results[path] = clip_changes(contender.method, path)
        print(f"{path.rsplit('/', 1)[-1]} | {r['triplets']} | {r['blend']:.2f} | {r['flow-fusion']:.2f} | "
              + " | ".join(f"{r['changes'][n]:+.3f}" for n in names), flush=True)
    for n in names:
        v = [r["changes"][n] for r in results.values()]
        print(f"{n}: mean {np.mean(v):+.3f}, worst {min(v):+.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
