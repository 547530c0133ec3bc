#!/bin/bash
# e2e-metrics.sh - xenshaped --metrics-file on the simulated host, shaping:
# the file is valid Prometheus text (tests/prom-check.awk), replaced whole
# each interval, and says what the daemon says elsewhere of the same tick:
# the status file's figures (RAM, store, max, target, faults, page-ins,
# page-outs, the store's slots and errors) and the shaping meters and
# state it writes to xenstore.  Labels carry domid, uuid and the name the
# toolstack gave the domain.  Every wait is bounded; no timing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-metrics.XXXXXX")
. tools/scripts/simlib.sh
trap 'kill -CONT "${DAEMON_PID:-0}" 2>/dev/null; cleanup_sim; rm -rf "$WORK"' EXIT
report_errors
PROM=$WORK/xenshape.prom

# metric FILE NAME DOMID: the value of a per-domain sample.
metric() {
    awk -v n="$2" -v d="domid=\"$3\"" \
        'index($0, n "{") == 1 && index($0, d) { print $NF; exit }' "$1"
}
host_metric() {
    awk -v n="$2" '$1 == n { print $2; exit }' "$1"
}

sim_start 96
d1=$(sim_create busy 4096 1 'hot:0.5:1,rate=1000,write=0.5')
d2=$(sim_create quiet 4096 1 'hot:0.2:0.9,rate=200')
u1=$(kv_read "/local/domain/$d1/vm")
u1=${u1#/vm/}
kv_write /xenshape/host/reserved 8M /xenshape/host/interval-ms 500
# A low threshold: the busy domain is paged out, so that store figures
# and page-ins are not all zero.  It has to be below the busy domain's
# usage, which log-dirty (the default observation) measures from writes
# and faults: about 500 KiB per interval here.  At 1M the domain was only
# paged out for lack of usage, when it had not faulted for 5 s, and took
# close to the whole 120 s to reach 1024 frames out.
kv_write "/xenshape/vm/$u1/threshold-high" 256K "/xenshape/vm/$u1/threshold-low" 128K
STORE_SIZE=64M daemon_start --shape --metrics-file "$PROM"

paged_out() {
    local p
    p=$(metric "$PROM" xenshape_domain_paged_frames "$d1")
    [ -n "$p" ] && [ "$p" -gt 1024 ]
}
metered() {
    local m
    m=$(metric "$PROM" xenshape_domain_ram_page_seconds_total "$d2")
    [ -n "$m" ] && [ "$m" -gt 0 ]
}
wait_until 120 "domain $d1 paged out in the metrics" paged_out
wait_until 60 "a RAM meter for domain $d2" metered
awk -v summary=1 -f tests/prom-check.awk "$PROM" > "$WORK/check" ||
    fail "not valid exposition text: $(cat "$WORK/check")"
echo "valid: $(cat "$WORK/check")"
grep -q "^xenshape_domain_resident_frames{domid=\"$d1\",name=\"busy\",uuid=\"$u1\"} " \
    "$PROM" || fail "no labels domid, name and uuid for domain $d1"

# One tick, seen three ways: the daemon is stopped while the files and
# xenstore are read, and the whole is read again if a write was caught
# half way (the two files disagree on their time).
compare() {
    local d s k v m key kv_pair
    [ "$(kv time "$(head -n1 "$WORK/st")")" = \
      "$(host_metric "$WORK/prom" xenshape_status_time_seconds)" ] ||
        { echo "time differs"; return 1; }
    s=$(grep '^store ' "$WORK/st")
    for kv_pair in slots_used:xenshape_store_used_slots \
        slots_total:xenshape_store_slots io_errors:xenshape_store_io_errors_total \
        checksum_failures:xenshape_store_checksum_failures_total; do
        k=${kv_pair%%:*}; m=${kv_pair#*:}
        [ "$(kv "$k" "$s")" = "$(host_metric "$WORK/prom" "$m")" ] ||
            { echo "store $k: $(kv "$k" "$s") vs $m"; return 1; }
    done
    for d in "$d1" "$d2"; do
        s=$(grep "^domain $d " "$WORK/st")
        for kv_pair in ram:resident_frames store:paged_frames max:max_frames \
            target:target_frames faults:faults_total loaded:page_ins_total \
            evicted:page_outs_total; do
            k=${kv_pair%%:*}; m=xenshape_domain_${kv_pair#*:}
            v=$(metric "$WORK/prom" "$m" "$d")
            [ "$(kv "$k" "$s")" = "$v" ] ||
                { echo "domain $d $k=$(kv "$k" "$s") but $m $v"; return 1; }
        done
        for kv_pair in ram-page-seconds:ram_page_seconds_total \
            store-page-seconds:store_page_seconds_total \
            page-ins:meter_page_ins_total; do
            key=${kv_pair%%:*}; m=xenshape_domain_${kv_pair#*:}
            v=$(metric "$WORK/prom" "$m" "$d")
            [ "$(grep "^$d meter/$key=" "$WORK/xs" | cut -d= -f2)" = "$v" ] ||
                { echo "domain $d meter/$key vs $m $v"; return 1; }
        done
        v=$(grep "^$d state=" "$WORK/xs" | cut -d= -f2)
        [ "$(grep -c "^xenshape_domain_state{domid=\"$d\",.*} 1\$" \
             "$WORK/prom")" = 1 ] &&
            grep -q "^xenshape_domain_state{domid=\"$d\",.*,state=\"$v\"} 1\$" \
                "$WORK/prom" ||
            { echo "domain $d state $v"; return 1; }
    done
}
ok=
for _ in $(seq 10); do
    kill -STOP "$DAEMON_PID"
    cp "$WORK/status" "$WORK/st"
    cp "$PROM" "$WORK/prom"
    : > "$WORK/xs"
    for d in "$d1" "$d2"; do
        for key in meter/ram-page-seconds meter/store-page-seconds \
            meter/page-ins state; do
            echo "$d $key=$(kv_read "/local/domain/$d/xenshape/$key")" >> "$WORK/xs"
        done
    done
    kill -CONT "$DAEMON_PID"
    if why=$(compare); then ok=1; break; fi
    sleep 0.7
done
[ -n "$ok" ] || fail "the metrics disagree with the daemon: $why"
echo "agree: status file, xenstore status and metrics for domains $d1 and $d2"

# The pictures of `make demo` drawn from two of these files, when gnuplot
# is there (make demo installs it; make check does not need it).
if command -v gnuplot > /dev/null; then
    mkdir "$WORK/report"
    awk -v t=0 -f tools/scripts/prom-samples.awk "$WORK/prom" \
        > "$WORK/report/samples.tsv"
    awk -v t=1 -f tools/scripts/prom-samples.awk "$PROM" \
        >> "$WORK/report/samples.tsv"
    printf '0.5\tthreshold "256K"\n' > "$WORK/report/events.tsv"
    tools/scripts/report.sh "$WORK/report" > /dev/null ||
        fail "report.sh failed"
    [ "$(head -c 8 "$WORK/report/xenshape.png" | od -An -tx1 | tr -d ' ')" \
        = 89504e470d0a1a0a ] || fail "report.sh drew no PNG"
    grep -q "<svg" "$WORK/report/xenshape.svg" || fail "report.sh drew no SVG"
    echo "report: a PNG and an SVG of $(wc -l < "$WORK/report/samples.tsv") samples"
fi

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "daemon exit status $rc"
[ ! -e "$PROM.tmp" ] || fail "a temporary metrics file was left"
echo "metrics: ok"
