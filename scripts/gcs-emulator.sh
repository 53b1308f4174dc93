#!/usr/bin/env bash
# gcs-emulator.sh - a Google Cloud Storage emulator (the PyPI package
# gcp-storage-emulator) on loopback, for ferry's tests.
#
#   scripts/gcs-emulator.sh install   check that the emulator is installed (pyproject's dev extra
#                                     installs it; this script installs nothing)
#   scripts/gcs-emulator.sh start     start it (or reuse a running one), print the env
#   scripts/gcs-emulator.sh stop      stop it (its data lives in memory and is lost)
#   scripts/gcs-emulator.sh status    print "running" (exit 0) or "stopped" (exit 1)
#   scripts/gcs-emulator.sh env       print the env file (exit 1 if not running)
#
# The emulator runs from the project's virtualenv (.venv/bin/python) when that has it, else from the
# global python. Settings (environment):
#
#   FERRY_GCS_DIR    run dir              (default: <repo>/.run/gcs)
#   FERRY_GCS_PORT   port on 127.0.0.1    (default: 9023)
#
# Use it from a shell or a test with:  set -a; . "$FERRY_GCS_DIR/env"; set +a
# The env file holds FERRY_GCS_ENDPOINT (the emulator's URL: a remote's `endpoint`, or
# STORAGE_EMULATOR_HOST for gs:// URLs). The emulator accepts any bucket name and needs no credentials.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=daemon.sh
source "$REPO/scripts/daemon.sh"
RUN_DIR=$(realpath -m "${FERRY_GCS_DIR:-$REPO/.run/gcs}")
PORT=${FERRY_GCS_PORT:-9023}
ENDPOINT=http://127.0.0.1:$PORT
PID_FILE=$RUN_DIR/emulator.pid
OUT=$RUN_DIR/emulator.out
ENV_FILE=$RUN_DIR/env
MODULE=gcp_storage_emulator

log() { printf 'gcs-emulator.sh: %s\n' "$*" >&2; }
die() {
    if [[ -s $OUT ]]; then
        printf -- '--- last lines of %s ---\n' "$OUT" >&2
        tail -n 30 "$OUT" >&2
    fi
    log "error: $1"
    exit 1
}

# The python that has the emulator: the virtualenv's if it has it, else the global one.
python_with_emulator() {
    local py
    for py in "$REPO/.venv/bin/python" "$(command -v python3 || true)" "$(command -v python || true)"; do
        [[ -n $py && -x $py ]] || continue
        if "$py" -c "import $MODULE" >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

# True if PID is alive and is an emulator serving our port.
ours() {
    local pid=$1 args
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $args == *"$MODULE start"* && $args == *"--port $PORT"* ]]
}

pid_of() { cat "$PID_FILE" 2>/dev/null || true; }

# The emulator's health check: GET / answers "OK".
answers() {
    [[ $(curl --noproxy '*' -s --max-time 3 "$ENDPOINT/" 2>/dev/null || true) == OK ]]
}

healthy() { ours "$(pid_of)" && answers; }

lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    flock -w 120 9 || die "another gcs-emulator.sh holds $RUN_DIR/lock"
}

write_env() {
    cat >"$ENV_FILE.tmp" <<EOF
FERRY_GCS_ENDPOINT=$ENDPOINT
FERRY_GCS_DIR=$RUN_DIR
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

cmd_install() {
    local py
    py=$(python_with_emulator) || die "gcp-storage-emulator is not installed: run pip install -e '.[dev]' (or make install)"
    log "gcp-storage-emulator found ($py)"
}

cmd_start() {
    lock
    if healthy; then
        write_env
        cat "$ENV_FILE"
        return 0
    fi
    local py pid
    py=$(python_with_emulator) || die "gcp-storage-emulator is not installed: run pip install -e '.[dev]' (or make install)"
    stop_daemon
    answers && die "something else already answers on $ENDPOINT"
    rm -f "$ENV_FILE"
    daemonize "$PID_FILE" "$py" -m "$MODULE" start --host 127.0.0.1 --port "$PORT" --in-memory -q \
        >"$OUT" 2>&1 || die "the emulator did not start (see $OUT)"
    pid=$(cat "$PID_FILE")
    local deadline=$((SECONDS + 30))
    until answers; do
        ours "$pid" || die "the emulator exited during start (see $OUT)"
        ((SECONDS < deadline)) || die "the emulator did not answer on $ENDPOINT within 30s (see $OUT)"
        sleep 0.2
    done
    write_env
    cat "$ENV_FILE"
}

stop_daemon() {
    local pid
    pid=$(pid_of)
    if ours "$pid"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            ours "$pid" || break
            sleep 0.1
        done
        if ours "$pid"; then
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PID_FILE"
}

cmd_stop() {
    lock
    stop_daemon
    rm -f "$ENV_FILE"
}

cmd_status() {
    if healthy; then
        echo running
    else
        echo stopped
        return 1
    fi
}

cmd_env() {
    cmd_status >/dev/null || { log "not running (run: scripts/gcs-emulator.sh start)"; return 1; }
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
