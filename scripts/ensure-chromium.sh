#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the Playwright e2e suite
# (playwright.config.ts launches that binary; Playwright's own browser download is not used).
# Quick no-op when it is already there; installs it with apt-get when we are root; otherwise explains and fails.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

works() { [ -x "$CHROMIUM" ] && "$CHROMIUM" --version >/dev/null 2>&1; }

if works; then
  exit 0
fi

if [ -e "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM exists but '$CHROMIUM --version' fails; trying to (re)install the chromium package." >&2
else
  echo "ensure-chromium: $CHROMIUM is missing; the e2e suite needs Debian's chromium package." >&2
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: not running as root, cannot install it. Run: sudo apt-get update && sudo apt-get install -y chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: apt-get is not available on this machine. Install Chromium so that $CHROMIUM exists, then rerun." >&2
  exit 1
fi

echo "ensure-chromium: installing chromium with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update >&2; then
  echo "ensure-chromium: 'apt-get update' failed (no network to the Debian mirror?). Chromium is still missing." >&2
  exit 1
fi
if ! apt-get install -y chromium >&2; then
  echo "ensure-chromium: 'apt-get install -y chromium' failed. Chromium is still missing." >&2
  exit 1
fi

if ! works; then
  echo "ensure-chromium: chromium was installed but $CHROMIUM does not run ('$CHROMIUM --version' fails)." >&2
  exit 1
fi
echo "ensure-chromium: $("$CHROMIUM" --version)" >&2
