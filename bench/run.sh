#!/usr/bin/env bash
# run.sh - the benchmarks, against the RGW that `make bench` started. Extra arguments go to single.py.
set -euo pipefail
cd "$(dirname "$0")/.."
python bench/single.py "$@"
