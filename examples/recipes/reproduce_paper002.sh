#!/usr/bin/env bash
# Reproduces paper 002 (McCabe et al.) end to end on CPU with vfi's own commands, on
# one cartoon style as the paper had (its ~12,000 frames of one Bambi scene): the 14
# Planet Blupi cutscenes of the corpus, 1,524 frames of one pre-rendered 3D style.
#
#   bash examples/recipes/reproduce_paper002.sh [RUN_DIR]
#
# 1. Data: the paper-002 preset (greyscale, 200x100, [0,1]), a random 70/30 split, seed
#    0, every frame kept as the paper did (held frames too): 981 training and 421 test
#    triplets.
# 2. The four autoencoders x three losses (MSE, MSLE, cosine) for 10 epochs as in the
#    paper, and the convolutional autoencoder with the blur-aware loss the paper proposes
#    (`--loss blur`); then all of them again for as long as validation improves (up to
#    60 epochs, stopping after 5 without a new best; the best epoch is used).
# 3. Tables 1 and 2 of both runs beside the paper's numbers, into docs/paper002.md.
#
# Needs ../shared/corpus. Some hours on 2 CPU cores (the multilayer autoencoders have 42-63 M
# parameters; each epoch writes a 0.5 GB checkpoint).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=${1:-runs/paper002}
C=../shared/corpus
mkdir -p "$RUN"
[ -f "$RUN/data/manifest.json" ] || vfi prep $C/blupi_*.mkv -o "$RUN/data" --preset paper002 --split random --val 0.3 --seed 0 --keep-duplicates --overwrite -q
runs=(forward-ae:mse forward-ae:msle forward-ae:cosine backward-ae:mse backward-ae:msle backward-ae:cosine
      bidirectional-ae:mse bidirectional-ae:msle bidirectional-ae:cosine conv-ae:mse conv-ae:msle conv-ae:cosine conv-ae:blur)
for stage in 10 long; do
  pairs=()
  for r in "${runs[@]}"; do
    model=${r%%:*}; loss=${r##*:}
    out="$RUN/$stage/$model-$loss"
    # A finished run is kept; an interrupted one continues from its checkpoint.
    if [ ! -f "$RUN/$stage/$model-$loss.safetensors" ]; then
      resume=(); [ -f "$out/checkpoint.pt" ] && resume=(--resume)
      if [ "$stage" = 10 ]; then
        vfi train --model "$model" --loss "$loss" --data "$RUN/data" --epochs 10 --seed 0 -o "$out" -q "${resume[@]}"
        cp "$out/$model.safetensors" "$RUN/$stage/$model-$loss.safetensors"
      else
        vfi train --model "$model" --loss "$loss" --data "$RUN/data" --epochs 60 --patience 5 --seed 0 -o "$out" -q "${resume[@]}"
        cp "$out/$model.best.safetensors" "$RUN/$stage/$model-$loss.safetensors"
      fi
    fi
    pairs+=(--model "$model" --weights "$RUN/$stage/$model-$loss.safetensors")
  done
  vfi eval --dataset "$RUN/data" "${pairs[@]}" --json "$RUN/results_$stage.json" --device cpu -q
done
python examples/recipes/paper002_tables.py "$RUN/results_10.json" "$RUN/results_long.json" "$RUN/data" > docs/paper002.md
echo "tables written to docs/paper002.md"
