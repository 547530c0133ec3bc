#!/bin/bash
# e2e-shape.sh - xenshaped --shape on the simulated host, steered through
# the host's xenstore as cloud control steers it on Xen: the same steps as
# scenarios 5 and 6 of the real-Xen lane (tools/xen-lane/dom0/scenarios.sh),
# with kv_write for xenstore-write.  Host policy goes under /xenshape/host
# and per-VM policy under /xenshape/vm/<uuid> (docs/shaping.md); status
# is followed under /local/domain/<domid>/xenshape.  It checks that:
#   - the policy in force is mirrored, read-only, for each guest;
#   - a guest can write no policy and read no other guest's status;
#   - a low threshold caps a busy domain below its usage and pages it out;
#   - a pin brings it fully back in, and its state says pinned;
#   - an invalid value is refused with its reason in status, and the last
#     valid value stays in force until a valid one replaces it;
#   - SIGHUP re-reads the policy, and a destroyed domain's status goes
#     with its home and is not written back;
#   - SIGTERM stops the daemon cleanly and no guest frame was ever wrong.
# Every wait is bounded; no timing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-shape.XXXXXX")
. tools/scripts/simlib.sh
FAIL_TAIL=30
trap 'cleanup_sim; rm -rf "$WORK"' EXIT
report_errors


# wait_until SECONDS WHAT COMMAND...: until COMMAND succeeds.

# st DOMID KEY: a status key of a domain, read as Dom0.
st() {
    kv_read "/local/domain/$1/xenshape/$2" 2>/dev/null
}
st_is() {
    [ "$(st "$1" "$2")" = "$3" ]
}
st_has() {
    st "$1" "$2" | grep -q -- "$3"
}
show() {
    local k
    for k in state target-frames resident-frames paged-frames usage-frames; do
        printf '%s=%s ' "$k" "$(st "$1" "$k")"
    done
    echo
}
# denied kv_read|kv_write ARGS...: must fail with EACCES.
denied() {
    local what=$1
    shift
    if "$what" "$@" >/dev/null 2>"$WORK/err"; then
        fail "$what $* was allowed"
    fi
    grep -q "Permission denied" "$WORK/err" ||
        fail "$what $*: $(cat "$WORK/err"), not a permission error"
}

sim_start 96
# A busy guest writing over half its memory, a quieter one, an idle one.
d1=$(sim_create busy 4096 1 'hot:0.5:1,rate=1000,write=0.5')
d2=$(sim_create quiet 4096 1 'hot:0.2:0.9,rate=200')
d3=$(sim_create spare 1024 1 idle)
u1=$(kv_read "/local/domain/$d1/vm")
u1=${u1#/vm/}
u2=$(kv_read "/local/domain/$d2/vm")
u2=${u2#/vm/}
echo "domains: $d1 ($u1), $d2 ($u2), $d3"

# Cloud control: host policy, and the VMs' policy by UUID.
kv_write /xenshape/host/reserved 8M /xenshape/host/interval-ms 500 \
    /xenshape/host/shrink-rate 25%
kv_write "/xenshape/vm/$u1/priority" 800 "/xenshape/vm/$u2/priority" 300
STORE_SIZE=64M daemon_start --shape

wait_until 60 "status of domain $d1" st "$d1" state
wait_until 30 "priority 800 in force for domain $d1" \
    st_is "$d1" policy/priority 800
wait_until 30 "priority 300 in force for domain $d2" \
    st_is "$d2" policy/priority 300
st_is "$d1" policy/pin 0 || fail "pin in force: $(st "$d1" policy/pin)"
kv_read /xenshape/status/available-frames >/dev/null ||
    fail "no host status"
echo "in force: $d1 priority=$(st "$d1" policy/priority)," \
    "$d2 priority=$(st "$d2" policy/priority)"

# Tenancy: a guest reads its own status and nothing else of ours.
[ "$(kv_read --domid "$d1" "/local/domain/$d1/xenshape/policy/priority")" \
    = 800 ] || fail "domain $d1 cannot read the policy in force"
denied kv_write --domid "$d1" "/xenshape/vm/$u1/priority" 1000
denied kv_write --domid "$d1" "/xenshape/vm/$u1/pin" 1
denied kv_read --domid "$d1" "/xenshape/vm/$u1/priority"
denied kv_write --domid "$d1" "/local/domain/$d1/xenshape/policy/pin" 1
denied kv_write --domid "$d1" "/local/domain/$d1/xenshape/state" pinned
denied kv_read --domid "$d2" "/local/domain/$d1/xenshape/state"
denied kv_write --domid "$d2" "/xenshape/vm/$u1/priority" 1
st_is "$d1" policy/priority 800 || fail "a guest changed the priority"
echo "tenancy: guest writes to policy and status refused"

# A low threshold: the busy domain is capped below its usage (without it,
# a generic domain keeps its usage and some headroom) and paged out.
capped() {
    local t u p
    t=$(st "$d1" target-frames) && u=$(st "$d1" usage-frames) &&
        p=$(st "$d1" paged-frames) || return 1
    [ "$t" -le 128 ] && [ "$u" -gt 128 ] && [ "$p" -ge 2048 ]
}
kv_write "/xenshape/vm/$u1/threshold-high" 512K \
    "/xenshape/vm/$u1/threshold-low" 256K
wait_until 120 "domain $d1 capped at threshold-high" capped
st_has "$d1" decisions "above threshold" ||
    fail "decisions: $(st "$d1" decisions)"
echo "threshold: $(show "$d1")"

# A pin: fully in, and said so.
kv_write "/xenshape/vm/$u1/pin" 1
wait_until 60 "domain $d1 pinned" st_is "$d1" state pinned
wait_until 120 "domain $d1 fully in" st_is "$d1" paged-frames 0
[ "$(st "$d1" target-frames)" -eq 4096 ] ||
    fail "pinned, target $(st "$d1" target-frames)"
[ "$(kv paged_pages "$(sim_ctl STATS "$d1")")" = 0 ] ||
    fail "the host says domain $d1 still has frames out"
echo "pinned: $(show "$d1")"

# An invalid value: refused, reason shown, the last valid one in force.
kv_write "/xenshape/vm/$u1/priority" abc
wait_until 60 "the reason for priority=abc" st_has "$d1" error priority
st_is "$d1" policy/priority 800 ||
    fail "priority in force became $(st "$d1" policy/priority)"
st_is "$d1" state pinned || fail "no longer pinned: $(st "$d1" state)"
echo "refused: error=\"$(st "$d1" error)\""
kv_write "/xenshape/vm/$u1/priority" 700
wait_until 60 "the error to clear" st_is "$d1" error ""
wait_until 30 "priority 700 in force" st_is "$d1" policy/priority 700

# SIGHUP reads the policy again; the daemon stays up.
kill -HUP "$DAEMON_PID"
wait_until 30 "SIGHUP to be taken" \
    grep -q "SIGHUP: reading the policy in xenstore again" "$WORK/daemon.log"

# A destroyed domain's status goes with its home, for good: not written
# back in the intervals that follow (two, seen in another domain's meter).
home_gone() {
    ! kv_read "/local/domain/$d3" >/dev/null 2>&1
}
meter_moved() {
    [ "$(st "$d2" meter/ram-page-seconds)" != "$1" ]
}
wait_until 60 "status of domain $d3" st "$d3" state
sim_ctl DESTROY "$d3" >/dev/null
wait_until 60 "domain $d3's home to go" home_gone
for _ in 1 2; do
    m=$(st "$d2" meter/ram-page-seconds)
    wait_until 30 "an interval" meter_moved "$m"
done
home_gone || fail "domain $d3's home is back: $(kv_read "/local/domain/$d3")"
echo "destroyed: domain $d3's home stays gone"

kill -0 "$DAEMON_PID" || fail "the daemon died"
grep -q "lost the connection to xenstore" "$WORK/daemon.log" &&
    fail "the daemon lost xenstore"
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "daemon exit status $rc"
for d in "$d1" "$d2"; do
    v=$(sim_ctl VERIFY "$d")
    [ "$(kv wrong "$v")" = 0 ] && [ "$(kv paged "$v")" = 0 ] ||
        fail "domain $d after the daemon: $v"
done
echo "shape: ok"
