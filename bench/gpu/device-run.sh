#!/usr/bin/env bash
# One device call: the GPU kernel tests, the WGSL benchmark and the PyTorch peer on the same card.
# Expects .device-gpu/ (prepared by bench/gpu/prepare-device.sh): the gpu-bundle archive and the
# esbuild bundles of test/kernels and bench/gpu/kernels.ts. Results land in $OUT.
set -uo pipefail
D=$PWD/.device-gpu
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.txt"
mkdir -p /tmp/fx && tar -xJf "$D/fleuve-gpu.tar.xz" -C /tmp/fx
F=/tmp/fx/fleuve
echo "== run.sh --help on the GPU host"; "$F/run.sh" --help | head -4
cp "$D"/*.mjs "$F/app/"
# run.sh's environment, for the bench and test entry points
export LD_LIBRARY_PATH="$F/lib"
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
done
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
cd "$F/app"
echo "== kernel tests"; timeout 120 ../bin/node --test --test-reporter=spec kernels.test.mjs 2>&1 | tee "$OUT/kernel-tests.txt"
echo "== WGSL bench"; timeout 240 ../bin/node bench-kernels.mjs ${BENCH_ARGS:-} 2>&1 | tee "$OUT/webgpu.jsonl"
cd - >/dev/null
echo "== PyTorch peer"; PYTHONUNBUFFERED=1 timeout 180 python3 "$D/torch_peer.py" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/torch.jsonl"
