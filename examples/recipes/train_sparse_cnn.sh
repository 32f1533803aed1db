#!/usr/bin/env bash
# How weights/sparse-cnn.safetensors was made after 0.3.0: 2 CPU cores, no GPU, ~35 minutes.
#
#   bash examples/recipes/train_sparse_cnn.sh [WORK_DIR]
#
# Needs ../shared/corpus and this repository's git history (the starting weights are
# 0.3.0's, kept in the history at commit 2662cd3). The corpus split is flow-fusion's
# (examples/recipes/train_flow_fusion.sh): 35 clips train, 5 validate (every choice: epochs,
# losses, learning rates), the 8 held-out clips only measure. One caveat: 0.3.0's
# weights were trained on balle-jbart, one of the 8; the README says so beside its row.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-runs/sparse-cnn}
mkdir -p "$W"
. examples/recipes/corpus_split.sh
vfi prep "${train[@]}" -o "$W/train" --max-width 640 --max-frames 200 --split segments --val 0.02 --overwrite
vfi prep "${val[@]}" -o "$W/val" --max-width 640 --max-frames 200 --val 0.99 --overwrite
git show 2662cd3:weights/sparse-cnn.safetensors > "$W/sparse-cnn-0.3.0.safetensors"
# Stage 1: the blend pass-through of 0.3.0's weights put back exactly and held there
# (--init residual), the correction fine-tuned on the wider corpus for minus the mean PSNR.
vfi train --model sparse-cnn --init residual --loss log-mse --from-weights "$W/sparse-cnn-0.3.0.safetensors" \
  --data "$W/train" --val-data "$W/val" --max-val 30 --epochs 6 --lr 2e-4 --schedule cosine -o "$W/stage1" --overwrite
# Stage 2: the shipped recipe (vfi models): no worse than the blend, adding no light.
vfi train --model sparse-cnn --data "$W/train" --val-data "$W/val" --max-val 30 \
  --from-weights "$W/stage1/sparse-cnn.best.safetensors" -o "$W/stage2" --overwrite
# Held-out comparison, then the shipped file with its figures in the metadata.
vfi eval "${heldout[@]}" --methods blend \
  --model sparse-cnn --weights "$W/stage2/sparse-cnn.best.safetensors" --every 4 --max-triplets 12 \
  --json "$W/eval.json" --markdown "$W/eval.md"
python examples/recipes/finalize_weights.py "$W/stage2/sparse-cnn.best.safetensors" "$W/eval.json" --out "$W/sparse-cnn.safetensors"
python examples/recipes/paper000_figures.py "$W/stage2" docs/img
