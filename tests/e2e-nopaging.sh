#!/bin/bash
# e2e-nopaging.sh - a hypervisor without paging (every enable: ENOSYS, as
# on Debian's stock Xen), simulated by fault injection: the daemon must
# say so plainly, name the missing build option, fall back to the balloon
# target with the fallback visible in its status, and neither crash nor
# spin.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-nopaging.XXXXXX")
. tools/scripts/simlib.sh
trap 'cleanup_sim; rm -rf "$WORK"' EXIT
report_errors

sim_start 64
d=$(sim_create g1 4096 1 'hot:0.2:0.9')
XENSHAPE_FAULTS="hv.paging_enable:1:ENOSYS:p" STORE_SIZE=64M \
    daemon_start --target all=50%
for _ in $(seq 100); do
    grep -q "mode=balloon" "$WORK/status" 2>/dev/null && break
    sleep 0.1
done
sleep 2      # let it run a while: it must stay up and quiet
kill -0 "$DAEMON_PID"
status=$(dom_status "$d")
echo "status: $status"
grep -q "mode=balloon" <<<"$status"
grep -q "error=paging-unsupported" <<<"$status"
grep -q "CONFIG_MEM_PAGING" "$WORK/daemon.log"
# Not spinning: about one line per retry period, not one per tick.
lines=$(grep -c "paging unsupported\|without memory paging" "$WORK/daemon.log")
echo "log lines about it: $lines"
[ "$lines" -le 4 ]
cpu=$(ps -o times= -p "$DAEMON_PID")
echo "daemon cpu seconds: $cpu"
[ "$cpu" -le 2 ]
# Nothing was paged.
[ "$(kv paged_pages "$(sim_ctl STATS "$d")")" = 0 ]
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
echo "nopaging: ok"
