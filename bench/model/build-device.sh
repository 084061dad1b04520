#!/bin/bash
# Builds a self-contained folder for a GPU host without network (default: ./.device, git-ignored):
# the parity/throughput bench bundled by esbuild, dawn.node (npm webgpu), an xz-compressed node,
# the Vulkan loader and GL vendor-neutral libraries (.deb), the tiny fixture and the PyTorch peer.
# On the host, from the repository root:  bash .device/run-gpu.sh   (results land in $OUT)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/.device}
mkdir -p "$dest/dist/linux-x64"
cd "$root"
npx esbuild bench/model/gpu-parity.ts --bundle --platform=node --format=esm --target=node20 --log-level=error \
  --outfile="$dest/gpu-parity.mjs" \
  --banner:js="import { createRequire as __fleuveRequire } from 'node:module'; const require = __fleuveRequire(import.meta.url);"
xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$dest/dist/linux-x64/dawn.node.xz"
xz -T2 -c "$(command -v node)" > "$dest/node.xz"
(cd "$dest" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
rm -rf "$dest/qwen3-tiny" "$dest/qwen3-tiny-bf16-sharded"
cp -r test/fixtures/qwen3-tiny test/fixtures/qwen3-tiny-bf16-sharded bench/model/torch_peer.py bench/model/run-gpu.sh "$dest/"
du -sh "$dest"
