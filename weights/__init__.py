"""Trained weights shipped with vfi (installed as the ``vfi.weights`` package)."""
