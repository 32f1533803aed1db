"""Continuation checks for the quadratic paths measured offline (docs/flow_fusion_experiments.md,
"Paths with frames from elsewhere in the clip"): rules that would keep a path straight
where the frame beyond the pair does not continue its motion, each tried in place of
``PairMotion.trust`` on the same flows.

For each clip, `vfi eval`'s triplets (every 4th, at most 12 a clip, cuts and holds
skipped) with each kind of neighbours: the clip's own frames t-3 and t+3 ("true"), frames
from elsewhere in the clip ("jumped") and none (straight paths).  The default (flow-fusion
as shipped) makes every frame once per rule; the flows are computed once.  Per rule and
clip: the mean PSNR with each kind, written to --json; a summary per rule: the clips where
"jumped" is more than 0.02 dB under "none" (a) and where "true" is more than 0.03 dB under
today's rule (b).

    . examples/recipes/corpus_split.sh
    python benchmarks/bench_path_trust.py --json trust.json "${train[@]}" "${val[@]}"

About 2 minutes of flows for the 40 development clips on 2 cores, then about a minute a rule.
The pixel terms of the rules tried here are splat-grid pixels (2 frame pixels a cell on
frames up to 640 px wide, where every rule was measured); the shipped rule's are frame
pixels (`vfi.flow`).
"""

from __future__ import annotations

import argparse
import functools
import json

import numpy as np
import torch

import vfi.flow as F
from vfi import methods
from vfi.evaluate import _to_rgb, drop_frame_triplets, make_contenders
from vfi.io.colour import ColorConverter
from vfi.io.reading import VideoReader
from vfi.methods import FlowCache
from vfi.metrics import psnr

MODES = ("true", "jumped", "none")
TODAY = F.PairMotion.__dict__["trust"].func


def triplets(path: str, mode: str, every: int = 4, max_triplets: int = 12):
    """(conv, [(a, b, before, after, truth)]) as `vfi eval` takes them."""
    with VideoReader(path) as reader:
        info = reader.info
        conv = ColorConverter(info.pix_fmt, info.color, info.height)
        out = [(t.a, t.b, t.before, t.after, t.truth)
               for t in drop_frame_triplets(reader, conv, every=every, max_triplets=max_triplets, neighbours=mode)]
    return conv, out


def _with_neighbour_greys(motion_fn):
    """FlowFusionMethod.motion that also keeps the neighbours' grey copies (photometric rules)."""
    def motion(self, a, b, before=None, after=None):
        m = motion_fn(self, a, b, before, after)
        grey = lambda sf: F._grey(self.flows.grey(sf, self.conv), m.device)  # noqa: E731
        m.grey_before = grey(before) if m.f0b is not None else None
        m.grey_after = grey(after) if m.f1a is not None else None
        return m
    return motion


def _error(g: torch.Tensor, other: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    gx, gy = F._base_grid(*g.shape[-2:], g.device)
    return (g - F.kernels.remap(other, gx + flow[0, 0], gy + flow[0, 1], "bilinear")).abs_()


def _sides(m: F.PairMotion):
    """Per side: (pair's flow, flow to its neighbour, |s|, own grey, other grey, neighbour's grey)."""
    f01, f10, f0b, f1a, *_ = m._grid
    g0, g1 = m._greys
    grid = lambda g: None if g is None else F.kernels.resize(g.float(), m._grid_size, "area").round_()  # noqa: E731
    return ((f01, f0b, abs(m.s_before), g0, g1, grid(getattr(m, "grey_before", None))),
            (f10, f1a, m.s_after - 1, g1, g0, grid(getattr(m, "grey_after", None))))


def frame_gate(m: F.PairMotion, lo: float, hi: float, pixels: float = 0.25, stat: str = "mean", both: bool = False):
    """Per side, 0..1: 1 while the flow to the neighbour is at most lo x the pair's (times
    |s|) + pixels, 0 from hi x; ``both``: the smaller of the two for both sides."""
    size = (lambda f: F._norm(f).mean()) if stat == "mean" else (lambda f: F._norm(f).median())
    gates = []
    for fp, fn, s, *_ in _sides(m):
        if fn is None:
            gates.append(None)
            continue
        expected = size(fp) * s
        gates.append(1 - ((size(fn) - (lo * expected + pixels)) / ((hi - lo) * expected + 1e-6)).clamp(0, 1))
    if both and None not in gates:
        gates = [torch.minimum(*gates)] * 2
    return gates


def photometric(m: F.PairMotion, lo: float, hi: float, relative: float, box: int = 5):
    """Per side and point, 0..1: 1 where the flow to the neighbour matches (5 x 5 mean
    error, levels) within ``relative`` x the pair's own + lo, 0 from + hi; over the trust's region."""
    out = []
    for fp, fn, _, g, other, gn in _sides(m):
        if fn is None or gn is None:
            out.append(None)
            continue
        excess = F._box(_error(g, gn, fn), box) - relative * F._box(_error(g, other, fp), box)
        out.append(F._region(1 - F._ramp(excess, lo, hi)))
    return out


def photometric_frame(m: F.PairMotion, lo: float = 1.5, hi: float = 2.5, levels: float = 1.0):
    """Per side, 0..1: the frames' mean matching errors, 1 up to lo x the pair's + levels, 0 from hi x."""
    out = []
    for fp, fn, _, g, other, gn in _sides(m):
        if fn is None or gn is None:
            out.append(None)
            continue
        own, far = _error(g, other, fp).mean(), _error(g, gn, fn).mean()
        out.append(1 - ((far - (lo * own + levels)) / ((hi - lo) * own + 1e-6)).clamp(0, 1))
    return out


def two_sided(trust):
    """``trust``, but a side bends only when the other side has a frame to confirm it: a
    lone neighbour (a shot's first or last pair, a held frame beside the pair) keeps both
    paths straight."""
    def checked(self):
        t0, t1 = trust(self)
        f01, f10, f0b, f1a, *_ = self._grid
        if (f0b is None) != (f1a is None):
            return tuple(None if t is None else torch.zeros_like(t) for t in (t0, t1))
        return t0, t1
    return checked


def lone_size(trust, relative: float, pixels: float):
    """``trust``, but a lone side (no frame beyond the other side to confirm its bend)
    bends only as far as a stricter size test passes: its bend at most ``relative`` x the
    pair's own flow + ``pixels`` (falling to 0 at twice that)."""
    def checked(self):
        t0, t1 = trust(self)
        f01, f10, f0b, f1a, *_ = self._grid
        if (f0b is None) == (f1a is None):
            return t0, t1
        if f0b is not None:
            c = F._bend(f01, 1.0, f0b, self.s_before)
            return t0 * F._agreement(c, torch.zeros_like(c), f01, relative, pixels), t1
        c = F._bend(f10, -1.0, f1a, self.s_after - 1)
        return t0, t1 * F._agreement(c, torch.zeros_like(c), f10, relative, pixels)
    return checked


def rule(*factors):
    """A trust: today's, times each factor's per-side values."""
    def trust(self):
        t = list(TODAY(self))
        if t == [None, None] or self._greys is None:
            return tuple(t)
        for make in factors:
            for i, f in enumerate(make(self)):
                if t[i] is not None and f is not None:
                    t[i] = t[i] * (f.view(1, 1, 1, 1) if f.dim() == 0 else f)
        return tuple(t)
    return trust


RULES = {
    "today": TODAY,
    "fg 2-3": rule(lambda m: frame_gate(m, 2, 3)),
    "fg 1.5-2.5": rule(lambda m: frame_gate(m, 1.5, 2.5)),
    "fg 2-3, both": rule(lambda m: frame_gate(m, 2, 3, both=True)),
    "fg 3-4": rule(lambda m: frame_gate(m, 3, 4)),
    "fg 2.5-4": rule(lambda m: frame_gate(m, 2.5, 4)),
    "fg 2-3, px 0.5": rule(lambda m: frame_gate(m, 2, 3, pixels=0.5)),
    "fg 2-3, median": rule(lambda m: frame_gate(m, 2, 3, stat="median")),
    "photo 2-6, r 1": rule(lambda m: photometric(m, 2, 6, 1.0)),
    "photo 1-3, r 1": rule(lambda m: photometric(m, 1, 3, 1.0)),
    "photo 3-9, r 1.5": rule(lambda m: photometric(m, 3, 9, 1.5)),
    "photo 4-12, r 2": rule(lambda m: photometric(m, 4, 12, 2.0)),
    "photo 2-6, r 1 + fg 2-3 both": rule(lambda m: frame_gate(m, 2, 3, both=True), lambda m: photometric(m, 2, 6, 1.0)),
    "photo 4-12, r 2 + fg 2-3 both": rule(lambda m: frame_gate(m, 2, 3, both=True), lambda m: photometric(m, 4, 12, 2.0)),
    "photo 4-12, r 2 + fg 2.5-4": rule(lambda m: frame_gate(m, 2.5, 4), lambda m: photometric(m, 4, 12, 2.0)),
    "photo 2-6, r 1 + fg 2.5-4": rule(lambda m: frame_gate(m, 2.5, 4), lambda m: photometric(m, 2, 6, 1.0)),
    "photo frame + fg 2-3 both": rule(lambda m: frame_gate(m, 2, 3, both=True), photometric_frame),
    "two-sided": two_sided(TODAY),
    "lone 0.5x + 0.1 px": lone_size(TODAY, 0.5, 0.1),
    "lone 0.25x + 0.05 px": lone_size(TODAY, 0.25, 0.05),
    "two-sided + fg 2-3 both": two_sided(rule(lambda m: frame_gate(m, 2, 3, both=True))),
    "two-sided + photo 4-12, r 2 + fg 2-3 both": two_sided(rule(lambda m: frame_gate(m, 2, 3, both=True),
                                                                 lambda m: photometric(m, 4, 12, 2.0))),
}


def use(trust) -> None:
    prop = functools.cached_property(trust)
    prop.__set_name__(F.PairMotion, "trust")
    F.PairMotion.trust = prop


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--rules", default=";".join(RULES), help="names separated by ';' (default: all)")
    p.add_argument("--json", dest="json_path")
    args = p.parse_args()
    names = ["today"] + [n.strip() for n in args.rules.split(";") if n.strip() not in ("today", "")]
    unknown = [n for n in names if n not in RULES]
    if unknown:
        p.error(f"unknown rules: {', '.join(unknown)} (known: {'; '.join(RULES)})")
    methods.FlowFusionMethod.motion = _with_neighbour_greys(methods.FlowFusionMethod.motion)
    method = make_contenders([], [("flow-fusion", None)], device="cpu")[0].method
    data = {(c, mode): triplets(c, mode) for c in args.clips for mode in MODES}
    caches = {}

    def run(clip, mode):
        conv, trips = data[(clip, mode)]
        method.setup(conv)
        method.flows = caches.setdefault(clip, FlowCache(method.flow, keep=10 ** 6))
        return [psnr(_to_rgb(method.interpolate(a, b, [0.5], before=before, after=after)[0], conv), truth)
                for a, b, before, after, truth in trips]

    none = {c: run(c, "none") for c in args.clips}  # no frames around the pair: no rule changes it
    results = {}
    for name in names:
        use(RULES[name])
        results[name] = {c: {"true": run(c, "true"), "jumped": run(c, "jumped"), "none": none[c]} for c in args.clips}
        if args.json_path:
            with open(args.json_path, "w") as f:
                json.dump(results, f)
    use(TODAY)
    mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
    today = results["today"]
    for name, r in results.items():
        a = {c: mean(r[c]["jumped"]) - mean(r[c]["none"]) for c in args.clips}
        b = {c: mean(r[c]["true"]) - mean(today[c]["true"]) for c in args.clips}
        every = lambda k: mean([x for c in args.clips for x in r[c][k]])  # noqa: E731
        print(f"{name}: true {every('true'):.3f}, jumped {every('jumped'):.3f}, none {every('none'):.3f}; "
              f"(a) fails {sum(v < -0.02 for v in a.values())}, jumped - none mean {np.mean(list(a.values())):+.3f}; "
              f"(b) fails {sum(v < -0.03 for v in b.values())}, true change mean {np.mean(list(b.values())):+.4f}")
        for c in args.clips:
            if a[c] < -0.02 or b[c] < -0.03:
                print(f"    {c}: jumped - none {a[c]:+.3f}, true change {b[c]:+.3f}")


if __name__ == "__main__":
    main()
