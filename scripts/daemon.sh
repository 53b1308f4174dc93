# daemon.sh - sourced by the server scripts: start a daemon in a session of its own.
#
# daemonize PIDFILE COMMAND...: run COMMAND detached (setsid: it outlives the shell and the test's
# process group that started it), standard input from /dev/null, fd 9 (the scripts' lock) not inherited;
# the caller redirects its output. PIDFILE gets the daemon's own PID: setsid forks when the caller leads
# a process group (a shell with job control), so $! would name a process that exits at once; the PID is
# written from inside, just before COMMAND replaces that shell.
daemonize() {
    local pid_file=$1
    shift
    rm -f "$pid_file"
    setsid bash -c 'echo $$ >"$0.new" && mv "$0.new" "$0" && exec "$@"' "$pid_file" "$@" </dev/null 9>&- &
    local _
    for _ in {1..100}; do
        [[ -s $pid_file ]] && return 0
        sleep 0.05
    done
    return 1
}
