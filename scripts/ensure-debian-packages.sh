#!/usr/bin/env bash
# Makes sure the Debian packages the test suite runs for real are installed:
#   chromium    /usr/bin/chromium, launched by playwright.config.ts (Playwright's own download is not used)
#   postgresql  /usr/lib/postgresql/<version>/bin/initdb, for private test clusters (testing/postgresCluster.ts)
#   nginx       /usr/sbin/nginx, the load balancer of the multi-instance tests (testing/nginx.ts)
#   strace      /usr/bin/strace, traces the order of fsyncs and commits in the SQLite store's durability test
#   libjpeg-turbo-progs  cjpeg, which makes the large baseline and progressive JPEGs of the streaming e2e and bench (testing/jpegImages.ts)
# Quick no-op when all are there; installs the missing ones with apt-get when we are root; otherwise explains and fails.
# Installing postgresql may start Debian's own cluster on 5432; the tests never use it.
set -euo pipefail

chromium_works() { [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; }
postgresql_works() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }
nginx_works() { [ -x /usr/sbin/nginx ] && /usr/sbin/nginx -v >/dev/null 2>&1; }
strace_works() { command -v strace >/dev/null 2>&1 && strace -V >/dev/null 2>&1; }
libjpeg-turbo-progs_works() { command -v cjpeg >/dev/null 2>&1; }
firefox-esr_works() { [ -x /usr/bin/firefox-esr ] && /usr/bin/firefox-esr --version >/dev/null 2>&1; }
webkit2gtk-driver_works() { [ -x /usr/bin/WebKitWebDriver ] && compgen -G '/usr/lib/*/webkit2gtk-4.1/MiniBrowser' >/dev/null; }
xvfb_works() { [ -x /usr/bin/Xvfb ]; }

missing=()
for package in chromium firefox-esr webkit2gtk-driver xvfb postgresql nginx strace libjpeg-turbo-progs; do
  "${package}_works" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "ensure-debian-packages: missing or not working: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-debian-packages: not running as root, cannot install. Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-debian-packages: apt-get is not available on this machine. Install ${missing[*]}, then rerun." >&2
  exit 1
fi

echo "ensure-debian-packages: installing ${missing[*]} with apt-get..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update >&2; then
  echo "ensure-debian-packages: 'apt-get update' failed (no network to the Debian mirror?). Still missing: ${missing[*]}" >&2
  exit 1
fi
if ! apt-get install -y "${missing[@]}" >&2; then
  echo "ensure-debian-packages: 'apt-get install -y ${missing[*]}' failed." >&2
  exit 1
fi

for package in "${missing[@]}"; do
  if ! "${package}_works"; then
    echo "ensure-debian-packages: $package was installed but does not work." >&2
    exit 1
  fi
done
echo "ensure-debian-packages: installed ${missing[*]}" >&2
