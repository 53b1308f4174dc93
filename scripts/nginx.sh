#!/usr/bin/env bash
# nginx.sh - a private nginx on loopback serving static files, for ferry's HTTP source (URL lists) tests.
#
#   scripts/nginx.sh install   install Debian's nginx and its njs module if either is missing
#   scripts/nginx.sh start     start it (or reuse a running one; a changed config is reloaded), print the env
#   scripts/nginx.sh stop      stop it (the files under www/ stay)
#   scripts/nginx.sh status    print "running" (exit 0) or "stopped" (exit 1)
#   scripts/nginx.sh env       print the env file (exit 1 if not running)
#
# Everything lives in the run dir (default <repo>/.run/nginx): nginx.conf, the njs script, logs, temp
# folders, the pid file and www/, the document root. Static files get nginx's defaults: byte ranges,
# ETags, Last-Modified, If-Range, If-Match and If-Unmodified-Since. Some locations are special:
#
#   /private/...   always 403 Forbidden
#   /noetag/...    no ETag (only Last-Modified to pin reads to)
#   /nohead/...    405 to a HEAD
#   /noranges/...  byte ranges ignored (a whole 200 to every GET)
#   /signed/...    403 unless the URL carries a valid CDN "type A" signature for the fixed test key:
#                  ?auth_key=<timestamp>-<rand>-<uid>-<md5hex("<path>-<timestamp>-<rand>-<uid>-<key>")>,
#                  where <path> is the request's path as sent, and timestamp + 1800 s is not past.
#                  nginx's secure_link compares base64url digests, not the hex digest type A uses, so
#                  the check is a few lines of njs (typea.js).
#
# The env file holds FERRY_NGINX_URL, FERRY_NGINX_WWW and FERRY_NGINX_CDN_KEY (the test key, not a
# secret). Settings (environment): FERRY_NGINX_DIR (run dir), FERRY_NGINX_PORT (default 8089).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=$(realpath -m "${FERRY_NGINX_DIR:-$REPO/.run/nginx}")
PORT=${FERRY_NGINX_PORT:-8089}
URL=http://127.0.0.1:$PORT
CONF=$RUN_DIR/nginx.conf
PID_FILE=$RUN_DIR/nginx.pid
ENV_FILE=$RUN_DIR/env
LOG=$RUN_DIR/error.log
WWW=$RUN_DIR/www
TEST_KEY=ferry-test-cdn-key-7d1f0c

log() { printf 'nginx.sh: %s\n' "$*" >&2; }

die() {
    if [[ -s $LOG ]]; then
        printf -- '--- last lines of %s ---\n' "$LOG" >&2
        tail -n 30 "$LOG" >&2
    fi
    log "error: $*"
    exit 1
}

modules_dir() {
    local dir
    dir=$(nginx -V 2>&1 | tr ' ' '\n' | sed -n 's/^--modules-path=//p')
    printf '%s\n' "${dir:-/usr/lib/nginx/modules}"
}

have_binaries() {
    command -v nginx >/dev/null && [[ -f $(modules_dir)/ngx_http_js_module.so ]]
}

# True if the pid file names a live nginx master started with our config.
ours() {
    local pid a args
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    [[ -n $pid ]] || return 1
    mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for a in "${args[@]}"; do
        [[ $a == *"$CONF"* ]] && return 0
    done
    return 1
}

answers() {
    local code
    code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 3 "$URL/private/" || true)
    [[ -n $code && $code != 000 ]]
}

running() { ours && answers; }

lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    flock -w 120 9 || die "another nginx.sh holds $RUN_DIR/lock"
}

# The njs check of a type A signature (see the header).
write_js() {
    cat >"$1" <<EOF
var crypto = require('crypto');
var KEY = '$TEST_KEY';
var TTL = 1800;

function check(r) {
    var value = r.args.auth_key;
    if (typeof value !== 'string') {
        return '0';
    }
    var f = value.split('-');
    if (f.length !== 4 || !/^[0-9]+\$/.test(f[0]) || Number(f[0]) + TTL < Date.now() / 1000) {
        return '0';
    }
    var path = r.variables.request_uri.split('?')[0];
    var text = path + '-' + f[0] + '-' + f[1] + '-' + f[2] + '-' + KEY;
    return crypto.createHash('md5').update(text).digest('hex') === f[3] ? '1' : '0';
}

export default {check};
EOF
}

write_conf() {
    local user_line=""
    [[ $(id -u) == 0 ]] && user_line="user www-data;"
    cat >"$1" <<EOF
# Written by scripts/nginx.sh; edits are overwritten on start.
load_module $(modules_dir)/ngx_http_js_module.so;
$user_line
worker_processes 2;
pid $PID_FILE;
error_log $LOG warn;

events {
    worker_connections 512;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $RUN_DIR/access.log;
    sendfile on;
    client_body_temp_path $RUN_DIR/tmp/body;
    proxy_temp_path $RUN_DIR/tmp/proxy;
    fastcgi_temp_path $RUN_DIR/tmp/fastcgi;
    uwsgi_temp_path $RUN_DIR/tmp/uwsgi;
    scgi_temp_path $RUN_DIR/tmp/scgi;

    js_path $RUN_DIR;
    js_import typea from typea.js;
    js_set \$typea_ok typea.check;

    server {
        listen 127.0.0.1:$PORT;
        root $WWW;

        location / {
        }

        location /private/ {
            return 403;
        }

        location /noetag/ {
            etag off;
        }

        location /nohead/ {
            if (\$request_method = HEAD) {
                return 405;
            }
        }

        location /noranges/ {
            max_ranges 0;
        }

        location /signed/ {
            if (\$typea_ok != "1") {
                return 403;
            }
        }
    }
}
EOF
}

write_env() {
    cat >"$ENV_FILE" <<EOF
FERRY_NGINX_URL=$URL
FERRY_NGINX_WWW=$WWW
FERRY_NGINX_CDN_KEY=$TEST_KEY
FERRY_NGINX_DIR=$RUN_DIR
EOF
}

cmd_install() {
    if have_binaries; then
        log "nginx and its njs module already installed"
        return 0
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light libnginx-mod-http-js ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y nginx libnginx-mod-http-js
}

cmd_start() {
    have_binaries || die "nginx or its njs module not found (run: scripts/nginx.sh install)"
    command -v curl >/dev/null || die "curl not found"
    lock
    local d
    for d in "$WWW" "$WWW/signed" "$WWW/noetag" "$WWW/nohead" "$WWW/noranges"; do
        mkdir -p "$d"
        chmod 755 "$d"
    done
    mkdir -p "$RUN_DIR/tmp"
    chmod 755 "$RUN_DIR"
    write_conf "$CONF.new"
    write_js "$RUN_DIR/typea.js.new"
    local changed=0
    cmp -s "$CONF.new" "$CONF" || changed=1
    cmp -s "$RUN_DIR/typea.js.new" "$RUN_DIR/typea.js" || changed=1
    mv "$CONF.new" "$CONF"
    mv "$RUN_DIR/typea.js.new" "$RUN_DIR/typea.js"
    nginx -t -q -p "$RUN_DIR" -e "$LOG" -c "$CONF" || die "the generated config does not pass nginx -t"
    if running; then
        if ((changed)); then
            nginx -p "$RUN_DIR" -e "$LOG" -c "$CONF" -s reload 9>&- || die "reload failed"
            sleep 1 # the old workers finish their requests and leave
            log "reloaded the changed config"
        else
            log "reusing the running nginx in $RUN_DIR"
        fi
    else
        if ours; then
            kill "$(cat "$PID_FILE")" 2>/dev/null || true
            sleep 0.5
        fi
        rm -f "$PID_FILE"
        nginx -p "$RUN_DIR" -e "$LOG" -c "$CONF" 9>&- || die "nginx did not start"
        for _ in $(seq 1 50); do
            answers && break
            sleep 0.1
        done
        running || die "nginx started but does not answer on $URL"
        log "started on $URL"
    fi
    write_env
    cat "$ENV_FILE"
}

cmd_stop() {
    lock
    if ours; then
        local pid
        pid=$(cat "$PID_FILE")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PID_FILE" "$ENV_FILE"
    log "stopped"
}

cmd_status() {
    if running; then
        echo running
    else
        echo stopped
        return 1
    fi
}

cmd_env() {
    cmd_status >/dev/null || { log "not running (run: scripts/nginx.sh start)"; return 1; }
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
