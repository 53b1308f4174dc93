#!/usr/bin/env bash
# azurite.sh - Azurite, Microsoft's Azure Storage emulator (blob service only), on loopback, for ferry's
# Azure tests.
#
#   scripts/azurite.sh install   install Node.js/npm (Debian) if npm is missing, then Azurite (npm) if
#                                azurite-blob is missing; quick no-op when both are there
#   scripts/azurite.sh start     start azurite-blob (or reuse a running one), print the env file
#   scripts/azurite.sh stop      stop it and drop its data
#   scripts/azurite.sh status    print "running" (exit 0) or "stopped" (exit 1)
#   scripts/azurite.sh env       print the env file (exit 1 if not running)
#
# Settings (environment):
#   FERRY_AZURITE_DIR    run dir                   (default: <repo>/.run/azurite)
#   FERRY_AZURITE_PORT   blob port on 127.0.0.1    (default: 10000)
#
# The env file ($FERRY_AZURITE_DIR/env; the value is single-quoted so that `set -a; . env; set +a` works)
# holds FERRY_AZURITE_CONNECTION_STRING for Azurite's well-known
# development account (devstoreaccount1 and its published key: not a secret). Telemetry is switched off:
# nothing leaves the machine.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=daemon.sh
source "$REPO/scripts/daemon.sh"
RUN_DIR=$(realpath -m "${FERRY_AZURITE_DIR:-$REPO/.run/azurite}")
PORT=${FERRY_AZURITE_PORT:-10000}
ENDPOINT=http://127.0.0.1:$PORT/devstoreaccount1
ENV_FILE=$RUN_DIR/env
PID_FILE=$RUN_DIR/azurite.pid
DATA=$RUN_DIR/data
LOG=$RUN_DIR/azurite.out
ACCOUNT=devstoreaccount1
# Pinned: later releases declare Node.js 22+, newer than some Debian releases ship.
AZURITE_VERSION=3.34.0
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

log() { printf 'azurite.sh: %s\n' "$*" >&2; }

die() {
    if [[ -s $LOG ]]; then
        printf -- '--- last lines of %s ---\n' "$LOG" >&2
        tail -n 30 "$LOG" >&2
    fi
    log "error: $*"
    exit 1
}

# Any HTTP answer on the blob port (an unsigned request gets 403 or 400).
answers() {
    local code
    code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 3 "$ENDPOINT?comp=list" || true)
    [[ -n $code && $code != 000 ]]
}

# True if PID is alive and is an Azurite started with our data dir.
ours() {
    local a args
    [[ -n ${1:-} ]] || return 1
    mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
    for a in "${args[@]}"; do
        [[ $a == "$DATA" ]] && return 0
    done
    return 1
}

running() { ours "$(cat "$PID_FILE" 2>/dev/null || true)" && answers; }

lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    flock -w 120 9 || die "another azurite.sh holds $RUN_DIR/lock"
}

write_env() {
    cat >"$ENV_FILE" <<EOF
FERRY_AZURITE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$ENDPOINT;'
FERRY_AZURITE_ENDPOINT=$ENDPOINT
FERRY_AZURITE_DIR=$RUN_DIR
EOF
}

kill_ours() {
    local pid
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    ours "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in {1..50}; do
        ours "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_install() {
    if ! command -v npm >/dev/null; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
    fi
    if command -v azurite-blob >/dev/null; then
        log "azurite already installed"
        return 0
    fi
    npm install -g --no-fund --no-audit "azurite@$AZURITE_VERSION"
}

cmd_start() {
    command -v azurite-blob >/dev/null || die "azurite-blob not found (run: scripts/azurite.sh install)"
    command -v curl >/dev/null || die "curl not found"
    lock
    if [[ -f $ENV_FILE ]] && running; then
        log "reusing running Azurite in $RUN_DIR"
        cat "$ENV_FILE"
        return 0
    fi
    kill_ours
    rm -f "$ENV_FILE" "$PID_FILE"
    answers && die "something else already answers on $ENDPOINT (set FERRY_AZURITE_PORT)"
    mkdir -p "$DATA"
    # --loose: ignore headers Azurite does not implement rather than refuse the request;
    # --skipApiVersionCheck: the Python SDK may be newer than this Azurite.
    daemonize "$PID_FILE" azurite-blob --blobHost 127.0.0.1 --blobPort "$PORT" --location "$DATA" \
        --skipApiVersionCheck --loose --silent --disableTelemetry >>"$LOG" 2>&1 ||
        die "azurite-blob did not start (see $LOG)"
    local deadline=$((SECONDS + 60))
    until answers; do
        ours "$(cat "$PID_FILE")" || die "azurite-blob exited during start (see $LOG)"
        ((SECONDS < deadline)) || die "azurite-blob not up within 60s (see $LOG)"
        sleep 0.2
    done
    write_env
    log "Azurite up on $ENDPOINT"
    cat "$ENV_FILE"
}

cmd_stop() {
    lock
    kill_ours
    rm -rf "$DATA" "$ENV_FILE" "$PID_FILE"
    log "stopped"
}

cmd_status() {
    if [[ -f $ENV_FILE ]] && running; then
        echo running
    else
        echo stopped
        return 1
    fi
}

cmd_env() {
    cmd_status >/dev/null || { log "not running (run: scripts/azurite.sh start)"; return 1; }
    cat "$ENV_FILE"
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        echo "usage: $0 {install|start|stop|status|env}" >&2
        exit 2
        ;;
esac
