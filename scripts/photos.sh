#!/usr/bin/env bash
# The 17 photographs the familiarity checks are measured on (docs/experiments.md §23): the natural
# images of Debian's python3-skimage data folder (not its drawings, charts, text or test patterns).
# Usage: scripts/photos.sh OUT_DIR   (needs: apt-get install python3-skimage)
set -euo pipefail
out=${1:?usage: scripts/photos.sh OUT_DIR}
src=/usr/lib/python3/dist-packages/skimage/data
[ -d "$src" ] || { echo "$src: missing (apt-get install python3-skimage)" >&2; exit 1; }
mkdir -p "$out"
for f in astronaut.png brick.png camera.png cell.png chelsea.png coffee.png coins.png grass.png gravel.png ihc.png \
  microaneurysms.png moon.png motorcycle_left.png motorcycle_right.png hubble_deep_field.jpg retina.jpg rocket.jpg; do
  cp "$src/$f" "$out/"
done
echo "copied 17 photographs to $out"
