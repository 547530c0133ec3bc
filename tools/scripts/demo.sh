#!/bin/bash
# demo.sh - `make demo`: a simulated host with 4 VMs whose presented memory
# totals twice the host's RAM, running workloads, with xenshaped paging.
# Prints each domain's RAM/store split over time, then brings each VM
# fully back in turn and checks every one of its frames: the integrity
# verdict at the end must say 0 wrong.  Meanwhile it records each
# domain's figures once a second from the daemon's metrics file, and
# every change of targets it makes (the decisions of this demo: it steers
# the daemon by --config), and at the end draws them with
# tools/scripts/report.sh (gnuplot): the paths of the PNG and SVG are
# printed last.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
WORK=${XENSHAPE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/xenshape-demo.XXXXXX")}
mkdir -p "$WORK"
. tools/scripts/simlib.sh
DATA=$WORK/data
mkdir -p "$DATA"
: > "$DATA/samples.tsv"
: > "$DATA/events.tsv"
REC_PID=
trap '[ -z "$REC_PID" ] || kill "$REC_PID" 2>/dev/null; cleanup_sim' EXIT
t0=$(date +%s%N)

now_s() {   # seconds since the demo started, to a tenth
    awk -v n="$(date +%s%N)" -v t0="$t0" 'BEGIN { printf "%.1f", (n - t0) / 1e9 }'
}
# A decision, for the timeline of the pictures.
event() {
    printf '%s\t%s\n' "$(now_s)" "$*" >> "$DATA/events.tsv"
}
# Once a second: each domain's figures from the metrics file, one line
# each (report.sh's samples.tsv: seconds domid name resident paged max
# target).
record() {
    while sleep 1; do
        [ -f "$WORK/metrics.prom" ] || continue
        awk -v t="$(now_s)" -f tools/scripts/prom-samples.awk \
            "$WORK/metrics.prom" >> "$DATA/samples.tsv"
    done
}

host_mib=${DEMO_HOST_MIB:-256}
vm_mib=$((host_mib / 2))          # 4 VMs x host/2 = 2x the host's RAM
vm_frames=$((vm_mib * 256))
seconds=${DEMO_SECONDS:-40}
STORE_SIZE=$((host_mib * 4))M

echo "xenshape demo: host RAM $host_mib MiB, 4 VMs of $vm_mib MiB each" \
     "($((4 * vm_mib)) MiB presented, 2x the host)"
echo "work directory: $WORK (logs, store, status)"
sim_start "$host_mib"
# While VMs are still being created, keep the running ones small: a new VM
# needs all of its memory free at creation, as with xl create.
echo "all=20%" > "$WORK/targets"
daemon_start --config "$WORK/targets" --metrics-file "$WORK/metrics.prom"
event "all 20%"
record &
REC_PID=$!

workloads=("hot:0.1:0.9,write=0.3" "hot:0.3:0.8,write=0.2"
           "uniform,write=0.1,rate=20000" "trace:../shared/traces/lirs_multi3.trace.gz")
[ -f ../shared/traces/lirs_multi3.trace.gz ] || workloads[3]="hot:0.2:0.95"
doms=()
for i in 0 1 2 3; do
    d=$(sim_create "vm$((i + 1))" "$vm_frames" 2 "${workloads[$i]}")
    doms+=("$d")
    echo "  created vm$((i + 1)) (domain $d): ${workloads[$i]}"
done
echo "all=45%" > "$WORK/targets"
kill -HUP "$DAEMON_PID"
event "all 45%"
echo "targets: every VM 45% of its memory in RAM (SIGHUP reloads $WORK/targets)"

bar() {   # bar RAM STORE MAX: a 40-column picture of one domain
    local ram=$(( $1 * 40 / $3 )) st=$(( $2 * 40 / $3 ))
    printf '%*s' "$ram" '' | tr ' ' '#'
    printf '%*s' "$st" '' | tr ' ' '.'
    printf '%*s' $((40 - ram - st)) ''
}

show() {
    local host
    host=$(head -n1 "$WORK/status" 2>/dev/null) || return 0
    printf '\n[t=%3ds] host free %s MiB   (# = RAM, . = store)\n' \
        "$1" "$(( $(kv host_free "$host") / 256 ))"
    for d in "${doms[@]}"; do
        local s ram st max
        s=$(dom_status "$d") || continue
        ram=$(kv ram "$s"); st=$(kv store "$s"); max=$(kv max "$s")
        printf '  vm%-2s |%s| RAM %4d MiB  store %4d MiB  faults %s\n' \
            "$d" "$(bar "$ram" "$st" "$max")" $((ram / 256)) \
            $((st / 256)) "$(kv faults "$s")"
    done
}

start=$SECONDS
while [ $((SECONDS - start)) -lt "$seconds" ]; do
    sleep 4
    show $((SECONDS - start))
done

echo
echo "integrity check: each VM in turn is paged fully back in and every" \
     "frame is compared with what the guest last wrote"
checked=0; wrong=0; wrong_reads=0
for d in "${doms[@]}"; do
    others=""
    for o in "${doms[@]}"; do [ "$o" = "$d" ] || others+="$o=10% "; done
    printf '%s\n' $others "$d=100%" > "$WORK/targets"
    kill -HUP "$DAEMON_PID"
    event "vm$d 100%, others 10%"
    sim_ctl WORKLOAD "$d" sweep >/dev/null
    deadline=$((SECONDS + 120))
    until [ "$(kv paged_pages "$(sim_ctl STATS "$d")")" = 0 ]; do
        [ $SECONDS -lt $deadline ] || { echo "vm $d did not come back" >&2; exit 1; }
        sleep 0.2
    done
    sim_ctl WORKLOAD "$d" idle >/dev/null
    v=$(sim_ctl VERIFY "$d"); s=$(sim_ctl STATS "$d")
    echo "  domain $d: checked $(kv checked "$v") frames, wrong $(kv wrong "$v"), guest saw wrong data $(kv wrong_reads "$s") times"
    checked=$((checked + $(kv checked "$v")))
    wrong=$((wrong + $(kv wrong "$v") + $(kv paged "$v")))
    wrong_reads=$((wrong_reads + $(kv wrong_reads "$s")))
done
grep -m1 '^store' "$WORK/status" | sed 's/^/  /'
kill "$REC_PID" 2>/dev/null || true
wait "$REC_PID" 2>/dev/null || true
REC_PID=
echo
echo "pictures of the run (RAM and store share of each VM over time, with" \
     "the target changes):"
tools/scripts/report.sh "$DATA" | sed 's/^/  /' ||
    echo "  none: report.sh failed (recorded data in $DATA)"
echo
echo "verdict: pages checked=$checked pages wrong=$wrong guest wrong reads=$wrong_reads"
[ "$wrong" -eq 0 ] && [ "$wrong_reads" -eq 0 ]
