#!/bin/bash
# run.sh - the real-Xen lane (`make check-xen`): xenshaped against a real
# Xen 4.17 hypervisor, booted under QEMU (TCG) on a build machine that
# has no hypervisor of its own.  See docs/real-xen.md.
#
# Steps, each bounded by a timeout:
#   1. install the packages the lane needs (apt-get, only what is missing);
#   2. build-xen.sh: a paging-enabled hypervisor from Debian's xen source
#      package and Debian's config plus CONFIG_UNSUPPORTED and
#      CONFIG_MEM_PAGING (cached under build/xen-lane/cache/);
#      Debian's stock hypervisor comes from xen-hypervisor-4.17-amd64;
#   3. compile the guest's memverify (static) and Dom0's lanectl helper
#      (against libxenctrl), then mkimages.sh: the guest and Dom0 initramfs;
#   4. boot Xen + Dom0 under qemu-system-x86_64 twice: on the paging
#      hypervisor for scenarios 1-3, on the stock one for scenario 4
#      (dom0/scenarios.sh says what each checks); a boot whose guest died
#      by triple fault (an emulator fault under TCG, docs/real-xen.md) is
#      repeated, up to four boots, and says so;
#   5. read the results from the serial logs and print one line:
#      xen-lane scenarios=<n> passed=<n> paged_max=<frames> pageins=<n>
#               mismatches=<n>
#      exiting non-zero when a scenario failed or did not report.
#
# Everything goes to build/xen-lane/ (logs in build/xen-lane/logs/);
# nothing Xen-made is ever committed.  XEN_LANE_PROGS=DIR tests another
# build's programs (default build/bin); XEN_LANE_VERBOSE=2 runs xenshaped
# with -vv (debug messages); XEN_LANE_OBSERVE=MODE runs it with
# --observe MODE (none: no access observation, and no check of it).  XEN_LANE_ONLY=paging|stock runs one
# boot only (for development); the summary then counts its scenarios only.
set -euo pipefail

# shellcheck source=tools/xen-lane/lib.sh
. "$(dirname "$0")/lib.sh"

# Bounds for one QEMU boot, from QEMU start to power-off.  Measured runs
# take far less (docs/real-xen.md); these only guarantee an end.
PAGING_TIMEOUT=${XEN_LANE_PAGING_TIMEOUT:-1080}
STOCK_TIMEOUT=${XEN_LANE_STOCK_TIMEOUT:-420}
XEN_ARGS="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M"
XEN_ARGS="$XEN_ARGS loglvl=all guest_loglvl=all noreboot smap=0 smep=0"
# Eager FPU switching: with Xen's default (lazy, on this AMD-model CPU),
# Dom0 processes crash at random ("malloc(): unsorted double linked list
# corrupted", segfaults in busybox) while an HVM guest runs under TCG's
# SVM emulation; with it, none in the same runs.  See docs/real-xen.md.
XEN_ARGS="$XEN_ARGS spec-ctrl=eager-fpu"

build_tools() {
    mkdir -p "$WORK/bin"
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static \
        -o "$WORK/bin/memverify" "$LANE_DIR/guest/memverify.c"
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static \
        -o "$WORK/bin/xsprobe" "$LANE_DIR/guest/xsprobe.c"
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror \
        -o "$WORK/bin/lanectl" "$LANE_DIR/helper/lanectl.c" -lxenctrl
}

# The QEMU run in progress (its timeout(1) wrapper), stopped if we are.
QEMU_PID=
# Whether the summary line was printed; if a setup step fails first, the
# EXIT trap prints one that counts every scenario as failed.
SUMMARY_DONE=0
on_exit() {
    local n=6

    if [ -n "$QEMU_PID" ]; then
        kill "$QEMU_PID" 2> /dev/null || true
    fi
    if [ "$SUMMARY_DONE" = 0 ]; then
        case ${XEN_LANE_ONLY:-} in paging) n=5 ;; stock) n=1 ;; esac
        printf 'xen-lane scenarios=%s passed=0 paged_max=0 pageins=0 mismatches=0\n' "$n"
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# boot NAME XEN_IMAGE TIMEOUT: one QEMU run, serial console to
# $LOGS/NAME.serial.  Returns when QEMU has exited: by itself after Dom0
# powered off, or killed 60 s after Dom0 said it was done, or at TIMEOUT.
boot() {
    local name=$1 xen=$2 secs=$3 log=$LOGS/$1.serial krel qpid t0 done_at=

    krel=$(lane_kernel_release)
    case "/boot/vmlinuz-$krel$WORK" in
        *,*) lane_die "a path contains a comma, which -initrd cannot take" ;;
    esac
    lane_log "booting Xen ($name) under QEMU, at most ${secs}s; log $log"
    t0=$SECONDS
    : > "$log"
    timeout --kill-after=10 "$secs" qemu-system-x86_64 \
        -accel tcg -cpu max,-rdtscp -smp 2 -m 3072 \
        -display none -monitor none -serial stdio -no-reboot \
        -kernel "$xen" -append "$XEN_ARGS" \
        -initrd "/boot/vmlinuz-$krel console=hvc0 earlyprintk=xen loglevel=4 xenlane.mode=$name${XEN_LANE_VERBOSE:+ xenlane.verbose=$XEN_LANE_VERBOSE}${XEN_LANE_OBSERVE:+ xenlane.observe=$XEN_LANE_OBSERVE},$WORK/images/dom0.cpio" \
        < /dev/null > "$log" 2>&1 &
    qpid=$!
    QEMU_PID=$qpid
    while kill -0 "$qpid" 2> /dev/null; do
        if [ -z "$done_at" ] && grep -aq 'xen-lane-dom0 .* done rc=' "$log"
        then
            done_at=$SECONDS
        fi
        if [ -n "$done_at" ] && [ $((SECONDS - done_at)) -ge 60 ]; then
            lane_log "QEMU still running 60s after Dom0 finished; stopping it"
            kill "$qpid" 2> /dev/null || true
            break
        fi
        sleep 1
    done
    wait "$qpid" 2> /dev/null || true
    QEMU_PID=
    lane_log "$name: QEMU ran $((SECONDS - t0))s"
    grep -a '^xen-lane' "$log" | tr -d '\r' |
        grep -av '^xen-lane-log' > "$LOGS/$name.lines" || true
}

# How a boot's guest died, if it died by triple fault: "vmrun" when the
# dumped guest state has Xen's own code selector (e008) and RIP, the
# instruction after VMRUN in svm_asm_do_resume, with CR2 equal to it:
# QEMU 7.2's TCG emulation of SVM resumed the guest at the host's
# post-VMRUN address, which no guest can do by itself.  "guest" for any
# other triple fault; so far always at memverify's first touch of a page,
# the restart point of a nested page fault, with CR4 or CR2 not what the
# guest kernel ever sets.  Empty when there was none.  docs/real-xen.md
# has the details.
#
# "oops" for the third form seen: not a triple fault but the guest kernel
# dying in its own entry code, faulting on its first per-CPU access
# (irqentry_enter's %gs read) while delivering Xen's event-channel
# upcall on top of memverify's user-mode instruction: the emulated CPU
# resumed the guest with a GS base the kernel never set, the same kind of
# state loss at VMRUN as above.  Only that trace counts (the upcall
# vector's entry in the oops together with a fault at the kernel's
# entry); any other guest crash is final.
triple_fault() {
    local out

    out=$(tr -d '\r' < "$1" | awk '/Triple fault/ { t = 1 }
        t && /RIP: / { print; exit }') || true
    case $out in
        "") ;;
        *"RIP:    e008:"*) printf 'vmrun\n'; return ;;
        *) printf 'guest\n'; return ;;
    esac
    if tr -d '\r' < "$1" | grep -aq '^xen-lane-log guest: .*sysvec_xen_hvm_callback' &&
        tr -d '\r' < "$1" |
        grep -aq '^xen-lane-log guest: .*RIP: 0010:\(irqentry_enter\|error_entry\)+'; then
        printf 'oops\n'
    fi
}

# boot_retry NAME XEN_IMAGE TIMEOUT: boot, and boot again (four boots at
# most) when a scenario failed because the guest died by triple fault, or
# by the entry-code oops above, while memverify had found no wrong page.  Under TCG that happens in
# about one paging boot in three, always right after the page-out; any
# other failure is final.  Each failed attempt's log is kept as
# NAME.serial.N, and the repeats are reported before the summary.
boot_retry() {
    local name=$1 attempt kind

    for attempt in 1 2 3 4; do
        boot "$@"
        grep -aq 'result=fail' "$LOGS/$name.lines" || return 0
        kind=$(triple_fault "$LOGS/$name.serial")
        [ -n "$kind" ] || return 0
        if grep -aq '^xen-lane-stats .* mismatches=[1-9]' \
            "$LOGS/$name.lines"; then
            return 0
        fi
        mv "$LOGS/$name.serial" "$LOGS/$name.serial.$attempt"
        RETRIES="$RETRIES $name:$kind"
        lane_log "$name: the guest died under TCG ($kind; see" \
            "docs/real-xen.md); log kept as $name.serial.$attempt"
        if [ "$attempt" -lt 4 ]; then
            lane_log "$name: booting again"
        fi
    done
}
RETRIES=

# Sum the results of the boots that ran.
summarize() {
    local expected=$1 passed=0 failed=0 paged_max=0 pageins=0 mism=0
    local n line v

    for n in $expected; do
        line=$(cat "$LOGS"/*.lines 2> /dev/null |
            grep -a "^xen-lane-result scenario=$n " | tail -n1) || true
        if [ -z "$line" ]; then
            printf 'xen-lane-result scenario=%s result=fail no result (see %s)\n' \
                "$n" "$LOGS" >&2
            failed=$((failed + 1))
            continue
        fi
        printf '%s\n' "$line" >&2
        case $line in
            *" result=pass"*) passed=$((passed + 1)) ;;
            *) failed=$((failed + 1)) ;;
        esac
    done
    while read -r line; do
        v=$(printf '%s\n' "$line" | sed -n 's/.* paged_max=\([0-9]*\).*/\1/p')
        [ "${v:-0}" -gt "$paged_max" ] && paged_max=$v
        v=$(printf '%s\n' "$line" | sed -n 's/.* pageins=\([0-9]*\).*/\1/p')
        pageins=$((pageins + ${v:-0}))
        v=$(printf '%s\n' "$line" | sed -n 's/.* mismatches=\([0-9]*\).*/\1/p')
        mism=$((mism + ${v:-0}))
    done < <(cat "$LOGS"/*.lines 2> /dev/null | grep -a '^xen-lane-stats ')
    printf 'xen-lane scenarios=%s passed=%s paged_max=%s pageins=%s mismatches=%s\n' \
        "$((passed + failed))" "$passed" "$paged_max" "$pageins" "$mism"
    SUMMARY_DONE=1
    [ "$failed" -eq 0 ] && [ "$mism" -eq 0 ]
}

main() {
    local t0=$SECONDS xen_paging only=${XEN_LANE_ONLY:-} expected=""

    cd "$TOP_DIR"
    [ -x "$PROGS_DIR/xenshaped" ] ||
        lane_die "$PROGS_DIR/xenshaped missing (make all)"
    lane_install_deps
    mkdir -p "$WORK" "$LOGS"
    rm -f "$LOGS"/*.serial "$LOGS"/*.serial.* "$LOGS"/*.lines
    xen_paging=$("$LANE_DIR/build-xen.sh")
    zcat /boot/xen-4.17-amd64.gz > "$WORK/xen-stock"
    build_tools
    "$LANE_DIR/mkimages.sh" "$WORK/bin/memverify" "$WORK/bin/lanectl" \
        "$WORK/images"
    lane_log "ready after $((SECONDS - t0))s"
    if [ -z "$only" ] || [ "$only" = paging ]; then
        boot_retry paging "$xen_paging" "$PAGING_TIMEOUT"
        expected="1 2 3 5 6"
    fi
    if [ -z "$only" ] || [ "$only" = stock ]; then
        boot_retry stock "$WORK/xen-stock" "$STOCK_TIMEOUT"
        expected="$expected 4"
    fi
    [ -z "$RETRIES" ] ||
        lane_log "boots repeated after guest deaths under TCG:$RETRIES"
    lane_log "wall time $((SECONDS - t0))s"
    summarize "$expected"
}

main "$@"
