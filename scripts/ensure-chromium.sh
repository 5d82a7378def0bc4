#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing (never `playwright install`).
# Needs root or passwordless sudo; without either it explains and carries on (the browser test
# then skips with a message).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "ensure-chromium: /usr/bin/chromium is missing and apt-get needs root; the browser test will be skipped." >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "ensure-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
