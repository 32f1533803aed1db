"""vfi: video frame interpolation from the command line or from Python."""

__version__ = "0.3.0"


def __getattr__(name):
    # Loaded on first use: ``import vfi`` stays light (no PyTorch) for the CLI's --help.
    if name == "Interpolator":
        from .frames_api import Interpolator

        return Interpolator
    raise AttributeError(f"module 'vfi' has no attribute {name!r}")
