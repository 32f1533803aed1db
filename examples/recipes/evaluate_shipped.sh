#!/usr/bin/env bash
# How the README's comparison table was made: `vfi eval` (drop-frame protocol: predict
# frame t from t-1 and t+1, score it against the real one) of the classical methods and
# the shipped models on clips never used in training or in any choice.
#
#   bash examples/recipes/evaluate_shipped.sh [OUT_DIR] [--weights FLOW_FUSION_WEIGHTS]
#
# Clips: the eight held-out corpus clips (../shared/corpus) and any given in
# $EXTRA_CLIPS; every 4th triplet, 12 per clip. Writes OUT_DIR/eval.json, eval.md and
# eval_sheet.png. RIFE 4.x on the same triplets: benchmarks/bench_rife.py quality.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/eval}
shift || true
mkdir -p "$OUT"
. examples/recipes/corpus_split.sh
clips=()
for c in "${heldout[@]}"; do
  [ -f "$c" ] && clips+=("$c")
done
clips+=(${EXTRA_CLIPS:-})
weights=()
if [ "${1:-}" = "--weights" ]; then weights=(--weights "$2"); fi
vfi eval "${clips[@]}" --methods dup,blend,dis,mci --model flow-fusion "${weights[@]}" --model sparse-cnn \
  --every 4 --max-triplets 12 --json "$OUT/eval.json" --markdown "$OUT/eval.md" --sheet "$OUT/eval_sheet.png"
