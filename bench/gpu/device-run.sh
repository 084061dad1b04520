#!/usr/bin/env bash
# One device call: the GPU kernel tests, the WGSL benchmark and the PyTorch peer on the same card.
# Expects .device-gpu/ (prepared by bench/gpu/prepare-device.sh): the gpu-bundle archive, the
# esbuild bundles of test/kernels and bench/gpu/kernels.ts, and gl/*.deb (libglvnd: NVIDIA's
# Vulkan ICD, libGLX_nvidia, needs libGLdispatch). Results land in $OUT.
set -uo pipefail
D=$PWD/.device-gpu
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
mkdir -p /tmp/fx /tmp/glx && tar -xJf "$D/fleuve-gpu.tar.xz" -C /tmp/fx
for f in "$D"/gl/*.deb; do dpkg -x "$f" /tmp/glx; done
F=/tmp/fx/fleuve
cp "$D"/*.mjs "$F/app/"
export LD_LIBRARY_PATH="$F/lib:/tmp/glx/usr/lib/x86_64-linux-gnu"
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
echo "== run.sh --help on the GPU host"; "$F/run.sh" --help | head -3
cd "$F/app"
echo "== kernel tests"; timeout 120 ../bin/node --test --test-reporter=spec kernels.test.mjs 2>&1 | grep -v "warning: use of deprecated\|^ *\^\|^$" | tee "$OUT/kernel-tests.txt" | tail -40
echo "== WGSL bench"; timeout 240 ../bin/node bench-kernels.mjs ${BENCH_ARGS:-} 2>&1 | grep -v "warning: use of deprecated" | tee "$OUT/webgpu.jsonl" | cut -c1-600
cd - >/dev/null
echo "== PyTorch peer"; PYTHONUNBUFFERED=1 timeout 150 python3 "$D/torch_peer.py" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/torch.jsonl" | cut -c1-300
