#!/usr/bin/env bash
# demo.sh - ferry in one minute against a local Ceph RGW: upload a file, kill the upload halfway with
# SIGKILL, run the same command again and watch it resume, then download it back and verify it.
# Run through `make demo`, which installs everything and starts the server first.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$REPO/.run/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
set -a
# shellcheck disable=SC1091
. "$REPO/.run/rgw/env"
set +a
export FERRY_HOME=$DEMO/home FERRY_CONFIG=$DEMO/config.toml
cat >"$FERRY_CONFIG" <<TOML
[remotes.demo]
endpoint = "$FERRY_RGW_ENDPOINT"
access_key = "$FERRY_RGW_ACCESS_KEY"
secret_key = "$FERRY_RGW_SECRET_KEY"
TOML
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

python - <<PY
import boto3
s3 = boto3.client("s3", endpoint_url="$FERRY_RGW_ENDPOINT", aws_access_key_id="$FERRY_RGW_ACCESS_KEY",
                  aws_secret_access_key="$FERRY_RGW_SECRET_KEY", region_name="us-east-1")
try:
    s3.create_bucket(Bucket="ferry-demo")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
PY

say "A 256 MiB file to move"
head -c $((256 * 1024 * 1024)) /dev/urandom >"$DEMO/big.bin"
sha256sum "$DEMO/big.bin" | tee "$DEMO/big.sha256"

say "Upload it, slowed to 64 MiB/s, and kill -9 the upload after 2 seconds"
set -x
ferry cp "$DEMO/big.bin" demo://ferry-demo/big.bin --verify-md5 --bwlimit 64MiB &
{ set +x; } 2>/dev/null
pid=$!
sleep 2
kill -9 "$pid"
wait "$pid" || echo "(ferry was killed: exit status $?)"

say "The same command again: it resumes from the part record"
set -x
ferry cp "$DEMO/big.bin" demo://ferry-demo/big.bin --verify-md5
{ set +x; } 2>/dev/null

say "Download it back, verifying length and MD5, and compare"
set -x
ferry cp demo://ferry-demo/big.bin "$DEMO/back.bin" --verify-length --verify-md5
{ set +x; } 2>/dev/null
(cd "$DEMO" && sed 's/big.bin/back.bin/' big.sha256 | sha256sum --check)
say "Done: resumed after SIGKILL, byte-identical round trip"
