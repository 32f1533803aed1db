"""The sparse CNN beside the linear blend on a few clips: PSNR gain over the blend and
the mean error per RGB channel (prediction minus truth, levels), with the blend's own.
This is how the shipped sparse-cnn weights were chosen on the validation clips
(docs/experiments_session8.md): triplets (t-1, t, t+1), every 3rd, frame holds
skipped, 20 per clip.

    python examples/sparse_cnn_vs_blend.py WEIGHTS CLIP... [--triplets 20] [--every 3]
"""

import argparse

import numpy as np

from vfi.evaluate import _to_rgb, _triplets_in_context
from vfi.methods import Blend, model_method
from vfi.metrics import psnr
from vfi.models import load_interpolator
from vfi.scenes import is_hold
from vfi.video import ColorConverter, VideoReader


def compare(weights: str, clip: str, triplets: int, every: int) -> dict:
    model, blend = model_method(load_interpolator("sparse-cnn", weights, device="cpu"), depth=1), Blend()
    gains, errors, blend_errors = [], [], []
    with VideoReader(clip) as reader:
        conv = ColorConverter(reader.info.pix_fmt, reader.info.color, reader.info.height)
        model.setup(conv)
        blend.setup(conv)
        for position, (_, a, mid, b, _, _) in enumerate(_triplets_in_context(reader.frames())):
            if position % every:
                continue
            truth = mid.rgb(conv)
            if is_hold(a.rgb(conv), truth) or is_hold(truth, b.rgb(conv)):
                continue
            ours, theirs = (_to_rgb(m.interpolate(a, b, [0.5])[0], conv) for m in (model, blend))
            gains.append(psnr(ours, truth) - psnr(theirs, truth))
            errors.append((ours.astype(np.float64) - truth).mean(axis=(0, 1)))
            blend_errors.append((theirs.astype(np.float64) - truth).mean(axis=(0, 1)))
            if len(gains) >= triplets:
                break
    return {"triplets": len(gains), "gain_db": float(np.mean(gains)),
            "mean_error": np.mean(errors, axis=0), "blend_mean_error": np.mean(blend_errors, axis=0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--triplets", type=int, default=20)
    ap.add_argument("--every", type=int, default=3)
    args = ap.parse_args()
    for clip in args.clips:
        r = compare(args.weights, clip, args.triplets, args.every)
        print(f"{clip}: {r['triplets']} triplets, {r['gain_db']:+.3f} dB over the blend, mean error (R, G, B) "
              f"{np.array2string(r['mean_error'], precision=2)}, the blend's {np.array2string(r['blend_mean_error'], precision=2)}")


if __name__ == "__main__":
    main()
