"""End to end: `vfi upsample --factor 2` synthesised frames/s on a real clip, as a
ratio to the model-alone frames/s at the same size measured in the same run: every
end-to-end round is measured between two model-alone runs (so a busy spell on a shared
machine hits both sides), and the median of the rounds' ratios is the figure.

    python benchmarks/bench_e2e.py [CLIP] [--method flow-fusion] [--rounds 3] [--preset veryfast]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import torch

from vfi.engine import SYNTH, Job, Observer, run
from vfi.models import load_interpolator
from vfi.pipeline import ModelStreams, cpu_streams
from vfi.io.encoding import EncodeOptions
from vfi.io.reading import VideoReader


class SynthClock(Observer):
    """When each synthesised frame left the engine (in output order)."""

    def __init__(self):
        self.times: list[float] = []

    def frame(self, index, kind, rgb, a, b, t) -> None:
        if kind == SYNTH:
            self.times.append(time.perf_counter())

    def rate(self, skip: int = 10) -> float:
        ts = self.times[skip - 1:]
        return (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else float("nan")


def main():
    from vfi.io.colour import ColorConverter

    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(Path(__file__).resolve().parent.parent / "examples" / "bbb_320x180.mp4"))
    ap.add_argument("--method", default="flow-fusion")
    ap.add_argument("--pairs", type=int, default=24, help="model-alone: this many of the clip's frame pairs per round")
    ap.add_argument("--rounds", type=int, default=3, help="end-to-end rounds, each between two model-alone runs")
    ap.add_argument("--streams", type=int, default=None, help="model streams (default: vfi's, 2 on 2+ cores)")
    ap.add_argument("--preset", default=None, help="encoder preset for the end-to-end run (default: vfi's, veryfast for x264)")
    args = ap.parse_args()
    with VideoReader(args.clip) as r:
        conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
        frames = [conv.to_rgb(sf.frame) for _, sf in zip(range(args.pairs + 1), r.frames())]
        w, h = r.info.width, r.info.height
    interp = load_interpolator(args.method, device="cpu")
    if interp.spec.takes_t:  # flow-fusion: two flows and one fusion at t = 1/2 per pair, as the job does it
        from vfi.methods import FlowFusionMethod
        from vfi.io.colour import ColorSpec
        from vfi.io.frames import SourceFrame

        rgb_conv = ColorConverter("rgb24", ColorSpec(), h)

        def predict(a, b):
            # a fresh method per pair: both flows computed, as the job computes two per pair
            m = FlowFusionMethod(interp)
            m.setup(rgb_conv)
            sa, sb = (SourceFrame(i, Fraction(i), av.VideoFrame.from_ndarray(x, format="rgb24")) for i, x in enumerate((a, b)))
            return m.interpolate(sa, sb, [0.5])[0]
    else:
        predict = interp.predict
    predict(frames[0], frames[1])  # warm-up

    # The model alone runs the way the job runs it: on a multi-core CPU, as many frame
    # pairs at once as the job has model streams (vfi.pipeline.cpu_streams).
    n_streams, per_stream = cpu_streams(args.streams)
    pool = ModelStreams(n_streams, per_stream) if n_streams > 1 else None
    pairs = list(zip(frames[:-1], frames[1:]))

    def model_alone() -> float:
        t0 = time.perf_counter()
        if pool is not None:
            pool.map(lambda p: predict(*p), pairs)
        else:
            for a, b in pairs:
                predict(a, b)
        return len(pairs) / (time.perf_counter() - t0)

    # Each end-to-end run sits between two model-alone measurements, and its ratio is
    # taken to their mean: the machine's speed drifts by tens of percent from minute to
    # minute, and this sandwich cancels most of it; the median over rounds is the figure.
    alone, e2e, ratios, last = [model_alone()], [], [], None
    steady, steady_ratios = [], []
    for _ in range(args.rounds):
        clock = SynthClock()
        with tempfile.TemporaryDirectory() as tmp:
            last = run(Job(input=args.clip, output=str(Path(tmp) / "out.mp4"), factor=Fraction(2), method=args.method, overwrite=True,
                           encode=EncodeOptions(preset=args.preset), streams=args.streams), [clock])
        e2e.append(last.synthesised / last.seconds)
        steady.append(clock.rate())
        alone.append(model_alone())
        around = (alone[-2] + alone[-1]) / 2
        ratios.append(e2e[-1] / around)
        steady_ratios.append(steady[-1] / around)
    print(f"clip {args.clip} ({w}x{h}), torch {torch.get_num_threads()} threads in {n_streams} model stream(s), precision {interp.precision}, "
          f"encoder preset {args.preset or 'default'}, "
          f"model tile {interp._tile_size(h, w) or 'none'}")
    print("model alone (predict() on the clip's first pairs, RGB<->tensor included), frames/s: "
          + ", ".join(f"{x:.2f}" for x in alone))
    print(f"end to end (vfi upsample --factor 2, {last.synthesised} synthesised frames, start-up included), frames/s per round: "
          + ", ".join(f"{x:.2f}" for x in e2e))
    print("end to end, steady state (from the 10th synthesised frame to the last, emitted in order), frames/s per round: "
          + ", ".join(f"{x:.2f}" for x in steady))
    print("last round's profile: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(last.profile.items())) + f" of {last.seconds:.2f}s")
    print(f"ratio end-to-end / model-alone (the mean of the measurements either side), median of {args.rounds} rounds: "
          f"{statistics.median(ratios):.3f} (target >= 0.9); per round: " + ", ".join(f"{r:.2f}" for r in ratios)
          + f"; best of each: {max(e2e) / max(alone):.3f}")
    print(f"steady-state ratio, median of {args.rounds} rounds: {statistics.median(steady_ratios):.3f}; per round: "
          + ", ".join(f"{r:.2f}" for r in steady_ratios))


if __name__ == "__main__":
    main()
