#!/usr/bin/env bash
# Headless Chromium for the report tests (test/report): Debian's package, driven by playwright-core
# with executablePath /usr/bin/chromium. Idempotent: does nothing when the browser is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "20-chromium: /usr/bin/chromium is missing and apt-get is not available; install Debian's chromium package" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
