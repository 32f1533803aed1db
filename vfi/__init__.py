"""vfi: video frame interpolation from the command line or from Python."""

__version__ = "0.3.0"
