#!/usr/bin/env bash
# Stages .device/ (git-ignored) for one device call of bench/gpu/device-run.sh: esbuild bundles of
# the GPU tests and benchmarks (tfjs' gradients bundled in statically: the GPU host has no
# node_modules), dawn.node and node (xz), the Vulkan loader and libglvnd (.deb), the PyTorch peer.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-.device}
mkdir -p "$DEST/dist/linux-x64"
banner='import { createRequire as __fleuveRequire } from "node:module"; const require = __fleuveRequire(import.meta.url);'
# tfjs' gradients bundled in, as in the GPU bundle (see BUNDLE_ENTRY in tools/gpu-bundle/gpu-bundle.ts)
gradients=$(node --import tsx --input-type=module -e 'const m = await import("./tools/gpu-bundle/gpu-bundle.ts"); process.stdout.write(m.TFJS_GRADIENTS_IMPORTS)')
bundle() { # entry outfile (ONLY="a b": just the outfiles whose names start with one of these)
  if [ -n "${ONLY:-}" ]; then local hit=; for o in $ONLY; do case $2 in "$o"*) hit=1 ;; esac; done; [ -n "$hit" ] || return 0; fi
  echo "$gradients import \"./$1\";" |
    npx esbuild --bundle --platform=node --format=esm --target=node20 --log-level=error --sourcefile=entry.ts --loader=ts \
      --outfile="$DEST/$2" "--banner:js=$banner"
}
bundle test/model/wgsl/kernels/kernels.test.ts kernels.test.mjs
bundle test/model/wgsl/kernels/tfjs-kernels.test.ts tfjs-kernels.test.mjs
bundle test/model/wgsl/kernels/engine.test.ts engine.test.mjs
bundle test/model/wgsl/kernels/trainer.test.ts trainer.test.mjs
for t in matmul-tiles backward attention-backward general-matmul matmul-layout token-kernels dropout decode-attention gemv token-feed attention-flash; do bundle test/model/wgsl/kernels/$t.test.ts $t.test.mjs; done
bundle test/model/wgsl/kernels/split-k.test.ts split-k.test.mjs
bundle test/model/wgsl/kernels/weight-merge.test.ts weight-merge.test.mjs
bundle test/model/wgsl/kernels/profile.test.ts profile.test.mjs
bundle test/model/wgsl/webgpu-choice.test.ts webgpu-choice.test.mjs
bundle test/model/generate/free-memory.test.ts free-memory.test.mjs
bundle test/model/wgsl/kernels/weight-gradients.test.ts weight-gradients.test.mjs
bundle test/model/wgsl/kernels/full-trainer.test.ts full-trainer.test.mjs
bundle bench/gpu/train-matmuls.ts bench-train-matmuls.mjs
bundle bench/gpu/matmul-tune.ts bench-matmul-tune.mjs
bundle test/model/wgsl/engine-scorer.test.ts engine-scorer.test.mjs
bundle test/model/wgsl/epilogue-choice.test.ts epilogue-choice.test.mjs
bundle test/model/wgsl/train/gpu.test.ts train-engine-gpu.test.mjs
bundle test/model/device-loss.test.ts device-loss.test.mjs
bundle bench/engine/cached-batch.ts bench-cached-batch.mjs
bundle test/model/wgsl/engine-generate.test.ts engine-generate.test.mjs
bundle test/model/pick-targets.test.ts pick-targets.test.mjs
bundle test/model/wgsl/kernels/decode-layer.test.ts decode-layer.test.mjs
bundle test/model/wgsl/kernels/pick-split.test.ts pick-split.test.mjs
bundle test/model/wgsl/kernels/decode-attend-gqa.test.ts decode-attend-gqa.test.mjs
bundle test/model/wgsl/kernels/decode-gemv-blocked.test.ts decode-gemv-blocked.test.mjs
bundle test/model/wgsl/decode-tune.test.ts decode-tune.test.mjs
bundle test/model/wgsl/decode-attend-choice.test.ts decode-attend-choice.test.mjs
bundle bench/gpu/decode-kernels.ts bench-decode-kernels.mjs
bundle bench/engine/generation.ts bench-generation.mjs
bundle bench/engine/scoring.ts bench-engine-scoring.mjs
bundle bench/gpu/parity-depth.ts bench-parity-depth.mjs
bundle bench/gpu/diagnose.ts diagnose.mjs
bundle bench/gpu/attention-probe.ts attention-probe.mjs
bundle bench/gpu/kernels.ts bench-kernels.mjs
bundle bench/gpu/runtime.ts bench-runtime.mjs
[ -f "$DEST/dist/linux-x64/dawn.node.xz" ] || xz -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$DEST/dist/linux-x64/dawn.node.xz"
[ -f "$DEST/node.xz" ] || xz -T2 -c "$(command -v node)" > "$DEST/node.xz"
ls "$DEST"/libvulkan1_*.deb >/dev/null 2>&1 || (cd "$DEST" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
cp bench/gpu/torch_peer.py bench/gpu/device-run.sh "$DEST/"
# XZ_BUNDLES=1: compress the bundles (device-run.sh unpacks them), so that more fit in a call's 64 MiB
if [ -n "${XZ_BUNDLES:-}" ]; then for f in "$DEST"/*.mjs; do [ -e "$f" ] && xz -T2 -f "$f"; done; fi
du -sh "$DEST"
