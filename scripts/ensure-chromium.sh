#!/usr/bin/env bash
# The browser tests drive Debian's chromium (/usr/bin/chromium) with Playwright; Playwright's own
# browser download is not used. In CI (CI=true, as root) install it from Debian's packages when
# missing; elsewhere say how, and the browser tests skip themselves with the same advice.
set -euo pipefail

browser="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 || {
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >/dev/null
  }
  [ -x "$browser" ] && exit 0
  echo "chromium was installed but $browser is missing" >&2
  exit 1
fi
echo "NOTE: $browser not found; the browser tests will be skipped." \
  "Install it with: sudo apt-get install chromium (or set CHROMIUM_PATH)." >&2
