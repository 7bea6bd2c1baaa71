#!/usr/bin/env bash
# The GPU check, run from inside gpu-pack/: adapter, parity of webgpu against cpu, training
# throughput on webgpu (with PyTorch on CUDA in the same run) and on wasm. Each part has its own
# time limit so one hang does not cost the rest. Logs go to OUTDIR (default /tmp/gpu-check).
cd "$(dirname "$0")"
out=${1:-/tmp/gpu-check}
mkdir -p "$out"
unpack() {
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
[ -x node ] || { unpack node.xz node && chmod +x node; }
dawn=node_modules/webgpu/dist/linux-x64.dawn.node
[ -f "$dawn" ] || unpack "$dawn.xz" "$dawn"
if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd; fi
done
echo "node $(./node --version) · $(nvidia-smi -L 2>/dev/null | head -1) · Vulkan ICD ${VK_DRIVER_FILES:-none found} · $(nproc) CPU cores"
part() {
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s)"
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  echo "=== $name exit ${PIPESTATUS[0]}"
}
part adapter 60 ./node gpu-check.cjs adapter
part parity-webgpu 150 ./node gpu-check.cjs parity --backend webgpu
part train-webgpu 180 ./node gpu-check.cjs train --backend webgpu --steps 30 --config clevr-lite.config.json --python python3 --torch-device cuda
part train-wasm 120 ./node gpu-check.cjs train --backend wasm --steps 5 --config clevr-lite.config.json --no-torch
