#!/bin/bash
# demo.sh - `make demo`: a simulated host with 4 VMs whose presented memory
# totals twice the host's RAM, running workloads, with xenshaped paging.
# Prints each domain's RAM/store split over time, then brings each VM
# fully back in turn and checks every one of its frames: the integrity
# verdict at the end must say 0 wrong.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-build/bin}
WORK=${XENSHAPE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/xenshape-demo.XXXXXX")}
mkdir -p "$WORK"
. tools/scripts/simlib.sh
trap 'cleanup_sim' EXIT

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
daemon_start --config "$WORK/targets"

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
echo
echo "verdict: pages checked=$checked pages wrong=$wrong guest wrong reads=$wrong_reads"
[ "$wrong" -eq 0 ] && [ "$wrong_reads" -eq 0 ]
