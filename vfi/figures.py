"""The pictures people expect from training and evaluation (paper 000's Figures 3-5):
loss curves, a fixed example's prediction per epoch, predicted-vs-truth sheets."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def loss_curve(history: list[dict], path: Path, loss_name: str, model_name: str) -> None:
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    trained = [h for h in history if h["train_loss"] is not None]
    ax.plot([h["epoch"] for h in trained], [h["train_loss"] for h in trained], "o-", label="train")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{loss_name} loss")
    ax.set_title(f"{model_name}: loss per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def predict_triplet(model, spec, data, t: int, device, crop: int | None = 256):
    """(previous, predicted, truth, next) as uint8 images for one dataset triplet, the
    prediction made on whole frames by the model's adapter; the centre ``crop`` pixels
    shown."""
    import torch  # here, so that the plots of vfi blur-report start without PyTorch

    model.eval()
    a, m, b = data.frames(t)
    with torch.no_grad():
        y = spec.adapter.predict(model, data, t, device) * (255.0 / spec.adapter.levels)
    pred = np.clip(np.nan_to_num(y), 0, 255).round().astype(np.uint8)  # a diverged model draws black, not a warning
    if crop:
        h, w = a.shape[:2]
        y0, x0 = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
        a, pred, m, b = (f[y0: y0 + crop, x0: x0 + crop] for f in (a, pred, m, b))
    return a, pred, m, b


def _show(ax, img, title):
    ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=255)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def triplet_figure(model, spec, data, t: int, device, path: Path, title: str = "") -> None:
    a, pred, m, b = predict_triplet(model, spec, data, t, device)
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4), dpi=100)
    for ax, img, name in zip(axes, (a, pred, m, b), ("frame t-1", "predicted t", "true t", "frame t+1")):
        _show(ax, img, name)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def prediction_sheet(model, spec, data, val_idx, device, path: Path, rows: int = 4) -> None:
    """Predicted beside ground truth for a few validation triplets (paper 000, Fig. 5)."""
    picks = [int(val_idx[int(i)]) for i in np.linspace(0, len(val_idx) - 1, min(rows, len(val_idx)))]
    fig, axes = plt.subplots(len(picks), 2, figsize=(7, 3 * len(picks)), dpi=100, squeeze=False)
    for row, t in zip(axes, picks):
        _, pred, m, _ = predict_triplet(model, spec, data, t, device)
        mse = float(np.mean((pred.astype(np.float64) - m) ** 2))
        _show(row[0], pred, f"predicted (MSE {mse:.1f})")
        _show(row[1], m, "ground truth")
    fig.suptitle(f"{spec.name}: validation predictions")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
