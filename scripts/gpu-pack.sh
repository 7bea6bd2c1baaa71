#!/usr/bin/env bash
# Builds gpu-pack/ (ignored by git, under 64 MiB): what the GPU check needs on a bare x86-64 Linux
# machine with an NVIDIA GPU and no network: an xz-compressed node binary, a one-file esbuild
# bundle of bench/main.ts, the wasm binaries, Dawn's dawn.node, the Vulkan loader, the PyTorch
# reference and run.sh. Run it there as `bash gpu-pack/run.sh OUTDIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu-pack
rm -rf "$out"
mkdir -p "$out/node_modules/webgpu/dist" "$out/debs"
npx esbuild bench/main.ts --bundle --platform=node --format=cjs --target=node20 --minify --log-level=warning \
  --outfile="$out/gpu-check.cjs" \
  --external:sharp --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:onnxruntime-node \
  --define:import.meta.url=__import_meta_url \
  --banner:js="const __import_meta_url = require('url').pathToFileURL(__filename).href;"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64.dawn.node > "$out/node_modules/webgpu/dist/linux-x64.dawn.node.xz"
xz -T2 -6 -c "$(command -v node)" > "$out/node.xz"
cp bench/torch_reference.py configs/clevr-lite-8x8.json "$out/"
cp scripts/gpu-run.sh "$out/run.sh"
(cd "$out/debs" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 2>/dev/null >/dev/null)
du -sh "$out"
