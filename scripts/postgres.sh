#!/usr/bin/env bash
# postgres.sh - a private PostgreSQL cluster on loopback for the migration service's tests.
#
#   scripts/postgres.sh install   install Debian's postgresql if initdb is missing
#   scripts/postgres.sh start     start the cluster (or reuse a running one), print the env file
#   scripts/postgres.sh stop      stop it (the data stays in the run dir)
#   scripts/postgres.sh status    print "running" (exit 0) or "stopped" (exit 1)
#   scripts/postgres.sh env       print the env file (exit 1 if not running)
#
# Everything lives in the run dir (default <repo>/.run/postgres): the data, the log, the Unix socket
# and the env file. The server listens on 127.0.0.1 only (default port 55432) and runs as the
# `postgres` system user (initdb refuses root). A login role `ferry` with a random password and the
# right to create databases owns a database `ferry`; the env file holds
#
#   FERRY_PG_URL=postgresql+psycopg://ferry:PASSWORD@127.0.0.1:55432/ferry
#
# Settings (environment): FERRY_PG_DIR (run dir), FERRY_PG_PORT (port).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=$(realpath -m "${FERRY_PG_DIR:-$REPO/.run/postgres}")
PORT=${FERRY_PG_PORT:-55432}
DATA=$RUN_DIR/data
SOCK=$RUN_DIR/sock
LOG=$RUN_DIR/postgres.log
ENV_FILE=$RUN_DIR/env
PASSWORD_FILE=$RUN_DIR/password

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
    [[ -s $LOG ]] && { printf -- '--- last lines of %s ---\n' "$LOG" >&2; tail -n 30 "$LOG" >&2; }
    log "error: $*"
    exit 1
}

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $dir && -x $dir/initdb ]] || return 1
    printf '%s\n' "$dir"
}

as_postgres() { runuser -u postgres -- "$@"; }

running() {
    local bin
    bin=$(bindir) || return 1
    [[ -f $DATA/PG_VERSION ]] && as_postgres "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() {
    local bin
    bin=$(bindir)
    as_postgres "$bin/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

cmd_install() {
    if bindir >/dev/null; then
        return 0
    fi
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    bindir >/dev/null || die "postgresql was installed but no initdb was found under /usr/lib/postgresql"
}

cmd_start() {
    local bin password
    bin=$(bindir) || die "postgresql is not installed: run scripts/postgres.sh install"
    id postgres >/dev/null 2>&1 || die "there is no postgres system user (install the postgresql package)"
    mkdir -p "$RUN_DIR"
    chmod 755 "$RUN_DIR"
    if ! running; then
        if [[ ! -f $DATA/PG_VERSION ]]; then
            rm -rf "$DATA"
            mkdir -p "$DATA"
            chown postgres:postgres "$DATA"
            chmod 700 "$DATA"
            as_postgres "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
                -E UTF8 --locale=C.UTF-8 >"$RUN_DIR/initdb.log" 2>&1 || die "initdb failed (see $RUN_DIR/initdb.log)"
        fi
        mkdir -p "$SOCK"
        chown postgres:postgres "$SOCK"
        touch "$LOG"
        chown postgres:postgres "$LOG"
        as_postgres "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$SOCK" \
            start >/dev/null || die "the server did not start"
    fi
    if [[ ! -s $PASSWORD_FILE ]]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PASSWORD_FILE")
    fi
    password=$(cat "$PASSWORD_FILE")
    if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'ferry'") ]]; then
        psql_admin -c "CREATE ROLE ferry LOGIN CREATEDB PASSWORD '$password'" >/dev/null
    else
        psql_admin -c "ALTER ROLE ferry LOGIN CREATEDB PASSWORD '$password'" >/dev/null
    fi
    if [[ -z $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'ferry'") ]]; then
        psql_admin -c "CREATE DATABASE ferry OWNER ferry" >/dev/null
    fi
    (
        umask 077
        printf 'FERRY_PG_URL=postgresql+psycopg://ferry:%s@127.0.0.1:%s/ferry\nFERRY_PG_DIR=%s\n' \
            "$password" "$PORT" "$RUN_DIR" >"$ENV_FILE"
    )
    cat "$ENV_FILE"
}

cmd_stop() {
    local bin
    if running; then
        bin=$(bindir)
        as_postgres "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    fi
    rm -f "$ENV_FILE"
}

case ${1:-} in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) if running; then echo running; else echo stopped; exit 1; fi ;;
    env) running && [[ -f $ENV_FILE ]] && cat "$ENV_FILE" || exit 1 ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
