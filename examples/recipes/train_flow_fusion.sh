#!/usr/bin/env bash
# How weights/flow-fusion.safetensors was made (2 CPU cores, no GPU).
#
#   bash examples/recipes/train_flow_fusion.sh [WORK_DIR]
#
# Needs ../shared/corpus (fetch.sh rebuilds it). The corpus is split three ways, once,
# before any training or choice:
#   training (35 clips): everything not below;
#   validation (5 clips, every choice made on these): cup, pens, blupi_play110,
#     lebiniou-2021-06-10_12-24-29, vispy_cube;
#   held out (8 clips, the README's table only): carphone_pristine, bikes, box,
#     bigbuckbunny, balle-jbart, gnome-tetravex-video, lebiniou-2021-06-10_12-28-28,
#     blupi_win129.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${1:-runs/flow-fusion}
mkdir -p "$W"
. examples/recipes/corpus_split.sh
# Frames at most 640 wide (as the flow sees them), windows of 2 and 3 frames (t = 1/2,
# 1/3, 2/3) starting every 2nd frame, with the flow both ways and to the frames as far
# again on either side (quadratic paths) stored once.
vfi prep "${train[@]}" -o "$W/train" --preset flow --max-width 640 --max-frames 300 --spans 2,3 --every 2 --val 0.05 --overwrite
vfi prep "${val[@]}" -o "$W/val" --preset flow --max-width 640 --max-frames 300 --spans 2 --every 3 --overwrite
# The recipe is flow-fusion's (vfi models): Charbonnier + 0.005 x paper 002's blur term,
# Adam 3e-3 with warm-up and cosine decay, 8 epochs, crops of 80 px with 20 px of context.
vfi train --model flow-fusion --data "$W/train" --val-data "$W/val" --max-val 96 -o "$W/run" --overwrite
# Held-out comparison (the README's table), then the shipped file with its figures.
bash examples/recipes/evaluate_shipped.sh "$W/eval" --weights "$W/run/flow-fusion.best.safetensors"
python examples/recipes/finalize_weights.py "$W/run/flow-fusion.best.safetensors" "$W/eval/eval.json" --out "$W/flow-fusion.safetensors"
