#!/usr/bin/env bash
# Runs every command of the README on the bundled models, small, with the native kernels on and
# off (VQA_NATIVE=1 / 0); stops at the first that fails. Usage: bash scripts/readme-commands.sh
set -euo pipefail
cd "$(dirname "$0")/.."
vqa() { node bin/vqa.js "$@"; }
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=
step() { echo "== VQA_NATIVE=$VQA_NATIVE: $*"; }

for native in 1 0; do
  export VQA_NATIVE=$native
  w="$work/native-$native"
  mkdir -p "$w"
  step data synth
  vqa data synth --kind clevr-lite --out "$w/cl" --train 20 --val 10
  vqa data synth --kind clevr-lite --out "$w/cl-pixels" --train 20 --val 10 --spec-pixels
  vqa data synth --kind sort-of-clevr --out "$w/soc" --train 20 --val 10
  vqa data synth --kind sort-of-clevr --out "$w/soc-spec" --train 120 --val 10 --spec-exact
  vqa data synth --kind shape-colours --out "$w/sc"
  vqa data synth --kind fine-grained --out "$w/fg" --train 4 --val 2
  step data check
  vqa data check "$w/cl"
  step train and resume, with the bundled configs
  vqa train --data "$w/cl" --out "$w/run" --config models/clevr-lite.config.json --epochs 1 --max-steps-per-epoch 2
  vqa train --data "$w/cl" --out "$w/run" --resume --epochs 2 --max-steps-per-epoch 2
  vqa train --data "$w/soc" --out "$w/run-soc" --config configs/sort-of-clevr.json --epochs 1 --max-steps-per-epoch 2
  step eval
  for model in models/clevr-lite "$w/run"; do vqa eval --model "$model" --data "$w/cl" --split val --json --results "$w/results.json" >/dev/null; done
  vqa eval --model models/sort-of-clevr --data "$w/soc" --split val >/dev/null
  vqa eval --model models/sort-of-clevr-random --data "$w/soc" --split val-reworded >/dev/null
  vqa eval --model models/clevr-lite-words --data "$w/cl-pixels" --split val-reworded >/dev/null
  vqa eval --questions "$w/cl/val/questions.json" --annotations "$w/cl/val/annotations.json" --results "$w/results.json"
  step ask, on both runtimes
  for runtime in onnx tfjs; do
    vqa ask --model models/clevr-lite --image src/server/public/examples/clevr-lite-val-1.png --question "What color is the large circle?" --runtime "$runtime"
    vqa ask --model models/sort-of-clevr --image "$w/soc/val/images/1.png" --question "What is the shape of the red object?" --runtime "$runtime"
    vqa ask --model models/sort-of-clevr-random --image src/server/public/examples/sort-of-clevr-random-val-1.png --question "what shape is the grey thing" --runtime "$runtime"
    vqa ask --model models/clevr-lite-words --image src/server/public/examples/clevr-lite-val-1.png --question "What is the color of the big circle?" --runtime "$runtime"
  done
  step export and recalibrate
  vqa export --model "$w/run" --out "$w/release" --float16 --onnx
  vqa recalibrate --model "$w/run" --data "$w/cl" --out "$w/recalibrated" --batches 2 --float16
  step calibrate and robustness
  vqa calibrate --model models/sort-of-clevr --data "$w/soc-spec" --out "$w/calibrated" --float16
  vqa robustness --model "$w/calibrated" --images 3 --photos src/server/public/examples --other-scenes "$w/cl/val/images"
  vqa robustness --model models/sort-of-clevr-random --images 3 --variants "clean,JPEG quality 50,held-out wordings"
  step serve
  node bin/vqa.js serve --model models/clevr-lite --port 0 --host 127.0.0.1 > "$w/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do grep -q 'ready' "$w/serve.log" && break; sleep 0.2; done
  url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$w/serve.log" | head -1)
  curl -sf -F image=@src/server/public/examples/clevr-lite-val-1.png -F "question=What color is the large circle?" "${url}v1/answer" | head -c 200; echo
  kill -TERM $server; wait $server; server=   # SIGTERM drains and exits 0 (a background job ignores SIGINT)
  step ablate
  vqa ablate --data "$w/cl" --out "$w/ablate" --config models/clevr-lite.config.json --fusions mfb,concat --epochs 1 --max-steps-per-epoch 2
  step classify
  vqa classify train --data "$w/fg" --out "$w/fg-run" --head bilinear --config configs/fine-grained-narrow.json --epochs 1
  vqa classify eval --model "$w/fg-run" --data "$w/fg"
done
echo "every README command ran, with the native kernels on and off"
