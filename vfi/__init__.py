"""vfi: video frame interpolation from the command line or from Python."""

import os

# PyTorch's OpenMP threads sleep when idle instead of spinning: between the many small
# parallel regions of flow-fusion's tiles, spinning threads took the cores from the
# decoder, the flow pool and the encoder (a 4K job with one model stream on 2 busy cores:
# 445 s of CPU instead of 75).  Read when PyTorch loads; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.3.0"


def __getattr__(name):
    # Loaded on first use: ``import vfi`` stays light (no PyTorch) for the CLI's --help.
    if name == "Interpolator":
        from .frames_api import Interpolator

        return Interpolator
    raise AttributeError(f"module 'vfi' has no attribute {name!r}")
