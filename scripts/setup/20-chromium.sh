#!/usr/bin/env bash
# Headless Chromium for the report tests (test/report): Debian's package, driven by playwright-core
# with executablePath /usr/bin/chromium, plus the DejaVu fonts the report measures its text with
# (warehouse/report/font-metrics.json), so the overlap test sees the layout the report planned.
# Idempotent: installs only what is missing.
set -euo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || packages+=(fonts-dejavu-core)
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "20-chromium: missing ${packages[*]} and apt-get is not available; install Debian's ${packages[*]}" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "20-chromium: installing ${packages[*]}" >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
