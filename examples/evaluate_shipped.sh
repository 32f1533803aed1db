#!/usr/bin/env bash
# How the README's comparison table was made: `vfi eval` (drop-frame protocol) of the
# classical methods and the shipped sparse CNN on clips never used in its training.
#
#   bash examples/evaluate_shipped.sh [OUT_DIR]
#
# Clips: the held-out corpus clips (../shared/corpus, if present) and any given in
# $EXTRA_CLIPS. Writes OUT_DIR/eval.json, eval.md and eval_sheet.png.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/eval}
mkdir -p "$OUT"
C=../shared/corpus
clips=()
for c in carphone_pristine.mp4 bikes.mp4 box.mp4 bigbuckbunny.mp4; do [ -f "$C/$c" ] && clips+=("$C/$c"); done
clips+=(${EXTRA_CLIPS:-})
vfi eval "${clips[@]}" --methods dup,blend,mci --model sparse-cnn --every 4 --max-triplets 24 \
  --json "$OUT/eval.json" --markdown "$OUT/eval.md" --sheet "$OUT/eval_sheet.png"
