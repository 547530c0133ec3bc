#!/bin/bash
# soak.sh - xenshaped --shape on a simulated host under domain churn for
# SOAK_SECONDS (default 60; `make soak`): every couple of seconds one of
# create a domain, destroy one (its policy directory removed with it, as
# cloud control does), rewrite a domain's policy through the host's
# xenstore (valid values, and now and then an invalid one or the whole
# directory removed), or SIGHUP.  Three domains live throughout; the
# churned ones come and go around them.
#
# It samples the daemon's resident memory (/proc/PID/status: VmRSS, and
# its parts RssAnon, the daemon's own heap and private memory, and
# RssShmem, guest memory it has touched through its mappings of the
# simulated host's memfds) and open descriptors (/proc/PID/fd) once the
# three domains are shaped and
# again at the end, with the same domains alive and after the same
# settling time, so that both samples see the same steady state.  Then it
# stops the daemon (SIGTERM pages everything back in) and checks every
# frame of the surviving domains with the simulated host's content check
# (VERIFY).  It fails on:
#   - any wrong frame, or a frame left paged out after the daemon stopped;
#   - an fd leak: more descriptors at the end than at the start, beyond
#     SOAK_FD_SLACK (default 2; a request to the simulated host may hold a
#     socket for a moment).  The churn creates and destroys at least three
#     domains, so a descriptor leaked per domain exceeds it;
#   - growth of RssAnon beyond SOAK_RSS_GROWTH_KIB (default 16384 KiB,
#     16 MiB): allocator slack stays well below it, while what the churn
#     would leak grows with the run.  VmRSS is reported but not bounded:
#     its shared part grows as the daemon touches more of the host's guest
#     memory over a long run (up to the host's size), which is no leak;
#   - the daemon dying, or losing xenstore, on the way.
# Prints one line:
#   soak seconds=<s> churn_ops=<n> rss_start_kib= rss_end_kib=
#   anon_start_kib= anon_end_kib= shmem_start_kib= shmem_end_kib= fds_start=
#   fds_end= pages_checked= wrong=
# SOAK_SEED seeds the choices (printed first, to replay them).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-soak.XXXXXX")
. tools/scripts/simlib.sh
FAIL_TAIL=30
trap 'cleanup_sim; rm -rf "$WORK"' EXIT

secs=${SOAK_SECONDS:-60}
fd_slack=${SOAK_FD_SLACK:-2}
rss_bound=${SOAK_RSS_GROWTH_KIB:-16384}
seed=${SOAK_SEED:-$$}
RANDOM=$seed
echo "soak: $secs s, seed $seed (SOAK_SEED=$seed replays the choices)"



uuid_of() {
    local u
    u=$(kv_read "/local/domain/$1/vm")
    echo "${u#/vm/}"
}
rss_kib() {   # rss_kib FIELD: VmRSS, RssAnon or RssShmem, in KiB
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$DAEMON_PID/status"
}
nfds() {
    ls "/proc/$DAEMON_PID/fd" | wc -l
}
alive() {
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
}
shaped() {   # shaped DOMID: the daemon writes its status
    kv_read "/local/domain/$1/xenshape/state"
}

sim_start 80
kv_write /xenshape/host/reserved 8M /xenshape/host/interval-ms 300 \
    /xenshape/host/shrink-rate 25%
keep=()
keep+=("$(sim_create keep1 4096 1 'hot:0.3:0.9,write=0.4')")
keep+=("$(sim_create keep2 4096 1 'hot:0.2:0.8,write=0.3,rate=2000')")
keep+=("$(sim_create keep3 2048 1 'uniform,write=0.2,rate=500')")
for d in "${keep[@]}"; do
    kv_write "/xenshape/vm/$(uuid_of "$d")/priority" $((300 + RANDOM % 500))
done
STORE_SIZE=128M daemon_start --shape
for d in "${keep[@]}"; do
    wait_until 60 "status of domain $d" shaped "$d"
done
# Settle, then the first sample: the three domains attached and shaped.
settle() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do alive; sleep 0.3; done
}
settle
rss_start=$(rss_kib VmRSS)
anon_start=$(rss_kib RssAnon)
shmem_start=$(rss_kib RssShmem)
fds_start=$(nfds)

churn=()              # domids created by the churn and still there
ops=0 creates=0 destroys=0 n=0
# Destroy the oldest churned domain and remove its policy, as cloud
# control does when a VM goes.
destroy_oldest() {
    local d=${churn[0]} u
    u=$(uuid_of "$d")
    sim_ctl DESTROY "$d" >/dev/null
    kv_rm "/xenshape/vm/$u" >/dev/null 2>&1 || true
    churn=("${churn[@]:1}")
    destroys=$((destroys + 1))
}
start=$SECONDS
while [ $((SECONDS - start)) -lt "$secs" ]; do
    alive
    all=("${keep[@]}" "${churn[@]}")
    case $((RANDOM % 6)) in
    0|1)                                         # create
        if [ ${#churn[@]} -lt 3 ]; then
            n=$((n + 1))
            d=$(sim_create "churn$n" $((512 + RANDOM % 1536)) 1 \
                'hot:0.5:0.9,write=0.5')
            kv_write "/xenshape/vm/$(uuid_of "$d")/priority" \
                $((1 + RANDOM % 1000)) \
                "/xenshape/vm/$(uuid_of "$d")/soaker" $((RANDOM % 2))
            churn+=("$d")
            creates=$((creates + 1))
        else                                     # full: destroy
            destroy_oldest
        fi
        ;;
    2)                                           # destroy the oldest
        [ ${#churn[@]} -eq 0 ] || destroy_oldest
        ;;
    3|4)                                         # reconfigure
        d=${all[RANDOM % ${#all[@]}]}
        u=$(uuid_of "$d")
        case $((RANDOM % 5)) in
        0) kv_write "/xenshape/vm/$u/priority" abc ;;
        1) kv_rm "/xenshape/vm/$u" >/dev/null 2>&1 || true ;;
        *) kv_write "/xenshape/vm/$u/priority" $((1 + RANDOM % 1000)) \
               "/xenshape/vm/$u/threshold-high" $((30 + RANDOM % 71))% \
               "/xenshape/vm/$u/threshold-low" $((10 + RANDOM % 21))% ;;
        esac
        ;;
    5)                                           # reload
        kill -HUP "$DAEMON_PID"
        ;;
    esac
    ops=$((ops + 1))
    sleep "$((1 + RANDOM % 2)).$((RANDOM % 10))"
done
# At least three domains through create and destroy, so that what leaks
# per domain shows: finish the cycles the dice left short.
while [ "$creates" -lt 3 ] || [ ${#churn[@]} -gt 0 ]; do
    alive
    if [ ${#churn[@]} -gt 0 ]; then
        destroy_oldest
    else
        n=$((n + 1))
        churn+=("$(sim_create "churn$n" 1024 1 'hot:0.5:0.9,write=0.5')")
        creates=$((creates + 1))
        sleep 1
    fi
    ops=$((ops + 1))
done
# The same three domains as at the start, the same settling time.
for d in "${keep[@]}"; do
    kv_write "/xenshape/vm/$(uuid_of "$d")/priority" 500
done
settle
rss_end=$(rss_kib VmRSS)
anon_end=$(rss_kib RssAnon)
shmem_end=$(rss_kib RssShmem)
fds_end=$(nfds)
grep -q "lost the connection to xenstore" "$WORK/daemon.log" &&
    fail "the daemon lost xenstore"

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "daemon exit status $rc"
checked=0 wrong=0
for d in "${keep[@]}"; do
    v=$(sim_ctl VERIFY "$d")
    checked=$((checked + $(kv checked "$v")))
    wrong=$((wrong + $(kv wrong "$v") + $(kv paged "$v")))
    s=$(sim_ctl STATS "$d")
    [ "$(kv crashed "$s")" = 0 ] || fail "domain $d crashed"
done
echo "soak seconds=$secs churn_ops=$ops rss_start_kib=$rss_start" \
    "rss_end_kib=$rss_end anon_start_kib=$anon_start" \
    "anon_end_kib=$anon_end shmem_start_kib=$shmem_start" \
    "shmem_end_kib=$shmem_end fds_start=$fds_start fds_end=$fds_end" \
    "pages_checked=$checked wrong=$wrong"
echo "soak: $creates created, $destroys destroyed"
[ "$wrong" -eq 0 ] || fail "$wrong frames wrong or left out"
[ "$checked" -gt 0 ] || fail "no frame checked"
[ "$fds_end" -le $((fds_start + fd_slack)) ] ||
    fail "fd leak: $fds_start descriptors at the start, $fds_end at the end"
[ "$anon_end" -le $((anon_start + rss_bound)) ] ||
    fail "RssAnon grew by $((anon_end - anon_start)) KiB (bound $rss_bound KiB)"
echo "soak: ok"
