#!/usr/bin/env bash
# The Vulkan loader (Debian package libvulkan1) and libglvnd (libglvnd0, libglx0, libegl1: NVIDIA's Vulkan ICD needs them) that `fleuve gpu-bundle` puts into its archive,
# downloaded once into .cache/gpu/ (idempotent). Needs apt-get (CI runs as root on Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .cache/gpu
if ls .cache/gpu/libvulkan1_*.deb .cache/gpu/libglvnd0_*.deb .cache/gpu/libglx0_*.deb .cache/gpu/libegl1_*.deb >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "40-libvulkan-deb: apt-get not found; gpu-bundle needs --vulkan-deb or .cache/gpu/libvulkan1_*.deb" >&2
  exit 0
fi
(cd .cache/gpu && (apt-get download libvulkan1 libglvnd0 libglx0 libegl1 2>/dev/null || (apt-get update -qq && apt-get download libvulkan1 libglvnd0 libglx0 libegl1)))
ls .cache/gpu/libvulkan1_*.deb
