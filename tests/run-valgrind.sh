#!/bin/bash
# run-valgrind.sh - the suite behind `make check-valgrind`: every check
# binary of a plain build (build/vg, -O1 -g) under valgrind's memcheck.
# Any memcheck error or leak (definite, indirect or possible) fails it.
#
# Check runs every test in the one process (CK_FORK=no), so that a leak
# is reported against the binary that made it rather than lost with a
# forked child.  Without fork check enforces no timeouts;
# CK_TIMEOUT_MULTIPLIER is set all the same, for a run with CK_FORK=yes.
# tests/valgrind.supp holds the suppressions, each with its reason.
# Prints one line per binary and a summary.
set -u
testbin=${1:-build/vg/tests}
cd "$(dirname "$0")/.."

export CK_FORK=no
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-20}
logs=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-vg.XXXXXX")
trap 'rm -rf "$logs"' EXIT

# --fair-sched: the simulated guests' vCPU threads spin; without it one
# thread can starve the pager's for a long time under valgrind's lock.
# --child-silent-after-fork: tests fork children that play another
# process (a pager that dies holding a mapping) and _exit(); such a child
# holds copies of buffers that threads of its parent own, threads the
# child does not have, so memcheck would call them lost.  The parent is
# checked in full, the children's code is the same library.
vg=(valgrind -q --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    --fair-sched=yes --num-callers=30 --child-silent-after-fork=yes
    --suppressions=tests/valgrind.supp)

passed=0
failed=0
failures=()
start=$SECONDS
for t in "$testbin"/check_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    t0=$SECONDS
    "${vg[@]}" --log-file="$logs/$name.vg" "$t" >"$logs/$name.out" 2>&1
    rc=$?
    tail -n 1 "$logs/$name.out"
    if [ $rc -eq 0 ] && [ ! -s "$logs/$name.vg" ]; then
        passed=$((passed + 1))
        echo "--- $name: ok ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "--- $name: FAILED, exit $rc ($((SECONDS - t0)) s)"
        grep -v "^Running suite\|^[0-9]*%: Checks" "$logs/$name.out" | tail -n 20
        cat "$logs/$name.vg"
    fi
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "check-valgrind: $passed passed, $failed failed in $((SECONDS - start)) s"
[ "$failed" -eq 0 ]
