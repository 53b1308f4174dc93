#!/usr/bin/env bash
# bootstrap.sh - the system packages ferry's build needs on a fresh Debian machine: Python 3.11+ with venv,
# curl, and the headless browser the dashboard tests drive (chromium, chromium-driver). Quick when they are
# already there. Ceph RGW is installed by scripts/rgw.sh.
set -euo pipefail

need=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v curl >/dev/null || need+=(curl)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if ((${#need[@]})); then
    echo "bootstrap.sh: installing ${need[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
