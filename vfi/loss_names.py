"""The names of the training losses (:mod:`vfi.losses`), importable without PyTorch so
that the command line can offer them and still start quickly."""

# the plain losses, then the ones built from them
PLAIN_LOSSES = ("mse", "msle", "cosine", "log-mse", "charbonnier")
LOSS_NAMES = (*PLAIN_LOSSES, "blur", "log-mse-blur", "charbonnier-blur", "no-worse-than-blend")
