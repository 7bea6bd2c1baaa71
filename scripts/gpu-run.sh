#!/usr/bin/env bash
# The GPU check, run from inside gpu-pack/: adapter, parity of webgpu against cpu, training
# throughput on webgpu (with PyTorch on CUDA in the same run) and on wasm. Each part has its own
# time limit so one hang does not cost the rest. Logs go to OUTDIR (default /tmp/gpu-check);
# PARTS="adapter train-webgpu" runs only those parts.
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
# The Vulkan loader and GL vendor-neutral dispatch libraries that NVIDIA's ICD needs, when missing.
for lib in libvulkan.so.1 libGLdispatch.so.0 libGLX.so.0 libEGL.so.1; do
  ldconfig -p | grep -q "$lib" || { for f in debs/*.deb; do dpkg -x "$f" /; done; ldconfig; break; }
done
# The driver's own mount first: the system-wide ICD file can name a library the loader cannot use.
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd; fi
done
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
for icd in /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json; do [ -f "$icd" ] && echo "ICD $icd: $(tr -d '\n ' < "$icd")"; done
echo "node $(./node --version) · $(nvidia-smi -L 2>/dev/null | head -1) · Vulkan ICD ${VK_DRIVER_FILES:-none found} · $(nproc) CPU cores"
# PARTS (space-separated) picks parts to run; all by default.
part() {
  local name=$1 limit=$2
  shift 2
  if [ -n "${PARTS:-}" ] && [[ " $PARTS " != *" $name "* ]]; then return; fi
  echo "=== $name (limit ${limit}s)"
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  echo "=== $name exit ${PIPESTATUS[0]}"
}
part adapter 60 ./node gpu-check.cjs adapter
part parity-webgpu 150 ./node gpu-check.cjs parity --backend webgpu
part train-webgpu 180 ./node gpu-check.cjs train --backend webgpu --steps 30 --config clevr-lite-8x8.json --python python3 --torch-device cuda
part train-wasm 120 ./node gpu-check.cjs train --backend wasm --steps 5 --config clevr-lite-8x8.json --no-torch
