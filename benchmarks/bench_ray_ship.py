"""What --ray-ship costs: on a local Ray cluster (2 CPUs, started here), the time to put
the input in the object store, for the first task on the node to write the job's copy
and for later tasks to find it, then the wall time of `vfi upsample --factor 2 --method
blend --codec ffv1 --chunk-seconds 2` with `--ray-ship never` (the input read from its
path) and `always`, rounds alternating, the copies of the input each job wrote and
reused (from its log), and whether both outputs have the same frames.

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
    """The driver's put and each task's look for the node's copy (the first writes it),
    timed alone, then the copy's removal."""
    from vfi.chunks import Tracker
    from vfi.ray_workers import _Shipping, input_on_node
    from vfi.shipped_input import remove_copies

    t = time.perf_counter()
    shipping = _Shipping(ray, clip, "always", Tracker([], None))
    print(f"put in the object store: {time.perf_counter() - t:.3f} s")

    @ray.remote(num_cpus=1)
    def copy_on_node(source):
        t = time.perf_counter()
        _, wrote = input_on_node(source)
        return time.perf_counter() - t, wrote

    copies = [ray.get(copy_on_node.remote(shipping.file)) for _ in range(6)]  # one after another
    print("the tasks' copy (s): " + ", ".join(f"{s:.3f} {'written' if wrote else 'reused'}" for s, wrote in copies))
    t = time.perf_counter()
    removed, warning = remove_copies(ray, shipping.file.key, {}, [])
    print(f"removed from {removed} node(s) in {time.perf_counter() - t:.3f} s" + (f"; {warning}" if warning else ""))


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
                    log = subprocess.run([sys.executable, "-m", "vfi", "upsample", args.clip, "-o", str(out), "-y", "--factor", "2",
                                          "--method", "blend", "--codec", "ffv1", "--chunk-seconds", "2",
                                          "--ray", info.address_info["gcs_address"], "--ray-ship", mode],
                                         check=True, stderr=subprocess.PIPE, text=True).stderr
                    took = time.perf_counter() - t
                    made = [line for line in log.splitlines() if ": made on Ray" in line]
                    written = sum("the input copied to" in line for line in made)
                    reused = sum(line.endswith("reused)") for line in made)
                    print(f"--ray-ship {mode}: {took:.1f} s, {len(made)} chunks, the input written {written}, reused {reused}, "
                          f"frames {frames_digest(out)}", flush=True)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
