#!/usr/bin/env bash
# Reproduces paper 002 (McCabe et al.) end to end on CPU with vfi's own commands:
# its data pipeline on one real clip, the four autoencoders x three losses for 10
# epochs each, and the Blur Factor / Relative Blur Factor tables (paper Tables 1-2)
# printed beside the paper's numbers into docs/paper002.md.
#
#   bash examples/reproduce_paper002.sh [CLIP] [RUN_DIR]
#
# CLIP defaults to ../shared/corpus/Megamind.avi (an animated film trailer, the
# closest thing in the corpus to the paper's Bambi scene) or the bundled example.
# About 15 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIP=${1:-../shared/corpus/Megamind.avi}
[ -f "$CLIP" ] || CLIP=examples/bbb_320x180.mp4
RUN=${2:-runs/paper002}
mkdir -p "$RUN"
vfi prep "$CLIP" -o "$RUN/data" --preset paper002 --split random --val 0.3 --seed 0 --overwrite -q
pairs=()
for model in forward-ae backward-ae bidirectional-ae conv-ae; do
  for loss in mse msle cosine; do
    out="$RUN/$model-$loss"
    vfi train --model "$model" --loss "$loss" --data "$RUN/data" --epochs 10 --seed 0 -o "$out" -q
    cp "$out/$model.safetensors" "$RUN/$model-$loss.safetensors"
    pairs+=(--model "$model" --weights "$RUN/$model-$loss.safetensors")
  done
done
vfi eval --dataset "$RUN/data" "${pairs[@]}" --json "$RUN/results.json" --device cpu
python examples/paper002_tables.py "$RUN/results.json" "$CLIP" > docs/paper002.md
echo "tables written to docs/paper002.md"
