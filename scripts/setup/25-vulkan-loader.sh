#!/usr/bin/env bash
# The Vulkan loader (Debian's libvulkan1), which Dawn (npm webgpu) opens as libvulkan.so.1: the
# kernel tests run fleuve's f32 WGSL kernels on SwiftShader, the CPU Vulkan driver that Debian's
# chromium ships (20-chromium.sh). A machine with chromium preinstalled may lack the loader
# (chromium carries a private copy in /usr/lib/chromium), so it is checked on its own.
# Idempotent: installs only when no libvulkan.so.1 is on the linker's path. Without apt-get it
# says so and goes on (the GPU kernel tests then skip, saying why).
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then exit 0; fi
apt_install 25-vulkan-loader libvulkan1 || exit 0
