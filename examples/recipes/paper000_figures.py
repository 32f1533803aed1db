"""Paper 000's figures from a `vfi train` run folder:

* Figure 4 (loss curve): the run's loss_curve.png;
* Figure 3 (improvement over epochs on one example): the fixed validation triplet's
  prediction at several epochs, stacked;
* Figure 5 (predictions beside ground truth): the run's predictions.png.

    python examples/recipes/paper000_figures.py RUN_DIR OUT_DIR
"""

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(run: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "loss_curve.png", out / "paper000_fig4_loss_curve.png")
    shutil.copy(run / "predictions.png", out / "paper000_fig5_predictions.png")
    epochs = sorted(run.glob("epoch_*.png"))
    if not epochs:
        raise SystemExit(f"{run}: no epoch_NNN.png files")
    picks = sorted({0, len(epochs) // 8, len(epochs) // 4, len(epochs) // 2, len(epochs) - 1})
    rows = [np.asarray(Image.open(epochs[i]).convert("RGB")) for i in picks]
    width = min(r.shape[1] for r in rows)
    Image.fromarray(np.concatenate([r[:, :width] for r in rows], axis=0)).save(out / "paper000_fig3_epochs.png")
    print(f"figures written to {out} (epochs {[epochs[i].stem for i in picks]})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
