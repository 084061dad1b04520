#!/usr/bin/env bash
# Headless Chromium for the report tests (test/report): Debian's package, driven by playwright-core
# with executablePath /usr/bin/chromium, plus the DejaVu fonts the report measures its text with
# (report/font-metrics.json), so the overlap test sees the layout the report planned.
# Idempotent: installs only what is missing.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || packages+=(fonts-dejavu-core)
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
apt_install 20-chromium "${packages[@]}"
/usr/bin/chromium --version 2>/dev/null || true
