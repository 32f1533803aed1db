#!/usr/bin/env bash
# Checks data preparation and training on any real clip, served over 127.0.0.1:
#   bash examples/checks/verify_training.sh CLIP [WORKDIR]
# prep from a URL (yt-dlp), 2 training epochs on CPU, the pictures, the weights in
# upsample, a 2-process torchrun run, and per-source error reports.
set -euo pipefail
CLIP=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK/www"
cp "$CLIP" "$WORK/www/clip.${CLIP##*.}"
echo "<html>no video</html>" > "$WORK/www/page.html"
cd "$WORK"
python3 -m http.server 8765 --bind 127.0.0.1 --directory www >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER' EXIT
sleep 1
URL="http://127.0.0.1:8765/clip.${CLIP##*.}"
export VFI_CACHE="$WORK/cache"
vfi prep "$URL" -o ds --overwrite
vfi prep --info ds
vfi train --model sparse-cnn --loss mse --data ds --epochs 2 -o run --max-train 256 --overwrite
ls -la run
# the trained weights in upsample (on the short bundled clip: the model costs ~0.5 s a frame there)
vfi upsample "$HERE/../bbb_320x180.mp4" -o up.mp4 --factor 2 --weights run/sparse-cnn.safetensors --overwrite
echo "upsample with the trained weights: exit $?"
OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 -m vfi.cli train --model sparse-cnn --data ds --epochs 1 \
  --max-train 64 --device cpu -o ddp -q --overwrite
python3 -c "import json; s=json.load(open('ddp/summary.json')); print('torchrun: world size', s['world_size'], 'samples seen', s['samples_seen'])"
set +e
vfi prep "$URL" "http://127.0.0.1:8765/missing.mp4" "http://127.0.0.1:8765/page.html" "http://127.0.0.1:9/x.mp4" -o ds2 --overwrite
echo "prep with bad sources: exit $? (1 expected)"
