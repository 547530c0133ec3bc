#!/bin/bash
# demo.sh - `make demo`: a simulated host with 4 VMs whose presented memory
# totals twice the host's RAM, running workloads, with xenshaped shaping
# them (--shape).  The demo steers it as cloud control software would, by
# writing policy into the host's xenstore: host policy under
# /xenshape/host, each VM's under /xenshape/vm/<uuid>.  The VMs are a
# high-priority web server, a batch job capped by a threshold (paged out
# step by step), a soaker that takes what is left, and a VM replaying a
# recorded memory trace.  It prints each VM's RAM/store split over time,
# then what the operator's command, xenshape, says of the host, then pins
# each VM in turn, so that it is paged fully back in while the others
# make room, and checks every one of its frames: the integrity verdict at
# the end must say 0 wrong.  Meanwhile it records each domain's figures
# once a second from the daemon's metrics file, and every policy change
# it makes, and at the end draws them with tools/scripts/report.sh
# (gnuplot): the paths of the PNG and SVG are printed last.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
WORK=${XENSHAPE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/xenshape-demo.XXXXXX")}
mkdir -p "$WORK"
. tools/scripts/simlib.sh
FAIL_TAIL=30
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
# The operator's command on this host.
xsh() {
    "$BIN/xenshape" --sim-socket "$WORK/sim.sock" "$@"
}
# st DOMID KEY: a status key the daemon wrote for a domain.
st() {
    kv_read "/local/domain/$1/xenshape/$2" 2>/dev/null
}

host_mib=${DEMO_HOST_MIB:-256}
vm_mib=$((host_mib / 2))          # 4 VMs x host/2 = 2x the host's RAM
vm_frames=$((vm_mib * 256))
seconds=${DEMO_SECONDS:-40}
STORE_SIZE=$((host_mib * 4))M
# The soaker's floors, in proportion to the VMs so that DEMO_HOST_MIB
# scales them (the defaults, 256M and 512M, are for real VMs).
soak_min=$((vm_mib / 8 > 1 ? vm_mib / 8 : 1))M
soak_start=$((vm_mib / 4 > 2 ? vm_mib / 4 : 2))M

echo "xenshape demo: host RAM $host_mib MiB, 4 VMs of $vm_mib MiB each" \
     "($((4 * vm_mib)) MiB presented, 2x the host)"
echo "work directory: $WORK (logs, store, status)"
sim_start "$host_mib"
# Host policy, as cloud control writes it: a small reserve (the simulated
# host has no Dom0 to keep RAM for), half-second intervals, and a fast
# page-out while the VMs are being created.
kv_write /xenshape/host/reserved 8M /xenshape/host/interval-ms 500 \
    /xenshape/host/shrink-rate 25%
daemon_start --shape --metrics-file "$WORK/metrics.prom"
event "shaping starts"
record &
REC_PID=$!

# Created in this order: the batch VM last, so that it starts fully in RAM
# and its threshold, written after, pages it out step by step for all to
# see.  The trace is one of the shared LIRS traces when the checkout has
# them next to it.
names=(web soaker replay batch)
workloads=("hot:0.1:0.9,write=0.3" "uniform,write=0.1,rate=20000"
           "trace:../shared/traces/lirs_multi3.trace.gz"
           "sweep,write=1,rate=50000")
# batch after loading its data: a working set of 15% of its memory.
batch_steady="hot:0.15:0.999,write=1,rate=20000"
[ -f ../shared/traces/lirs_multi3.trace.gz ] || workloads[2]="hot:0.2:0.95"
doms=()
uuids=()
# A new VM needs all of its memory free at creation, as with xl create.
# So while the others are created, each VM is hibernated on request
# (hibernate-now=1, what `xenshape hibernate` writes): paused and paged
# fully out, which leaves room for the next.  The policy below resumes
# them.
for i in 0 1 2 3; do
    d=$(sim_create "${names[$i]}" "$vm_frames" 2 "${workloads[$i]}")
    u=$(sim_uuid "$d")
    doms+=("$d")
    uuids+=("$u")
    echo "  created ${names[$i]} (domain $d, uuid $u): ${workloads[$i]}"
    [ "$i" -eq 3 ] || kv_write "/xenshape/vm/$u/hibernate-now" 1
done
event "VMs created"

# The policy of this host, in one transaction, which also resumes the
# hibernated VMs.  web: priority 900, its wishes come first when RAM is
# short.  soaker: grows into whatever is free, gives it back first, and
# is hibernated (paused, paged out) below its minimum.  replay: a VM
# without policy of its own.  batch, which is writing all of its memory:
# capped at 25% of it, and threshold-low 0% keeps the cap until cloud
# control lifts it.  (The daemon measures usage by log-dirty, the frames
# written plus the page-ins in an interval: a lower bound, which on a
# busy simulated host dips near zero in some intervals; the engine keeps
# the cap of a domain that faulted within 5 s, but a quiet interval
# between bursts could still lift it, and the demo should show the
# descent.)  Page-out slows to 3% of a VM's memory a second, so that
# batch's descent can be watched.
p=/xenshape/vm
kv_write /xenshape/host/shrink-rate 3% \
    "$p/${uuids[0]}/hibernate-now" 0 "$p/${uuids[0]}/priority" 900 \
    "$p/${uuids[1]}/hibernate-now" 0 "$p/${uuids[1]}/soaker" 1 \
    "$p/${uuids[1]}/priority" 100 "$p/${uuids[1]}/min-operating" "$soak_min" \
    "$p/${uuids[1]}/min-starting" "$soak_start" \
    "$p/${uuids[2]}/hibernate-now" 0 \
    "$p/${uuids[3]}/threshold-high" 25% "$p/${uuids[3]}/threshold-low" 0%
event "policy: web prio 900, soaker, batch capped 25%"
echo "policy written to xenstore: web priority 900; soaker a soaker" \
     "(priority 100, min-operating $soak_min); replay none;" \
     "batch threshold-high 25%, threshold-low 0%"
# batch has written all of its memory, so its usage is above the
# threshold and the cap is set; then it settles into a working set of
# 15%, which fits under the cap, while it is paged out step by step.
over() {
    st "${doms[3]}" decisions | grep -q "above threshold"
}
for _ in $(seq 100); do
    over && break
    sleep 0.2
done
over || echo "  (no decision above threshold for batch yet; going on)"
sim_ctl WORKLOAD "${doms[3]}" "$batch_steady" >/dev/null
event "batch settles"
echo "batch has loaded its data and settles into 15% of its memory:" \
     "$batch_steady"

bar() {   # bar RAM STORE MAX: a 40-column picture of one domain
    local ram=$(( $1 * 40 / $3 )) st=$(( $2 * 40 / $3 ))
    printf '%*s' "$ram" '' | tr ' ' '#'
    printf '%*s' "$st" '' | tr ' ' '.'
    printf '%*s' $((40 - ram - st)) ''
}

show() {
    local host i
    host=$(head -n1 "$WORK/status" 2>/dev/null) || return 0
    printf '\n[t=%3ds] host free %s MiB   (# = RAM, . = store)\n' \
        "$1" "$(( $(kv host_free "$host") / 256 ))"
    for i in "${!doms[@]}"; do
        local d=${doms[$i]} s ram st max
        s=$(dom_status "$d") || continue
        ram=$(kv ram "$s"); st=$(kv store "$s"); max=$(kv max "$s")
        printf '  %-6s |%s| RAM %4d MiB  store %4d MiB  %-10s faults %s\n' \
            "${names[$i]}" "$(bar "$ram" "$st" "$max")" $((ram / 256)) \
            $((st / 256)) "$(st "$d" state || echo -)" "$(kv faults "$s")"
    done
}

start=$SECONDS
while [ $((SECONDS - start)) -lt "$seconds" ]; do
    sleep 4
    show $((SECONDS - start))
done

echo
echo "what the operator sees: xenshape list"
xsh list | sed 's/^/  /' || echo "  (xenshape list failed)"
echo
echo "and why batch holds what it holds: xenshape explain batch" \
     "(its first 12 lines)"
xsh explain batch | head -n 12 | sed 's/^/  /' ||
    echo "  (xenshape explain failed)"

echo
echo "integrity check: each VM in turn is pinned (pin=1), so the daemon" \
     "pages it fully back in while the others make room, and every frame" \
     "is compared with what the guest last wrote"
checked=0; wrong=0; wrong_reads=0
# Fully in, and the daemon has decided on the pin: the guest's sweep can
# fault the last frames in before the next decision says "pinned".
fully_in() {
    [ "$(kv paged_pages "$(sim_ctl STATS "$1")")" = 0 ] &&
        [ "$(st "$1" state || true)" = pinned ]
}
for i in "${!doms[@]}"; do
    d=${doms[$i]} u=${uuids[$i]} n=${names[$i]}
    # The sweep reads every frame, so the guest faults in what the
    # prefetch has not brought back yet.
    sim_ctl WORKLOAD "$d" sweep >/dev/null
    kv_write "$p/$u/pin" 1
    event "pin $n"
    deadline=$((SECONDS + 120))
    until fully_in "$d"; do
        if [ $SECONDS -ge "$deadline" ]; then
            xsh explain "$d" >&2 || true
            fail "$n (domain $d) not fully in and pinned 120 s after its pin"
        fi
        sleep 0.2
    done
    sim_ctl WORKLOAD "$d" idle >/dev/null
    v=$(sim_ctl VERIFY "$d"); s=$(sim_ctl STATS "$d")
    state=$(st "$d" state || echo -)
    kv_write "$p/$u/pin" 0
    echo "  $n (domain $d, $state): checked" \
         "$(kv checked "$v") frames, wrong $(kv wrong "$v")," \
         "guest saw wrong data $(kv wrong_reads "$s") times"
    checked=$((checked + $(kv checked "$v")))
    wrong=$((wrong + $(kv wrong "$v") + $(kv paged "$v")))
    wrong_reads=$((wrong_reads + $(kv wrong_reads "$s")))
done
event "integrity checked"
grep -m1 '^store' "$WORK/status" | sed 's/^/  /'
kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon died"
kill "$REC_PID" 2>/dev/null || true
wait "$REC_PID" 2>/dev/null || true
REC_PID=
echo
echo "pictures of the run (RAM and store share of each VM over time, with" \
     "the policy changes):"
tools/scripts/report.sh "$DATA" | sed 's/^/  /' ||
    echo "  none: report.sh failed (recorded data in $DATA)"
echo
echo "verdict: pages checked=$checked pages wrong=$wrong guest wrong reads=$wrong_reads"
[ "$wrong" -eq 0 ] && [ "$wrong_reads" -eq 0 ]
