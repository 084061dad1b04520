#!/bin/bash
# Runs on the GPU host from the repository root: Vulkan loader, node, dawn.node, then the parity run.
cd .device
for f in *.deb; do dpkg -x $f /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
xz -dc node.xz > /tmp/node && chmod +x /tmp/node
xz -dc dist/linux-x64/dawn.node.xz > dist/linux-x64/dawn.node
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
/tmp/node --version
python3 torch_peer.py --fixture qwen3-tiny --out "$OUT/torch.json" 2>&1 | grep -v -e "Loading weights" -e Warning
/tmp/node gpu-parity.mjs --fixture qwen3-tiny --bf16 qwen3-tiny-bf16-sharded --backend webgpu --torch "$OUT/torch.json" --out "$OUT/webgpu.json" 2>&1 | tail -30
