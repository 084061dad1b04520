#!/usr/bin/env bash
# One device call (run from the repository root on the GPU host, after bench/gpu/prepare-device.sh):
# the GPU tests, fleuve's WGSL kernels benchmark, the tfjs runtime with tfjs' stock kernels and
# with fleuve's, and the PyTorch peer, all on the same card. Results land in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export FLEUVE_TEST_FIXTURES=$PWD/test/fixtures
cd "${DEVICE_DIR:-.device}"  # DEVICE_DIR: another folder staged by prepare-device.sh (e.g. .device/s5)
for f in *.deb; do dpkg -x "$f" /; done; ldconfig
for f in *.mjs.xz; do [ -e "$f" ] && xz -d -f "$f"; done  # bundles xz'd to fit the call's 64 MiB (XZ_BUNDLES=1 at staging)
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -x /tmp/node ] || { xz -dc node.xz > /tmp/node && chmod +x /tmp/node; }
[ -f dist/linux-x64/dawn.node ] || xz -dc dist/linux-x64/dawn.node.xz > dist/linux-x64/dawn.node
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/nvidia-smi.txt"
quiet() { grep -v -e "deprecated" -e "^ *\^" -e "^$" -e "subgroupMatrix" -e "warning" -e "Compilation log"; }
step() { echo "== $1"; }
for what in ${STEPS:-tests kernels stock fleuve torch}; do
  case $what in
    tests) step tests  # PAR files at a time on the one GPU; all their logs in $OUT/tests.txt ($OUT brings back 8 files at most)
      # TESTS: the bundles to run (names without .test.mjs); default: every test bundle staged here
      names=${TESTS:-$(ls *.test.mjs 2>/dev/null | sed "s/\.test\.mjs$//" | tr "\n" " ")}
      mkdir -p /tmp/test-logs
      for t in $names; do
        (timeout ${TEST_TIMEOUT:-240} /tmp/node --test --test-force-exit --test-reporter=spec $t.test.mjs 2>&1 | quiet > /tmp/test-logs/$t.txt) &
        while [ "$(jobs -rp | wc -l)" -ge "${PAR:-4}" ]; do wait -n; done
      done
      wait
      for t in $names; do echo "=== $t"; cat /tmp/test-logs/$t.txt; done > "$OUT/tests.txt"
      for t in $names; do echo "-- $t: $(grep -E '^ℹ (pass|fail|skipped)' /tmp/test-logs/$t.txt | tr '\n' ' ')"; grep -E "✖" /tmp/test-logs/$t.txt | head -4; done ;;
    engine-scoring) step "scoring through model/runtime/scoring.ts: WGSL engine vs tfjs runtime"; timeout 400 /tmp/node bench-engine-scoring.mjs ${SCORING_ARGS:-} > "$OUT/engine-scoring.log" 2>&1; grep "^{" "$OUT/engine-scoring.log" | cut -c1-300; grep -v "^{" "$OUT/engine-scoring.log" | tail -5 ;;
    cached-batch) step "tfjs' KV-cached option batch against whole rows"; timeout ${CACHED_TIMEOUT:-400} /tmp/node bench-cached-batch.mjs ${CACHED_ARGS:-} > "$OUT/cached-batch.log" 2>&1; grep "^{" "$OUT/cached-batch.log" | cut -c1-500; grep -v "^{" "$OUT/cached-batch.log" | tail -5 ;;
    generation) step "generation through model/runtime/generate.ts: WGSL decoder vs tfjs runtime"; timeout ${GENERATION_TIMEOUT:-400} /tmp/node bench-generation.mjs ${GENERATION_ARGS:-} > "$OUT/generation.log" 2>&1; grep "^{" "$OUT/generation.log" | cut -c1-600; grep -v "^{" "$OUT/generation.log" | tail -5 ;;
    torch-generation) step "PyTorch peer, generation"; PYTHONUNBUFFERED=1 timeout ${TORCH_GENERATION_TIMEOUT:-400} python3 torch_peer.py --only-generation ${TORCH_GENERATION_ARGS:-} 2>&1 | grep -v Warning | tee "$OUT/torch-generation.jsonl" | cut -c1-300 ;;
    torch-generation-compiled) step "PyTorch peer, generation with the static cache compiled (CUDA graphs)"; PYTHONUNBUFFERED=1 timeout ${TORCH_COMPILED_TIMEOUT:-300} python3 torch_peer.py --only-generation --gen-caches static-compiled --gen-no-parts ${TORCH_COMPILED_ARGS:-} 2>&1 | grep -v -e Warning -e warn | tee "$OUT/torch-generation-compiled.jsonl" | cut -c1-300 ;;
    decode-kernels) step "fused decoding kernels by layout (bench/gpu/decode-kernels.ts)"; timeout ${DECODE_KERNELS_TIMEOUT:-200} /tmp/node bench-decode-kernels.mjs ${DECODE_KERNELS_ARGS:-} 2>&1 | quiet > "$OUT/decode-kernels.jsonl"; grep -v '"kind":"decode-kernel"' "$OUT/decode-kernels.jsonl" | cut -c1-300 | head -20 ;;
    decode-kernels-norobust) step "fused decoding kernels by layout, Dawn robustness off"; timeout ${DECODE_KERNELS_TIMEOUT:-200} /tmp/node bench-decode-kernels.mjs --robustness-off ${DECODE_KERNELS_ARGS:-} 2>&1 | quiet > "$OUT/decode-kernels-norobust.jsonl"; grep -v '"kind":"decode-kernel"' "$OUT/decode-kernels-norobust.jsonl" | cut -c1-300 | head -20 ;;
    attention-probe) step "one-pass attention forward probe (bench/gpu/attention-probe.ts)"; timeout ${PROBE_TIMEOUT:-150} /tmp/node attention-probe.mjs ${PROBE_ARGS:-} > "$OUT/attention-probe.txt" 2> "$OUT/attention-probe.stderr"; grep -E "^(==|  (DEVICE|uncaptured))| BAD | NOT BUILT" "$OUT/attention-probe.txt" | cut -c1-260 | head -80; tail -c 600 "$OUT/attention-probe.stderr" ;;
    parity-depth) step "drift from the f32 reference with depth"; timeout 400 /tmp/node bench-parity-depth.mjs 2>&1 | grep "^{" | tee "$OUT/parity-depth.jsonl" | cut -c1-300 ;;
    train-matmuls) step "training matmuls"; timeout 300 /tmp/node bench-train-matmuls.mjs 2>&1 | quiet | tee "$OUT/train-matmuls.jsonl" | cut -c1-300 ;;
    tune) step "matmul tile configurations (bench/gpu/matmul-tune.ts)"
      timeout ${TUNE_TIMEOUT:-240} /tmp/node bench-matmul-tune.mjs ${TUNE_ARGS:-} 2>&1 | quiet > "$OUT/tune.jsonl"
      grep -E '"kind":"(tune-start|tune-error|tune-best)"|"ok":false' "$OUT/tune.jsonl" | cut -c1-700; grep -v '^{' "$OUT/tune.jsonl" | head -5; grep -E '"label":"square 8192"' "$OUT/tune.jsonl" | grep '"layout":"nk"' | cut -c1-160 ;;
    tune-off) step "matmul tile configurations with Dawn's robustness off"
      timeout ${TUNE_TIMEOUT:-240} /tmp/node bench-matmul-tune.mjs --robustness-off ${TUNE_OFF_ARGS:-} 2>&1 | quiet > "$OUT/tune-robustness-off.jsonl"
      grep -E '"kind":"(tune-start|tune-error)"' "$OUT/tune-robustness-off.jsonl" | cut -c1-300; grep -E '"label":"square 8192"' "$OUT/tune-robustness-off.jsonl" | grep '"layout":"nk"' | cut -c1-160 ;;
    torch-matmul) step "PyTorch peer, matmuls"; PYTHONUNBUFFERED=1 timeout 300 python3 torch_peer.py --only-matmul 2>&1 | grep -v Warning | tee "$OUT/torch-matmul.jsonl" | cut -c1-300 ;;
    kernels) step "WGSL kernels"; timeout 300 /tmp/node bench-kernels.mjs ${BENCH_ARGS:-} 2>&1 | quiet | tee "$OUT/webgpu-kernels.jsonl" | cut -c1-400 ;;
    stock) step "tfjs runtime, stock kernels"; FLEUVE_WEBGPU_KERNELS=stock timeout ${RUNTIME_TIMEOUT:-400} /tmp/node bench-runtime.mjs ${RUNTIME_ARGS:-} 2>&1 | grep "^{" | tee "$OUT/runtime-stock.jsonl" | cut -c1-400 ;;
    fleuve) step "tfjs runtime, fleuve kernels"; timeout ${RUNTIME_TIMEOUT:-400} /tmp/node bench-runtime.mjs ${RUNTIME_ARGS:-} 2>&1 | grep "^{" | tee "$OUT/runtime-fleuve.jsonl" | cut -c1-400 ;;
    dapt) step "full-parameter DAPT, WGSL trainer"; timeout ${DAPT_TIMEOUT:-300} /tmp/node bench-kernels.mjs --only-dapt ${DAPT_ARGS:-} 2>&1 | quiet | tee "$OUT/dapt.jsonl" | cut -c1-700 ;;
    torch-dapt) step "PyTorch peer, full-parameter DAPT"; PYTHONUNBUFFERED=1 timeout 300 python3 torch_peer.py --only-dapt 2>&1 | grep -v Warning | tee "$OUT/torch-dapt.jsonl" | cut -c1-400 ;;
    torch) step "PyTorch peer"; PYTHONUNBUFFERED=1 timeout 400 python3 torch_peer.py ${BENCH_ARGS:-} 2>&1 | grep -v Warning | tee "$OUT/torch.jsonl" | cut -c1-300 ;;
  esac
done
