#!/bin/bash
# run-asan.sh - the suite behind `make check-asan`: run-tests.sh on a build
# made with ASan and UBSan (build/asan), the e2e scripts using its daemon
# and simulated host.  Every process writes its sanitizer reports to a
# log of its own, so that a report from a process nobody waits for (the
# simulated host of an e2e script, a forked check test) still counts: the
# suite fails if any report was written, and the reports are printed.
set -u
build=${1:-build/asan}
cd "$(dirname "$0")/.."

logs=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-asan.XXXXXX")
trap 'rm -rf "$logs"' EXIT
# detect_leaks: LeakSanitizer at every exit.  abort_on_error=0: exit
# with a code, so check reports the test and goes on to the next.
export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
export BIN=$build/bin

start=$SECONDS
tests/run-tests.sh "$build/tests"
rc=$?

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
    for f in $reports; do
        echo "==== sanitizer report: $(basename "$f")"
        cat "$f"
    done
    echo "check-asan: $(wc -l <<<"$reports") sanitizer report(s)"
    rc=1
fi
echo "check-asan: $([ $rc -eq 0 ] && echo passed || echo FAILED)" \
    "in $((SECONDS - start)) s, no sanitizer reports: $([ -z "$reports" ] && echo yes || echo no)"
exit $rc
