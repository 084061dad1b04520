#!/usr/bin/env bash
# Prepares DEST (default ../main/.device-gpu) for bench/gpu/device-run.sh: the gpu-bundle archive
# (node, dawn.node, libvulkan) plus esbuild bundles of the kernel tests and the WGSL benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-../main/.device-gpu}
mkdir -p "$DEST"
[ -f "$DEST/fleuve-gpu.tar.xz" ] || node bin/fleuve.mjs gpu-bundle --out "$DEST/fleuve-gpu.tar.xz"
npx esbuild test/kernels/kernels.test.ts --bundle --platform=node --format=esm --target=node20 --external:webgpu --outfile="$DEST/kernels.test.mjs" --log-level=warning
npx esbuild bench/gpu/kernels.ts --bundle --platform=node --format=esm --target=node20 --external:webgpu --outfile="$DEST/bench-kernels.mjs" --log-level=warning
cp bench/gpu/torch_peer.py bench/gpu/device-run.sh "$DEST/"
ls -la "$DEST"
