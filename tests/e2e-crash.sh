#!/bin/bash
# e2e-crash.sh - kill -9 the daemon at random points while it pages, 50
# times (XENSHAPE_CRASH_POINTS), restarting it each time, then page
# everything back in and check every frame of every guest with the
# simulated host's content check: 0 frames lost or corrupted.
#
# XENSHAPE_CRASH_SEED seeds the kill times; the seed used is printed
# first.  The simulated host is its own process and outlives every
# daemon, as Xen outlives Dom0 processes; each new daemon re-attaches to
# the rings and the store the dead one left.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-crash.XXXXXX")
. tools/scripts/simlib.sh
trap 'cleanup_sim; rm -rf "$WORK"' EXIT
report_errors

points=${XENSHAPE_CRASH_POINTS:-50}
frames=8192                       # 32 MiB per guest
STORE_SIZE=256M
sim_start 96
doms=()
doms+=("$(sim_create g1 $frames 2 'hot:0.2:0.9,write=0.4')")
doms+=("$(sim_create g2 $frames 2 'uniform,write=0.3,rate=50000')")
doms+=("$(sim_create g3 $frames 1 'hot:0.5:0.7,write=0.5')")

# The seed of the kill times, printed before the first one is drawn (echo
# $RANDOM would print a draw, not the seed): XENSHAPE_CRASH_SEED=<seed>
# replays the same sequence of kill times.
seed=${XENSHAPE_CRASH_SEED:-$$}
RANDOM=$seed
echo "crash test: $points kills, seed $seed (XENSHAPE_CRASH_SEED=$seed" \
    "replays the kill times), guests ${doms[*]}"
kills_with_frames_out=0
max_out=0
for i in $(seq "$points"); do
    # Alternate deep and shallow targets so both directions are in flight.
    if [ $((i % 2)) -eq 1 ]; then t=20%; else t=60%; fi
    daemon_start --target "all=$t"
    sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
        echo "daemon exited by itself at point $i; its log:" >&2
        tail -n 20 "$WORK/daemon.log" >&2
        exit 1
    fi
    kill -9 "$DAEMON_PID"
    wait "$DAEMON_PID" 2>/dev/null || true
    out=0
    for d in "${doms[@]}"; do
        out=$((out + $(kv paged_pages "$(sim_ctl STATS "$d")")))
    done
    [ "$out" -gt 0 ] && kills_with_frames_out=$((kills_with_frames_out + 1))
    [ "$out" -gt "$max_out" ] && max_out=$out
done

# Bring everything home and look at every frame.
daemon_start --target all=100%
for d in "${doms[@]}"; do sim_ctl WORKLOAD "$d" sweep >/dev/null; done
deadline=$((SECONDS + 120))
for d in "${doms[@]}"; do
    while :; do
        line=$(sim_ctl STATS "$d")
        [ "$(kv paged_pages "$line")" = 0 ] && break
        if [ $SECONDS -gt $deadline ]; then
            echo "domain $d still has frames out: $line" >&2
            tail -n 20 "$WORK/daemon.log" >&2
            exit 1
        fi
        sleep 0.2
    done
done
checked=0; wrong=0; wrong_reads=0
for d in "${doms[@]}"; do
    sim_ctl WORKLOAD "$d" idle >/dev/null
    v=$(sim_ctl VERIFY "$d")
    s=$(sim_ctl STATS "$d")
    checked=$((checked + $(kv checked "$v")))
    wrong=$((wrong + $(kv wrong "$v") + $(kv paged "$v")))
    wrong_reads=$((wrong_reads + $(kv wrong_reads "$s")))
    [ "$(kv crashed "$s")" = 0 ] || { echo "domain $d crashed" >&2; exit 1; }
done
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true
echo "crash-test points=$points kills_with_frames_out=$kills_with_frames_out max_frames_out=$max_out frames_checked=$checked wrong=$wrong wrong_reads=$wrong_reads"
# A kill with nothing paged out proves nothing: most must hit real work.
bad=0
[ "$kills_with_frames_out" -ge $((points * 3 / 4)) ] || {
    echo "FAIL: only $kills_with_frames_out of $points kills found frames out" >&2
    bad=1; }
[ "$wrong" -eq 0 ] || { echo "FAIL: $wrong frames wrong or still out" >&2; bad=1; }
[ "$wrong_reads" -eq 0 ] || {
    echo "FAIL: guests read wrong data $wrong_reads times" >&2; bad=1; }
[ "$checked" -eq $((frames * 3)) ] || {
    echo "FAIL: $checked frames checked, not $((frames * 3))" >&2; bad=1; }
exit $bad
