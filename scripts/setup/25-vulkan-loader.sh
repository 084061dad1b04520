#!/usr/bin/env bash
# The Vulkan loader (Debian's libvulkan1), which Dawn (npm webgpu) opens as libvulkan.so.1: the
# kernel tests run fleuve's f32 WGSL kernels on SwiftShader, the CPU Vulkan driver that Debian's
# chromium ships (20-chromium.sh). A machine with chromium preinstalled may lack the loader
# (chromium carries a private copy in /usr/lib/chromium), so it is checked on its own.
# Idempotent: installs only when no libvulkan.so.1 is on the linker's path.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "25-vulkan-loader: libvulkan.so.1 missing and apt-get is not available; install Debian's libvulkan1 (the GPU kernel tests will skip without it)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "25-vulkan-loader: installing libvulkan1" >&2
$SUDO apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null; }
