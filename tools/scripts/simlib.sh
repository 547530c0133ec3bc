# simlib.sh - shell helpers shared by the demo and the end-to-end tests:
# start and stop a simulated host and the daemon, talk to them, read the
# daemon's status file.  Sourced, not run.  Expects $BIN and $WORK.

SIMHOST=${BIN}/xenshape-simhost
DAEMON=${BIN}/xenshaped

sim_start() {   # sim_start HOST_MIB
    "$SIMHOST" --socket "$WORK/sim.sock" --host-mib "$1" \
        >"$WORK/simhost.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 100); do
        [ -S "$WORK/sim.sock" ] && sim_ctl HOST >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "simulated host did not start; its log:" >&2
    cat "$WORK/simhost.log" >&2
    return 1
}

sim_ctl() {
    "$SIMHOST" ctl --socket "$WORK/sim.sock" "$@"
}

# sim_create NAME FRAMES VCPUS WORKLOAD: waits for room, prints the domid.
sim_create() {
    local out
    for _ in $(seq 600); do
        if out=$(sim_ctl CREATE "name=$1" "frames=$2" "vcpus=$3" \
                 "workload=$4" 2>&1); then
            echo "${out#*domid=}" | awk '{print $1}'
            return 0
        fi
        case $out in *ENOMEM*) sleep 0.2 ;; *) echo "$out" >&2; return 1 ;; esac
    done
    echo "no room for $1 after 120 s" >&2
    return 1
}

# The host's xenstore, as xenstore-read, -write and -rm use Xen's: as
# Dom0, or as a guest with --domid N first.  kv_write takes PATH VALUE
# pairs and writes them in one transaction.
kv_read() {
    "$SIMHOST" kv-read --socket "$WORK/sim.sock" "$@"
}
kv_write() {
    "$SIMHOST" kv-write --socket "$WORK/sim.sock" "$@"
}
kv_rm() {
    "$SIMHOST" kv-rm --socket "$WORK/sim.sock" "$@"
}

# kv KEY LINE: the value of KEY=VALUE in a line of key=value pairs.
kv() {
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -n1
}

daemon_start() {   # daemon_start EXTRA-ARGS...
    "$DAEMON" --backend sim --sim-socket "$WORK/sim.sock" \
        --store "$WORK/store" --store-size "${STORE_SIZE:-1G}" \
        --state-dir "$WORK/state" --status "$WORK/status" \
        --status-ms 500 --foreground "$@" >>"$WORK/daemon.log" 2>&1 &
    DAEMON_PID=$!
}

# The daemon's status line for a domain.
dom_status() {
    grep "^domain $1 " "$WORK/status" 2>/dev/null
}

# fail MESSAGE: end the test with MESSAGE and the end of the daemon's log
# (FAIL_TAIL lines, default 20).
fail() {
    echo "FAIL: $*" >&2
    echo "--- daemon log (end)" >&2
    tail -n "${FAIL_TAIL:-20}" "$WORK/daemon.log" >&2 || true
    exit 1
}

# report_errors: from now on (in functions too: set -E), a command that
# ends the script under set -e is named, with its line and status, and
# the end of the daemon's log follows.  Without it such a test stops
# without a word, and a failure on a machine nobody can log into (CI)
# cannot be told from another.
report_errors() {
    set -E
    trap 'e2e_error $? $LINENO "$BASH_COMMAND"' ERR
}

e2e_error() {
    echo "FAIL: $(basename "$0") line $2: status $1 from: $3" >&2
    if [ -s "$WORK/daemon.log" ]; then
        echo "--- daemon log (end)" >&2
        tail -n "${FAIL_TAIL:-20}" "$WORK/daemon.log" >&2 || true
    fi
}

# wait_until SECONDS WHAT COMMAND...: poll COMMAND five times a second
# until it succeeds; fail naming WHAT after SECONDS.
wait_until() {
    local secs=$1 what=$2 i
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "no $what after $secs s"
}

cleanup_sim() {
    # The shell reports each killed background job; nobody needs that.
    exec 2>/dev/null
    [ -n "${DAEMON_PID:-}" ] && kill -9 "$DAEMON_PID" 2>/dev/null || true
    if [ -n "${SIM_PID:-}" ]; then
        sim_ctl SHUTDOWN >/dev/null 2>&1 || true
        sleep 0.2
        kill -9 "$SIM_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null
    return 0
}

# sim_uuid DOMID: the VM's UUID, as cloud control finds it to key its
# policy: /local/domain/<domid>/vm holds /vm/<uuid>, as libxl writes it.
sim_uuid() {
    local vm
    vm=$(kv_read "/local/domain/$1/vm") || return 1
    echo "${vm#/vm/}"
}
