#!/usr/bin/env bash
# The HTML report's tests open the page in headless Chromium (Debian's package; about
# 120 MB, under a minute with the download). Install it when it is missing; `make test`
# runs this first.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: chromium is missing and apt-get is not available: install Chromium (the 'chromium' command)" >&2
    exit 2
fi
echo "installing chromium (apt-get) for the HTML report tests"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
$SUDO apt-get update -q -o=Dpkg::Use-Pty=0 >/dev/null
$SUDO apt-get install -y -q --no-install-recommends -o=Dpkg::Use-Pty=0 chromium >/dev/null
chromium --version
