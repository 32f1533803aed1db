"""What --ray-ship costs: on a local Ray cluster (2 CPUs, started here), the time to put
the input in the object store and for a task to write its copy, then the wall time of
`vfi upsample --factor 2 --method blend --codec ffv1 --chunk-seconds 2` with `--ray-ship
never` (the input read from its path) and `always`, rounds alternating, and whether
both outputs have the same frames.

    python benchmarks/bench_ray_ship.py [CLIP] [--rounds 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent


def frames_digest(path: Path) -> str:
    h = hashlib.sha256()
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            h.update(str(f.pts).encode())
            h.update(f.to_ndarray(format="rgb24").tobytes())
    return h.hexdigest()[:16]


def shipping_parts(ray, clip: str) -> None:
    """The driver's put and each task's copy, timed alone."""
    from vfi.chunks import Tracker
    from vfi.ray_workers import _Shipping, input_on_node

    t = time.perf_counter()
    shipping = _Shipping(ray, clip, "always", Tracker([], None))
    print(f"put in the object store: {time.perf_counter() - t:.3f} s")

    @ray.remote(num_cpus=1)
    def copy_on_node(source):
        with tempfile.TemporaryDirectory() as here:
            t = time.perf_counter()
            input_on_node(source, here)
            return time.perf_counter() - t

    copies = ray.get([copy_on_node.remote(shipping.file) for _ in range(6)])
    print("a task's copy (s): " + ", ".join(f"{s:.3f}" for s in copies))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clip", nargs="?", default=str(ROOT / "examples" / "bbb_320x180.mp4"))
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH")) if x)
    print(f"{args.clip}: {os.path.getsize(args.clip) / 1e6:.1f} MB")
    info = ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    try:
        shipping_parts(ray, args.clip)
        with tempfile.TemporaryDirectory() as d:
            for _ in range(args.rounds):
                for mode in ("never", "always"):
                    out = Path(d) / f"{mode}.mkv"
                    t = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "vfi", "upsample", args.clip, "-o", str(out), "-y", "-q", "--factor", "2",
                                    "--method", "blend", "--codec", "ffv1", "--chunk-seconds", "2",
                                    "--ray", info.address_info["gcs_address"], "--ray-ship", mode], check=True)
                    print(f"--ray-ship {mode}: {time.perf_counter() - t:.1f} s, frames {frames_digest(out)}", flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
