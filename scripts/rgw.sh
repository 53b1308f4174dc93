#!/usr/bin/env bash
# rgw.sh - a throw-away single-node Ceph cluster with the RADOS Gateway (S3 API)
# on loopback, for ferry's tests, demo and benchmarks.
#
#   scripts/rgw.sh install   install the Debian packages if radosgw is missing
#   scripts/rgw.sh start     start the cluster (or reuse a healthy one), print the env
#   scripts/rgw.sh stop      stop every daemon of the run dir and drop its data
#   scripts/rgw.sh status    print "running" (exit 0) or "stopped" (exit 1)
#   scripts/rgw.sh env       print the env file (exit 1 if not running)
#
# One monitor, one memstore OSD (all object data lives in RAM and is lost on
# stop), one radosgw; no manager, no systemd, nothing under /etc/ceph or
# /var/lib/ceph. Everything lives in the run dir. Settings (environment):
#
#   FERRY_RGW_DIR        run dir                 (default: <repo>/.run/rgw)
#   FERRY_RGW_PORT       S3 port on 127.0.0.1    (default: 7480)
#   FERRY_RGW_MON_PORT   monitor port            (default: FERRY_RGW_PORT + 10000)
#   FERRY_RGW_MEM_BYTES  memstore capacity       (default: 8 GiB)
#
# Use it from a shell or a test with:  set -a; . "$FERRY_RGW_DIR/env"; set +a
# Two S3 users with fixed keys are created: ferry1 and ferry2. S3 is path-style
# only (no rgw dns name); bucket names need 3+ characters.
#
# Memory: the OSD keeps every byte in RAM, up to FERRY_RGW_MEM_BYTES. Deleted
# data is freed by the RGW garbage collector about 15-30 s later. If the OSD
# ever gets full, uploads hang and the cluster cannot recover by itself; the
# next "start" notices and rebuilds it from scratch (all data is lost).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=daemon.sh
source "$REPO/scripts/daemon.sh"
RUN_DIR=$(realpath -m "${FERRY_RGW_DIR:-$REPO/.run/rgw}")
PORT=${FERRY_RGW_PORT:-7480}
MON_PORT=${FERRY_RGW_MON_PORT:-$((PORT + 10000))}
MEM_BYTES=${FERRY_RGW_MEM_BYTES:-8589934592}

CONF=$RUN_DIR/ceph.conf
ENV_FILE=$RUN_DIR/env
DATA=$RUN_DIR/data
LOGS=$RUN_DIR/log
PIDS=$RUN_DIR/run
ENDPOINT=http://127.0.0.1:$PORT
# Daemon names (pid files run/NAME.pid, logs log/NAME.{log,out}).
DAEMONS=(mon.a osd.0 client.rgw)
USERS=("ferry1 ferry1-access ferry1-secret-key" "ferry2 ferry2-access ferry2-secret-key")

log() { printf 'rgw.sh: %s\n' "$*" >&2; }

# die MESSAGE [LOGFILE...]: show the tail of each non-empty LOGFILE, then a
# one-line message.
die() {
    local msg=$1 f
    shift
    for f in "$@"; do
        if [[ -s $f ]]; then
            printf -- '--- last lines of %s ---\n' "$f" >&2
            tail -n 30 "$f" >&2
        fi
    done
    log "error: $msg"
    exit 1
}

# Any HTTP answer on the S3 port (anonymous requests get 200 or 403).
http_answers() {
    local code
    code=$(curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 3 "$ENDPOINT/" || true)
    [[ -n $code && $code != 000 ]]
}

# True if PID is alive and was started with our ceph.conf (no forks: this
# runs for every process on the machine when looking for leftovers).
ours() {
    local a args
    mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
    for a in "${args[@]}"; do
        [[ $a == "$CONF" ]] && return 0
    done
    return 1
}

pid_of() { cat "$PIDS/$1.pid" 2>/dev/null || true; }

# our_pids [COMM]: pids of processes started with our ceph.conf (optionally
# only those named COMM), whether or not a pid file still points at them.
our_pids() {
    local p comm
    for p in /proc/[0-9]*; do
        if [[ -n ${1:-} ]]; then
            read -r comm 2>/dev/null <"$p/comm" || continue
            [[ $comm == "$1" ]] || continue
        fi
        ours "${p#/proc/}" && echo "${p#/proc/}"
    done
    return 0
}

# Healthy = all three daemons alive (by pid file) and RGW answering HTTP.
healthy() {
    local d pid
    for d in "${DAEMONS[@]}"; do
        pid=$(pid_of "$d")
        [[ -n $pid ]] && ours "$pid" || return 1
    done
    http_answers
}

ceph_cli() { timeout 15 ceph -c "$CONF" --connect-timeout 10 "$@"; }

# wait_for SECONDS NAME COMMAND...: poll COMMAND every 0.5 s until it
# succeeds; fail early if daemon NAME dies, or after SECONDS.
wait_for() {
    local secs=$1 name=$2
    shift 2
    local deadline=$((SECONDS + secs)) logs=("$LOGS/$name.out" "$LOGS/$name.log")
    until "$@" >/dev/null 2>&1; do
        ours "$(pid_of "$name")" || die "$name exited during start (see $LOGS/$name.log)" "${logs[@]}"
        ((SECONDS < deadline)) || die "$name not up within ${secs}s (see $LOGS/$name.log)" "${logs[@]}"
        sleep 0.5
    done
}

# spawn NAME COMMAND...: run a daemon in the foreground of its own session,
# output to log/NAME.out, pid to run/NAME.pid. fd 9 (the lock) is not inherited.
spawn() {
    local name=$1
    shift
    daemonize "$PIDS/$name.pid" nohup "$@" -f >>"$LOGS/$name.out" 2>&1 || die "$name did not start"
}

# alive PID...: print those PIDs that are still processes of this run dir.
alive() {
    local pid
    for pid in "$@"; do
        if [[ -n $pid ]] && ours "$pid"; then echo "$pid"; fi
    done
    return 0
}

# term_wait SECONDS PID...: TERM, wait up to SECONDS, then KILL and wait.
term_wait() {
    local secs=$1 pids
    shift
    mapfile -t pids < <(alive "$@" | sort -u)
    ((${#pids[@]})) || return 0
    if ((secs > 0)); then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        local deadline=$((SECONDS + secs))
        while ((SECONDS < deadline)); do
            mapfile -t pids < <(alive "${pids[@]}")
            ((${#pids[@]})) || return 0
            sleep 0.2
        done
        log "killing stubborn processes: ${pids[*]}"
    fi
    kill -KILL "${pids[@]}" 2>/dev/null || true
    for _ in {1..25}; do
        mapfile -t pids < <(alive "${pids[@]}")
        ((${#pids[@]})) || return 0
        sleep 0.2
    done
}

# kill_all GRACE: kill everything that belongs to this run dir, found by pid
# file and by the ceph.conf path in the command line (for leftovers whose pid
# file is gone). GRACE seconds between TERM and KILL; 0 means KILL at once.
# radosgw goes first (its clean shutdown talks to the OSD). The OSD always gets
# KILL: on a clean shutdown memstore dumps all its RAM into the data dir, which
# is slow and useless (the data is wiped on start anyway).
kill_all() {
    local grace=$1 pids
    mapfile -t pids < <(pid_of client.rgw; our_pids radosgw)
    term_wait "$grace" "${pids[@]}"
    mapfile -t pids < <(pid_of osd.0; our_pids ceph-osd)
    term_wait 0 "${pids[@]}"
    mapfile -t pids < <(pid_of mon.a; our_pids ceph-mon)
    term_wait "$grace" "${pids[@]}"
    mapfile -t pids < <(our_pids)
    term_wait "$grace" "${pids[@]}"
}

# Drop the cluster state (the logs stay; a fresh start keeps one old set in log.prev).
wipe() {
    rm -rf "$DATA" "$PIDS" "$RUN_DIR/crash" "$CONF" "$RUN_DIR/keyring" "$RUN_DIR/monmap" "$ENV_FILE"
}

write_conf() {
    local fsid=$1
    # \$name and \$id are expanded by Ceph, not by the shell.
    cat >"$CONF" <<EOF
# Generated by scripts/rgw.sh; rewritten on every fresh start.
[global]
fsid = $fsid
mon initial members = a
mon host = v2:127.0.0.1:$MON_PORT
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# With auth none only the crc wire mode works; radosgw defaults to "secure"
# towards the monitor and would fail with "get_initial_auth_request returned -13".
ms mon client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
keyring = $RUN_DIR/keyring
run dir = $PIDS
crash dir = $RUN_DIR/crash
mon cluster log file = $LOGS/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# Commit monitor updates (pool creations etc.) every 0.1 s instead of 1 s:
# boot and the first bucket creation are several seconds faster.
paxos propose interval = 0.1

[mon]
mon data = $DATA/\$name
admin socket = $PIDS/\$name.asok
pid file = $PIDS/\$name.pid
log file = $LOGS/\$name.log

[osd]
osd data = $DATA/\$name
osd objectstore = memstore
memstore device bytes = $MEM_BYTES
osd memory target = 1073741824
public addr = 127.0.0.1
cluster addr = 127.0.0.1
admin socket = $PIDS/\$name.asok
pid file = $PIDS/\$name.pid
log file = $LOGS/\$name.log

[client]
rgw gc obj min wait = 0
rgw gc processor period = 15
rgw gc processor max time = 15

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DATA/\$name
admin socket = $PIDS/\$name.asok
pid file = $PIDS/\$name.pid
log file = $LOGS/\$name.log
EOF
}

osd_up() { ceph_cli osd stat -f json | grep -q '"num_up_osds":1'; }

# A full memstore OSD blocks all writes, and even the garbage collector's
# deletes, for good: such a cluster is as good as dead.
osd_not_full() {
    local dump
    dump=$(ceph_cli osd dump) || return 1
    ! grep -Eq '^osd\.0 .*[ ,]full([ ,]|$)' <<<"$dump"
}

create_users() {
    local u uid access secret
    for u in "${USERS[@]}"; do
        read -r uid access secret <<<"$u"
        if ! timeout 60 radosgw-admin -c "$CONF" user info --uid "$uid" >/dev/null 2>&1; then
            timeout 60 radosgw-admin -c "$CONF" user create --uid "$uid" --display-name "$uid" \
                --access-key "$access" --secret "$secret" >/dev/null ||
                die "could not create S3 user $uid"
        fi
    done
}

write_env() {
    cat >"$ENV_FILE" <<EOF
FERRY_RGW_ENDPOINT=$ENDPOINT
FERRY_RGW_ACCESS_KEY=ferry1-access
FERRY_RGW_SECRET_KEY=ferry1-secret-key
FERRY_RGW_ACCESS_KEY_2=ferry2-access
FERRY_RGW_SECRET_KEY_2=ferry2-secret-key
FERRY_RGW_DIR=$RUN_DIR
EOF
}

fresh_start() {
    local t0=$SECONDS fsid osd_uuid osd_id
    kill_all 0
    wipe
    http_answers && die "something else already answers on $ENDPOINT (set FERRY_RGW_PORT)"
    rm -rf "$LOGS.prev"
    if [[ -d $LOGS ]]; then mv "$LOGS" "$LOGS.prev"; fi
    mkdir -p "$DATA" "$LOGS" "$PIDS" "$RUN_DIR/crash"
    # On any failure below, do not leave half a cluster behind (logs stay).
    trap 'kill_all 0' EXIT

    fsid=$(uuidgen)
    write_conf "$fsid"

    log "creating monitor (127.0.0.1:$MON_PORT)"
    ceph-authtool --create-keyring "$RUN_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$RUN_DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$RUN_DIR/monmap" --keyring "$RUN_DIR/keyring" \
        >>"$LOGS/mon.a.out" 2>&1 || die "ceph-mon --mkfs failed" "$LOGS/mon.a.out"
    spawn mon.a ceph-mon -c "$CONF" -i a
    wait_for 30 mon.a ceph_cli mon stat

    log "creating OSD (memstore, $MEM_BYTES bytes)"
    osd_uuid=$(uuidgen)
    osd_id=$(ceph_cli osd new "$osd_uuid") || die "ceph osd new failed"
    [[ $osd_id == 0 ]] || die "unexpected OSD id '$osd_id'"
    mkdir -p "$DATA/osd.0"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$LOGS/osd.0.out" 2>&1 ||
        die "ceph-osd --mkfs failed" "$LOGS/osd.0.out"
    spawn osd.0 ceph-osd -c "$CONF" -i 0
    wait_for 60 osd.0 osd_up

    log "starting radosgw on $ENDPOINT"
    mkdir -p "$DATA/client.rgw"
    spawn client.rgw radosgw -c "$CONF" -n client.rgw
    wait_for 90 client.rgw http_answers

    create_users
    write_env
    trap - EXIT
    log "cluster up in $((SECONDS - t0))s"
}

need_binaries() {
    local b
    for b in radosgw radosgw-admin ceph-mon ceph-osd ceph monmaptool ceph-authtool curl uuidgen; do
        command -v "$b" >/dev/null || die "$b not found (run: scripts/rgw.sh install)"
    done
}

# Serialise start/stop of one run dir.
lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    flock -w 300 9 || die "another rgw.sh holds $RUN_DIR/lock"
}

cmd_install() {
    if command -v radosgw >/dev/null; then
        log "radosgw already installed"
        return 0
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y radosgw ceph-mon ceph-osd ceph-common
}

cmd_start() {
    need_binaries
    lock
    if [[ -f $ENV_FILE ]] && healthy && osd_not_full; then
        log "reusing running cluster in $RUN_DIR"
    else
        fresh_start
    fi
    cat "$ENV_FILE"
}

cmd_stop() {
    lock
    kill_all 5
    wipe
    log "stopped"
}

cmd_status() {
    if [[ -f $ENV_FILE ]] && healthy; then
        echo running
    else
        echo stopped
        return 1
    fi
}

cmd_env() {
    cmd_status >/dev/null || { log "not running (run: scripts/rgw.sh start)"; return 1; }
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
