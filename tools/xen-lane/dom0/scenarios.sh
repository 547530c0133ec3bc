#!/bin/bash
# scenarios.sh - the real-Xen lane's scenarios, run in Dom0 by dom0/init
# once xenstored and xenconsoled are up.  Usage: scenarios.sh paging|stock
#
# paging (on the paging-enabled hypervisor): one PVH guest running
# memverify (fill N MiB, then verify and rewrite every page in a loop),
# and xenshaped keeping it at 40% of its memory:
#   1 pageout    at least half the guest is paged out and stays out while
#                the guest completes two full verify passes (page-ins
#                served); with the guest paused, Xen's paged_pages and
#                tot_pages equal the daemon's store= and ram=.
#                Access observation (log-dirty here: TCG emulates AMD SVM,
#                and Xen 4.17 has mem_access on VT-x only) is on and
#                counts the guest's writes in its sampling windows: some
#                over the two passes, and nothing at all while the guest
#                is paused.
#   2 restart    kill -9 of the daemon with at least a quarter paged out;
#                a new daemon on the same store and state directory
#                re-attaches and the guest completes another full pass.
#   3 sigterm    SIGTERM: the daemon pages everything back in and exits 0;
#                Xen reports paged_pages 0 and tot_pages as before, and
#                paging is disabled (lanectl probe: a fresh enable, with
#                the domain paused, succeeds instead of failing with
#                EBUSY), and so is access observation (lanectl observe:
#                log-dirty and the monitor ring can be enabled afresh);
#                the guest completes a pass with no pager at all.
#   5 shape      xenshaped --shape, policy written by Dom0 with
#                xenstore-write as cloud control would: the policy in
#                force and the status keys follow it (priority mirrored,
#                a pin brings the guest fully in, an invalid value is
#                refused with its reason and the last valid one stays, a
#                low threshold pages it out); a second guest, a soaker
#                whose policy was written by UUID before it existed.
#   6 tenancy    from inside that second guest (xsprobe.c), xenstored
#                refuses every write to policy (its own, the first
#                guest's by UUID, the host's; crafted values too: a domid,
#                a path, an oversized value) and to status, every read of
#                another domain's status and of the policy tree; only its
#                own status can be read.  Both domains' policy in force is
#                unchanged afterwards.
# stock (on Debian's stock hypervisor, which has no paging):
#   4 unsupported  enable fails with ENOSYS; the daemon says paging is
#                unsupported, stays up, uses little CPU, does not harm the
#                guest and stops on SIGTERM; where the daemon has a
#                balloon fallback (it names memory/target), the guest's
#                memory/target must have been written.
#
# Output, for the host (tools/xen-lane/run.sh), one line per scenario:
#   xen-lane-result scenario=K name=NAME result=pass|fail [detail]
# and one line of figures:
#   xen-lane-stats mode=M paged_max=F pageins=N mismatches=N
# paged_max is the largest paged_pages Xen reported, pageins the sum of
# the daemons' own "loaded" counts (the first daemon's at kill -9, the
# second's just before SIGTERM; the final drain is not counted), and
# mismatches memverify's count of wrong pages over all passes.
# Every wait polls a condition against a deadline; a guest crash, a
# memverify mismatch or a dead daemon ends the wait at once.
set -euo pipefail

export PATH=/lane/bin:/usr/sbin:/usr/bin:/usr/lib/xen-4.17/bin

MODE=${1:-paging}
GUEST=lane-guest
GUEST_MIB=160
BUF_MIB=64             # memverify's buffer in the paging guest
STORE=/dev/ram0
STATE_DIR=/var/lib/xenshape
STATUS=/run/xenshaped.status
CONSOLE_DIR=/var/log/xen/console
# xenshaped's -v (info) or -vv (debug), from xenlane.verbose=2 on the
# kernel command line.
DAEMON_VERBOSE=-v
case " $(cat /proc/cmdline) " in *' xenlane.verbose=2 '*) DAEMON_VERBOSE=-vv ;; esac
# xenshaped's --observe, from xenlane.observe=MODE (default: the daemon's).
OBSERVE=
for w in $(cat /proc/cmdline); do
    case $w in xenlane.observe=*) OBSERVE=${w#xenlane.observe=} ;; esac
done

DOMID=
DPID=
DLOG=
FAIL=
INFO_ERR=
DETAIL=
MAX0=0
TOT0=0
PAGED_MAX=0
PAGEINS=0
WATCH_MIN=0
WINDOW_MIN=0
LAST_PROGRESS=0
I_TOT=0 I_MAX=0 I_PAGED=0 I_CRASHED=0 I_SHUTDOWN=0 I_REASON=0
S_RAM='' S_STORE='' S_LOADED=0 S_FAULTS=0 S_EVICTED=0 S_LOST='' S_CORRUPT=''
S_ERROR='' S_OBSERVE='' S_OBSERVED=0

uptime_s() {
    local up rest

    read -r up rest < /proc/uptime
    printf '%s' "${up%.*}"
    : "$rest"
}

say() {
    printf 'xen-lane [%ss] %s\n' "$(uptime_s)" "$*"
}

result() {
    local n=$1 name=$2 res=$3

    shift 3
    printf 'xen-lane-result scenario=%s name=%s result=%s %s\n' \
        "$n" "$name" "$res" "$*"
}

# ---- observation -----------------------------------------------------

# What Xen says about the guest (lanectl info); also tracks the largest
# paged_pages seen and, while WATCH_MIN=1, the smallest.
info() {
    local line kv

    line=$(lanectl info "$DOMID" 2> /run/lanectl.err) || {
        INFO_ERR="lanectl info rc=$?: $(head -c 300 /run/lanectl.err)"
        return 1
    }
    for kv in $line; do
        case $kv in
            tot=*) I_TOT=${kv#tot=} ;;
            max=*) I_MAX=${kv#max=} ;;
            paged=*) I_PAGED=${kv#paged=} ;;
            crashed=*) I_CRASHED=${kv#crashed=} ;;
            shutdown=*) I_SHUTDOWN=${kv#shutdown=} ;;
            reason=*) I_REASON=${kv#reason=} ;;
        esac
    done
    [ "$I_PAGED" -gt "$PAGED_MAX" ] && PAGED_MAX=$I_PAGED
    if [ "$WATCH_MIN" = 1 ] && [ "$I_PAGED" -lt "$WINDOW_MIN" ]; then
        WINDOW_MIN=$I_PAGED
    fi
    return 0
}

# The daemon's own line for the guest in its status file.
status_get() {
    local line kv

    line=$(grep -E "^domain $DOMID " "$STATUS" 2> /dev/null | tail -n1) ||
        return 1
    [ -n "$line" ] || return 1
    for kv in $line; do
        case $kv in
            ram=*) S_RAM=${kv#ram=} ;;
            store=*) S_STORE=${kv#store=} ;;
            loaded=*) S_LOADED=${kv#loaded=} ;;
            faults=*) S_FAULTS=${kv#faults=} ;;
            evicted=*) S_EVICTED=${kv#evicted=} ;;
            lost=*) S_LOST=${kv#lost=} ;;
            corrupt=*) S_CORRUPT=${kv#corrupt=} ;;
            error=*) S_ERROR=${kv#error=} ;;
            observe=*) S_OBSERVE=${kv#observe=} ;;
            observed=*) S_OBSERVED=${kv#observed=} ;;
        esac
    done
}

guest_log() {
    printf '%s/guest-%s.log' "$CONSOLE_DIR" "$GUEST"
}

# Number of the last verify pass the guest reported (0 before the first).
guest_pass() {
    local n

    n=$(grep -ao 'memverify pass=[0-9]*' "$(guest_log)" 2> /dev/null |
        tail -n1 | cut -d= -f2) || true
    printf '%s' "${n:-0}"
}

# Pages found wrong so far, over all passes.
guest_mismatches() {
    local n

    n=$(grep -ao 'memverify pass=[0-9]* pages=[0-9]* mismatches=[0-9]* total=[0-9]*' \
        "$(guest_log)" 2> /dev/null | tail -n1 | sed 's/.*total=//') || true
    if grep -aq 'memverify mismatch' "$(guest_log)" 2> /dev/null &&
        [ "${n:-0}" -eq 0 ]; then
        n=1
    fi
    printf '%s' "${n:-0}"
}

pass_at_least() {
    [ "$(guest_pass)" -ge "$1" ]
}

paged_at_least() {
    [ "$I_PAGED" -ge "$1" ]
}

status_has_domain() {
    status_get
}

daemon_alive() {
    [ -n "$DPID" ] && kill -0 "$DPID" 2> /dev/null
}

progress() {
    local now

    now=$(uptime_s)
    [ $((now - LAST_PROGRESS)) -ge 15 ] || return 0
    LAST_PROGRESS=$now
    status_get || true
    say "  ... $1: pass=$(guest_pass) tot=$I_TOT paged=$I_PAGED;" \
        "daemon: $( (grep -E "^domain $DOMID " "$STATUS" || echo none) \
        2> /dev/null | cut -d' ' -f3-)"
}

# wait_until SECS WHAT CMD...: poll CMD until it succeeds.  Fails at once,
# with FAIL set, if the guest crashes or is gone, memverify finds a wrong
# page, or (DAEMON_REQUIRED=1) the daemon died.
DAEMON_REQUIRED=0
wait_until() {
    local secs=$1 what=$2 end
    shift 2

    end=$(( $(uptime_s) + secs ))
    while :; do
        if ! info; then
            FAIL="guest gone while waiting for $what ($INFO_ERR)"
            DIED=1
            return 1
        fi
        if [ "$I_CRASHED" = 1 ] || [ "$I_SHUTDOWN" = 1 ]; then
            DIED=1
            FAIL="guest shut down (reason $I_REASON, crashed=$I_CRASHED)"
            FAIL="$FAIL while waiting for $what"
            return 1
        fi
        if [ "$(guest_mismatches)" -ne 0 ]; then
            FAIL="memverify found wrong pages while waiting for $what"
            return 1
        fi
        if [ "$DAEMON_REQUIRED" = 1 ] && ! daemon_alive; then
            FAIL="xenshaped died while waiting for $what"
            return 1
        fi
        if "$@"; then
            return 0
        fi
        if [ "$(uptime_s)" -ge "$end" ]; then
            FAIL="timeout after ${secs}s waiting for $what"
            return 1
        fi
        progress "$what"
        sleep 0.5
    done
}

# ---- actions -----------------------------------------------------------

# guest_boot MIB: create the guest and wait for its first verify pass.
# Sets DIED=1 when the guest died (rather than timed out or was never
# created).
DIED=0
guest_boot() {
    local mib=$1 cfg=/run/$GUEST.cfg rc=0

    cat > "$cfg" <<EOF
name = "$GUEST"
type = "pvh"
kernel = "/lane/guest/vmlinuz"
ramdisk = "/lane/guest/initrd.cpio"
extra = "console=hvc0 loglevel=4 MEMVERIFY_MIB=$mib"
memory = $GUEST_MIB
maxmem = $GUEST_MIB
vcpus = 1
on_crash = "preserve"
on_reboot = "preserve"
EOF
    DIED=0
    rm -f "$(guest_log)"
    say "creating the PVH guest ($GUEST_MIB MiB, memverify $mib MiB)"
    timeout 300 xl create "$cfg" > /run/xl-create.log 2>&1 || rc=$?
    DOMID=$(xl domid "$GUEST" 2> /dev/null) || true
    if [ -z "$DOMID" ]; then
        FAIL="xl create failed (rc=$rc): $(tail -n3 /run/xl-create.log |
            tr '\n' ' ')"
        return 1
    fi
    [ "$rc" -eq 0 ] || say "xl create returned $rc but domain $DOMID exists"
    say "guest is domain $DOMID"
    wait_until 400 "the guest's first verify pass" pass_at_least 1 ||
        return 1
    info
    MAX0=$I_MAX
    TOT0=$I_TOT
    say "guest verifying: pass=$(guest_pass) tot=$TOT0 max=$MAX0" \
        "paged=$I_PAGED"
}

# guest_create MIB: guest_boot, again if the guest died while booting.
# Under TCG a PVH guest has been seen to triple-fault during boot, before
# any paging (docs/real-xen.md); that is not what the lane tests.  A
# death after the first pass is never retried: it fails the scenario.
guest_create() {
    local attempt

    for attempt in 1 2 3; do
        guest_boot "$1" && return 0
        [ "$DIED" = 1 ] || return 1
        say "guest died while booting (attempt $attempt): $FAIL;" \
            "$(xl dmesg 2> /dev/null | grep -a 'Triple fault\|crash' |
               tail -n1)"
        timeout 60 xl destroy "$DOMID" > /dev/null 2>&1 || true
    done
    return 1
}

# daemon_start N TARGET: xenshaped instance N, on the one store.
daemon_start() {
    DLOG=/var/log/xenshaped.$1.log
    rm -f "$STATUS"
    xenshaped --backend xen --store "$STORE" --store-size 512M \
        --state-dir "$STATE_DIR" --target "$DOMID=$2" --status "$STATUS" \
        --status-ms 200 --stop-timeout 120000 --foreground "$DAEMON_VERBOSE" \
        ${OBSERVE:+--observe "$OBSERVE"} \
        > "$DLOG" 2>&1 &
    DPID=$!
    say "xenshaped #$1 started (pid $DPID, target $DOMID=$2, log $DLOG)"
}

# Stop the daemon with a signal and wait at most SECS; sets DRC.
DRC=
daemon_stop() {
    local sig=$1 secs=$2 end

    DRC=
    kill "-$sig" "$DPID" 2> /dev/null || true
    end=$(( $(uptime_s) + secs ))
    while daemon_alive; do
        if [ "$(uptime_s)" -ge "$end" ]; then
            say "xenshaped (pid $DPID) still running ${secs}s after" \
                "SIG$sig; killing it"
            kill -KILL "$DPID" 2> /dev/null || true
            DRC=timeout
            break
        fi
        sleep 0.2
    done
    local rc=0
    wait "$DPID" 2> /dev/null || rc=$?
    [ -n "$DRC" ] || DRC=$rc
    DPID=
}

# With the guest paused nothing faults, so once the daemon has reached
# its target, Xen's figures and the daemon's must agree exactly.
at_rest_agree() {
    local end ok=0 prev=

    xl pause "$DOMID"
    end=$(( $(uptime_s) + 40 ))
    while [ "$(uptime_s)" -lt "$end" ]; do
        info || break
        if status_get && [ "$S_STORE" = "$I_PAGED" ] &&
            [ "$S_RAM" = "$I_TOT" ]; then
            if [ "$prev" = "$I_PAGED/$I_TOT" ]; then
                ok=1
                break
            fi
            prev=$I_PAGED/$I_TOT
        else
            prev=
        fi
        sleep 0.5
    done
    xl unpause "$DOMID"
    if [ "$ok" = 1 ]; then
        say "at rest: Xen paged=$I_PAGED tot=$I_TOT; daemon store=$S_STORE" \
            "ram=$S_RAM"
        return 0
    fi
    FAIL="at rest, Xen paged=$I_PAGED tot=$I_TOT but daemon"
    FAIL="$FAIL store=${S_STORE:--} ram=${S_RAM:--}"
    return 1
}

# A paused guest writes nothing: once the epoch in flight is read, the
# daemon's count of observed writes must stand still.
observe_quiet_when_paused() {
    local o1 o2

    xl pause "$DOMID"
    sleep 2.5
    status_get
    o1=$S_OBSERVED
    # More than a period (2 s): at least one whole window falls in here.
    sleep 4.5
    status_get
    o2=$S_OBSERVED
    xl unpause "$DOMID"
    if [ "$o1" != "$o2" ]; then
        FAIL="observed writes grew from $o1 to $o2 while the guest was paused"
        return 1
    fi
    say "observation quiet while paused (observed=$o1)"
}

dump_log() {
    local tag=$1 file=$2 lines=$3

    [ -e "$file" ] || return 0
    tail -n "$lines" "$file" | tr -d '\r' | while IFS= read -r l; do
        printf 'xen-lane-log %s: %s\n' "$tag" "$l"
    done
}

# ---- paging scenarios ----------------------------------------------------

scenario_pageout() {
    local half p0 t0 obs0 obs buf_pages

    half=$((MAX0 / 2))
    DAEMON_REQUIRED=1
    daemon_start 1 40%
    t0=$(uptime_s)
    wait_until 300 "half the guest paged out" paged_at_least "$half" ||
        return 1
    say "paged=$I_PAGED of max=$MAX0 after $(( $(uptime_s) - t0 ))s"
    p0=$(guest_pass)
    status_get
    obs0=$S_OBSERVED
    # Pass p0+1 may have started before; p0+2 and p0+3 run wholly paged.
    WINDOW_MIN=$I_PAGED
    WATCH_MIN=1
    wait_until 900 "two full verify passes while paged" \
        pass_at_least $((p0 + 3)) || { WATCH_MIN=0; return 1; }
    WATCH_MIN=0
    say "passes $((p0 + 2))..$((p0 + 3)) done; paged stayed >= $WINDOW_MIN"
    if [ "$WINDOW_MIN" -lt "$half" ]; then
        FAIL="paged fell to $WINDOW_MIN (< $half) during the passes"
        return 1
    fi
    status_get || { FAIL="no status line for domain $DOMID"; return 1; }
    if [ "$S_LOADED" -le 0 ] || [ "$S_FAULTS" -le 0 ]; then
        FAIL="no page-in served (faults=$S_FAULTS loaded=$S_LOADED)"
        return 1
    fi
    # memverify rewrites its whole buffer every pass.  Log-dirty is on a
    # tenth of the time (200 ms every 2 s): a pass writes most pages
    # outside the windows, but the windows it spans must show some.
    buf_pages=$((BUF_MIB * 256))
    obs=$((S_OBSERVED - obs0))
    say "observation: mode=$S_OBSERVE, $obs writes seen over the passes" \
        "(buffer $buf_pages pages, rewritten each pass)"
    if [ "$OBSERVE" = none ]; then
        :
    elif [ "$S_OBSERVE" = none ] || [ -z "$S_OBSERVE" ]; then
        FAIL="no access observation on the guest"
        return 1
    elif [ "$obs" -lt 64 ]; then
        FAIL="only $obs writes observed over two passes of $buf_pages pages"
        return 1
    else
        observe_quiet_when_paused || return 1
    fi
    at_rest_agree || return 1
    DETAIL="paged_min=$WINDOW_MIN max=$MAX0 faults=$S_FAULTS"
    DETAIL="$DETAIL loaded=$S_LOADED evicted=$S_EVICTED"
    DETAIL="$DETAIL observe=$S_OBSERVE observed=$obs"
}

scenario_restart() {
    local pk paged_kill probe t0 t_attach

    info
    if [ "$I_PAGED" -lt $((MAX0 / 4)) ]; then
        FAIL="only $I_PAGED of $MAX0 paged before kill -9"
        return 1
    fi
    status_get && PAGEINS=$((PAGEINS + S_LOADED))
    pk=$(guest_pass)
    paged_kill=$I_PAGED
    DAEMON_REQUIRED=0
    daemon_stop KILL 10
    say "kill -9 with paged=$paged_kill (guest at pass $pk)"
    info
    if [ "$I_CRASHED" = 1 ] || [ "$I_SHUTDOWN" = 1 ]; then
        FAIL="guest died with the daemon"
        return 1
    fi
    probe=$(lanectl probe "$DOMID") || true
    say "after kill -9: Xen paged=$I_PAGED; $probe"
    DAEMON_REQUIRED=1
    daemon_start 2 40%
    t0=$(uptime_s)
    wait_until 180 "the new daemon's status" status_has_domain || return 1
    t_attach=$(( $(uptime_s) - t0 ))
    wait_until 600 "a full verify pass after the restart" \
        pass_at_least $((pk + 2)) || return 1
    say "restart: pass $((pk + 2)) done $(( $(uptime_s) - t0 ))s after" \
        "restart; status after ${t_attach}s"
    status_get
    if [ "$S_LOST" != 0 ] || [ "$S_CORRUPT" != 0 ] ||
        [ "$S_ERROR" != none ]; then
        FAIL="after re-attach lost=$S_LOST corrupt=$S_CORRUPT"
        FAIL="$FAIL error=$S_ERROR"
        return 1
    fi
    at_rest_agree || return 1
    DETAIL="paged_at_kill=$paged_kill status_after_s=$t_attach"
    DETAIL="$DETAIL lost=$S_LOST ${probe// /_}"
}

scenario_sigterm() {
    local pt probe oprobe left t0

    status_get && PAGEINS=$((PAGEINS + S_LOADED))
    info
    say "SIGTERM with paged=$I_PAGED"
    pt=$(guest_pass)
    DAEMON_REQUIRED=0
    t0=$(uptime_s)
    daemon_stop TERM 180
    say "xenshaped exited rc=$DRC after $(( $(uptime_s) - t0 ))s"
    info || { FAIL="guest gone after SIGTERM"; return 1; }
    probe=$(lanectl probe "$DOMID") || true
    say "after SIGTERM: Xen tot=$I_TOT paged=$I_PAGED max=$I_MAX; $probe"
    if [ "$DRC" != 0 ]; then
        FAIL="xenshaped exit status $DRC on SIGTERM"
        return 1
    fi
    if [ "$I_PAGED" != 0 ] || [ "$I_TOT" != "$TOT0" ] ||
        [ "$I_MAX" != "$MAX0" ]; then
        FAIL="left paged=$I_PAGED tot=$I_TOT max=$I_MAX"
        FAIL="$FAIL (found tot=$TOT0 max=$MAX0)"
        return 1
    fi
    if [ "$probe" != "probe enabled=0" ]; then
        FAIL="paging not disabled: $probe"
        return 1
    fi
    oprobe=$(lanectl observe "$DOMID") || true
    say "after SIGTERM: $oprobe"
    # monitor=error=E is fine: a hypervisor that cannot give a monitor
    # ring cannot have one left on.
    case $oprobe in
        "observe logdirty=0 monitor=1") left=1 ;;
        "observe logdirty=0 monitor="*) left=0 ;;
        *) left=1 ;;
    esac
    if [ "$left" = 1 ]; then
        FAIL="access observation left on: $oprobe"
        return 1
    fi
    wait_until 300 "a full verify pass without a pager" \
        pass_at_least $((pt + 2)) || return 1
    DETAIL="drain_s=$(( $(uptime_s) - t0 )) paged=0 tot=$I_TOT"
    DETAIL="$DETAIL ${oprobe// /_}"
}

# ---- shaping and tenancy ---------------------------------------------------

SOAKER=lane-soaker
SOAKER_UUID=5a4e0000-0000-4000-8000-00000000cafe
DOMID2=

soaker_log() {
    printf '%s/guest-%s.log' "$CONSOLE_DIR" "$SOAKER"
}

# st DOMID KEY: a status key of the domain ("" if absent).
st() {
    xenstore-read "/local/domain/$1/xenshape/$2" 2> /dev/null || true
}

st_is() {
    [ "$(st "$1" "$2")" = "$3" ]
}

st_has() {
    case $(st "$1" "$2") in *"$3"*) return 0 ;; esac
    return 1
}

# The second guest: a soaker whose policy cloud control wrote before it
# was created (by its fixed UUID), probing xenstore from inside first
# (xsprobe.c) with the first guest as the "other" domain.
soaker_boot() {
    local cfg=/run/$SOAKER.cfg rc=0 uuid1

    uuid1=$(xenstore-read "/local/domain/$DOMID/vm") || true
    uuid1=${uuid1#/vm/}

    {
        printf 'name = "%s"\nuuid = "%s"\ntype = "pvh"\n' "$SOAKER" \
            "$SOAKER_UUID"
        printf 'kernel = "/lane/guest/vmlinuz"\n'
        printf 'ramdisk = "/lane/guest/initrd.cpio"\n'
        printf 'extra = "console=hvc0 loglevel=4 MEMVERIFY_MIB=16 '
        printf 'MEMVERIFY_XSPROBE=1 XSPROBE_OTHER=%s ' "$DOMID"
        printf 'XSPROBE_OTHER_VM=%s"\n' "$uuid1"
        printf 'memory = 96\nmaxmem = 96\nvcpus = 1\n'
        printf 'on_crash = "preserve"\non_reboot = "preserve"\n'
    } > "$cfg"
    rm -f "$(soaker_log)"
    say "creating the soaker guest (96 MiB, uuid $SOAKER_UUID)"
    timeout 300 xl create "$cfg" > /run/xl-create2.log 2>&1 || rc=$?
    DOMID2=$(xl domid "$SOAKER" 2> /dev/null) || true
    if [ -z "$DOMID2" ]; then
        FAIL="xl create of the soaker failed (rc=$rc):"
        FAIL="$FAIL $(tail -n3 /run/xl-create2.log | tr '\n' ' ')"
        return 1
    fi
    say "soaker is domain $DOMID2"
    wait_until 400 "the soaker's xenstore probe and first pass" \
        grep -aq 'memverify pass=1 ' "$(soaker_log)"
}

scenario_shape() {
    local uuid1 e

    uuid1=$(xenstore-read "/local/domain/$DOMID/vm") || {
        FAIL="no /local/domain/$DOMID/vm"; return 1; }
    uuid1=${uuid1#/vm/}
    # Cloud control's part: host policy, and both VMs' policy, with
    # xenstore-write from Dom0.  The soaker's is written before it
    # exists, by UUID.
    xenstore-write /xenshape/host/reserved 64M /xenshape/host/interval-ms 500
    xenstore-write "/xenshape/vm/$uuid1/priority" 800
    xenstore-write "/xenshape/vm/$SOAKER_UUID/soaker" 1 \
        "/xenshape/vm/$SOAKER_UUID/priority" 300 \
        "/xenshape/vm/$SOAKER_UUID/min-operating" 32M \
        "/xenshape/vm/$SOAKER_UUID/min-starting" 48M
    DLOG=/var/log/xenshaped.shape.log
    rm -f "$STATUS"
    # shellcheck disable=SC2086
    xenshaped --backend xen --store "$STORE" --state-dir "$STATE_DIR" \
        --shape --status "$STATUS" --status-ms 500 --stop-timeout 120000 \
        --foreground $DAEMON_VERBOSE ${OBSERVE:+--observe "$OBSERVE"} \
        > "$DLOG" 2>&1 &
    DPID=$!
    say "xenshaped --shape started (pid $DPID)"
    DAEMON_REQUIRED=1
    wait_until 120 "status of domain $DOMID" st_has "$DOMID" state i ||
        return 1
    say "domain $DOMID: state=$(st "$DOMID" state)" \
        "target=$(st "$DOMID" target-frames)" \
        "policy/priority=$(st "$DOMID" policy/priority)"
    if ! st_is "$DOMID" policy/priority 800; then
        FAIL="policy in force shows priority"
        FAIL="$FAIL '$(st "$DOMID" policy/priority)', not 800"
        return 1
    fi

    soaker_boot || return 1
    wait_until 120 "the soaker's status" st_has "$DOMID2" state i || return 1
    if ! st_is "$DOMID2" policy/soaker 1; then
        FAIL="the soaker's policy in force: soaker='$(st "$DOMID2" \
            policy/soaker)'"
        return 1
    fi

    # A pin: the domain comes fully in and says so.
    xenstore-write "/xenshape/vm/$uuid1/pin" 1
    wait_until 120 "domain $DOMID pinned" st_is "$DOMID" state pinned ||
        return 1
    wait_until 120 "domain $DOMID fully in" paged_at_most 0 || return 1
    if [ "$(st "$DOMID" target-frames)" -lt "$I_MAX" ]; then
        FAIL="pinned but target=$(st "$DOMID" target-frames) < $I_MAX"
        return 1
    fi
    say "pinned: target=$(st "$DOMID" target-frames) paged=$I_PAGED;" \
        "decision: $(st "$DOMID" decision)"

    # An invalid value is refused with its reason; the last valid one
    # stays in force.
    xenstore-write "/xenshape/vm/$uuid1/priority" abc
    wait_until 60 "the error for priority=abc" \
        st_has "$DOMID" error priority || return 1
    e=$(st "$DOMID" error)
    if ! st_is "$DOMID" policy/priority 800; then
        FAIL="priority in force became '$(st "$DOMID" policy/priority)'"
        return 1
    fi
    say "invalid priority refused: error=\"$e\""
    xenstore-write "/xenshape/vm/$uuid1/priority" 800
    wait_until 60 "the error to clear" st_is "$DOMID" error "" || return 1

    # Unpinned with a low threshold: paged out, step by step.
    xenstore-write "/xenshape/vm/$uuid1/threshold-high" 30% \
        "/xenshape/vm/$uuid1/threshold-low" 20%
    xenstore-rm "/xenshape/vm/$uuid1/pin"
    wait_until 300 "domain $DOMID paged out by policy" \
        paged_at_least $((I_MAX / 4)) || return 1
    say "unpinned: state=$(st "$DOMID" state) paged=$I_PAGED" \
        "target=$(st "$DOMID" target-frames); decision:" \
        "$(st "$DOMID" decision)"
    DETAIL="pinned_then_paged=$I_PAGED error_shown=yes"
    DETAIL="$DETAIL soaker_state=$(st "$DOMID2" state)"
}

paged_at_most() {
    [ "$I_PAGED" -le "$1" ]
}

# What the soaker's xsprobe saw, against what the permissions promise.
scenario_tenancy() {
    local log line path op got bad=0 n=0 lines=/run/xsprobe.lines other=

    log=$(soaker_log)
    if ! grep -aq '^xsprobe done' "$log"; then
        FAIL="no xsprobe output: $(grep -a xsprobe "$log" | tail -n2 |
            tr '\n' ' ')"
        return 1
    fi
    # A file, not a process substitution: the scenario does not depend
    # on /dev/fd in this initramfs.
    grep -a '^xsprobe op=' "$log" > "$lines" || true
    while IFS= read -r line; do
        line=${line%$'\r'}
        op=$(printf '%s' "$line" | sed -n 's/.* op=\([a-z]*\) .*/\1/p')
        path=$(printf '%s' "$line" | sed -n 's/.* path=\([^ ]*\) .*/\1/p')
        got=${line##*result=}
        # Its own status it may read; everything else must be refused.
        # EACCES is what the permissions give; an oversized value may be
        # refused for its size first, which is as good (nothing written).
        n=$((n + 1))
        case "$op:$path" in
            "read:/local/domain/$DOMID2/xenshape/state")
                [ "$got" = ok ] || {
                    say "tenancy: $op $path gave $got, want ok"
                    bad=$((bad + 1))
                }
                ;;
            *)
                if [ "$got" = ok ]; then
                    say "tenancy: $op $path succeeded from the guest"
                    bad=$((bad + 1))
                elif [ "$got" != EACCES ]; then
                    other="$other $op:$got"
                fi
                ;;
        esac
    done < "$lines"
    say "tenancy: $n probes, $bad unexpected; refused otherwise than" \
        "EACCES:${other:- none}"
    if [ "$n" -lt 14 ] || [ "$bad" != 0 ]; then
        FAIL="$bad of $n guest xenstore probes not as the permissions say"
        return 1
    fi
    # And nothing the guest tried changed what is in force, for itself
    # or for the other domain.
    if ! st_is "$DOMID2" policy/priority 300 ||
        ! st_is "$DOMID2" policy/pin 0; then
        FAIL="the soaker's policy changed: priority=$(st "$DOMID2" \
            policy/priority) pin=$(st "$DOMID2" policy/pin)"
        return 1
    fi
    if ! st_is "$DOMID" policy/priority 800 ||
        ! st_is "$DOMID" policy/pin 0 || ! st_is "$DOMID" error ""; then
        FAIL="domain $DOMID's policy changed: priority=$(st "$DOMID" \
            policy/priority) pin=$(st "$DOMID" policy/pin)"
        FAIL="$FAIL error=$(st "$DOMID" error)"
        return 1
    fi
    DETAIL="probes=$n refused=$((n - 1)) own_status_read=ok"
}

scenario_shape_stop() {
    DAEMON_REQUIRED=0
    daemon_stop TERM 180
    info
    if [ "$DRC" != 0 ] || [ "$I_PAGED" != 0 ]; then
        FAIL="shaping daemon exit $DRC, left paged=$I_PAGED"
        return 1
    fi
    return 0
}

run_paging() {
    local n name ok=1

    insmod /lane/modules/brd.ko rd_nr=1 rd_size=$((512 * 1024))
    if ! guest_create "$BUF_MIB"; then
        for n in 1:pageout 2:restart 3:sigterm; do
            result "${n%%:*}" "${n#*:}" fail "no guest: $FAIL"
        done
        return 1
    fi
    for n in 1:pageout 2:restart 3:sigterm; do
        name=${n#*:}
        FAIL=
        DETAIL=
        if [ "$ok" = 0 ]; then
            result "${n%%:*}" "$name" fail "not run: an earlier one failed"
            continue
        fi
        say "scenario ${n%%:*} ($name)"
        if "scenario_$name"; then
            result "${n%%:*}" "$name" pass "$DETAIL"
        else
            result "${n%%:*}" "$name" fail "$FAIL"
            ok=0
        fi
    done
    for n in 5:shape 6:tenancy; do
        name=${n#*:}
        FAIL=
        DETAIL=
        if [ "$ok" = 0 ]; then
            result "${n%%:*}" "$name" fail "not run: an earlier one failed"
            continue
        fi
        say "scenario ${n%%:*} ($name)"
        if "scenario_$name"; then
            result "${n%%:*}" "$name" pass "$DETAIL"
        else
            result "${n%%:*}" "$name" fail "$FAIL"
            ok=0
        fi
    done
    if [ -n "$DPID" ]; then
        scenario_shape_stop || { say "stopping: $FAIL"; ok=0; }
    fi
    printf 'xen-lane-stats mode=paging paged_max=%s pageins=%s mismatches=%s\n' \
        "$PAGED_MAX" "$PAGEINS" "$(guest_mismatches)"
    [ "$ok" = 1 ]
}

# ---- stock hypervisor ----------------------------------------------------

cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

scenario_unsupported() {
    local probe t_before t_after c0 c1 p0 target0 target1 balloon

    probe=$(lanectl probe "$DOMID") || true
    say "stock hypervisor: $probe"
    if [ "$probe" != "probe error=ENOSYS" ]; then
        FAIL="expected ENOSYS from xc_mem_paging_enable, got: $probe"
        return 1
    fi
    target0=$(xenstore-read "/local/domain/$DOMID/memory/target")
    DAEMON_REQUIRED=1
    daemon_start 1 75%
    wait_until 90 "the daemon to report paging unsupported" \
        grep -qiE 'paging unsupported|paging not available|ENOSYS' \
        "$DLOG" || return 1
    say "daemon: $(grep -iE 'paging unsupported|paging not available|ENOSYS' \
        "$DLOG" | head -n1)"
    # Measure: the daemon must idle, not retry in a tight loop.
    p0=$(guest_pass)
    c0=$(cpu_ticks "$DPID")
    t_before=$(uptime_s)
    sleep 10
    t_after=$(uptime_s)
    daemon_alive || { FAIL="xenshaped died on the stock hypervisor"; return 1; }
    c1=$(cpu_ticks "$DPID")
    info
    if [ "$I_CRASHED" = 1 ] || [ "$I_SHUTDOWN" = 1 ]; then
        FAIL="guest died"
        return 1
    fi
    # Clock ticks are 1/100 s: more than 2 s of CPU in 10 s is a spin.
    if [ $((c1 - c0)) -gt $(( (t_after - t_before) * 20 )) ]; then
        FAIL="xenshaped used $((c1 - c0)) ticks in $((t_after - t_before))s"
        return 1
    fi
    if [ "$(guest_pass)" -le "$p0" ]; then
        FAIL="the guest made no progress (pass $p0)"
        return 1
    fi
    target1=$(xenstore-read "/local/domain/$DOMID/memory/target")
    if [ "$target1" != "$target0" ]; then
        balloon="balloon=written:$target0->$target1"
    elif grep -aq 'memory/target' /lane/bin/xenshaped; then
        FAIL="the daemon has a balloon fallback but memory/target is"
        FAIL="$FAIL still $target0"
        return 1
    else
        balloon="balloon=absent"
    fi
    DAEMON_REQUIRED=0
    daemon_stop TERM 60
    if [ "$DRC" != 0 ]; then
        FAIL="xenshaped exit status $DRC on SIGTERM"
        return 1
    fi
    DETAIL="probe=ENOSYS cpu_ticks=$((c1 - c0))/$((t_after - t_before))s"
    DETAIL="$DETAIL $balloon"
}

run_stock() {
    FAIL=
    DETAIL=
    insmod /lane/modules/brd.ko rd_nr=1 rd_size=$((64 * 1024))
    if ! guest_create 16; then
        result 4 unsupported fail "no guest: $FAIL"
        return 1
    fi
    say "scenario 4 (unsupported)"
    if scenario_unsupported; then
        result 4 unsupported pass "$DETAIL"
    else
        result 4 unsupported fail "$FAIL"
        return 1
    fi
    printf 'xen-lane-stats mode=stock paged_max=0 pageins=0 mismatches=%s\n' \
        "$(guest_mismatches)"
}

main() {
    local rc=0 f

    say "scenarios: mode $MODE"
    case $MODE in
        paging) run_paging || rc=1 ;;
        stock) run_stock || rc=1 ;;
        *) say "unknown mode $MODE"; return 2 ;;
    esac
    for f in /var/log/xenshaped.*.log; do
        [ -e "$f" ] || continue
        dump_log "$(basename "$f" .log)" "$f" $((rc ? 80 : 30))
    done
    grep -a 'Memory: \|swiotlb\|software IO TLB' "$(guest_log)" 2> /dev/null |
        tr -d '\r' | sed 's/^/xen-lane-log guest: /' || true
    dump_log guest "$(guest_log)" $((rc ? 40 : 8))
    if [ "$rc" != 0 ]; then
        xl dmesg > /run/xl-dmesg.log 2>&1 || true
        dump_log xen /run/xl-dmesg.log 40
    fi
    if [ -n "$DPID" ]; then
        daemon_stop TERM 60
    fi
    [ -z "$DOMID" ] || timeout 60 xl destroy "$DOMID" || true
    return "$rc"
}

main
