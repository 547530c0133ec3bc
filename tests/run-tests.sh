#!/bin/bash
# run-tests.sh - the default suite behind `make check`: every check binary
# in the test build directory, then every scripted end-to-end test
# (tests/e2e-*.sh) but e2e-deb.sh, which builds the Debian packages and is
# `make check-deb` of its own (it needs debhelper and takes minutes).  Prints one summary line at the end, "N passed,
# N failed", and exits non-zero if anything failed.
set -u
testbin=${1:-build/tests}
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()

run_one() {
    local name=$1; shift
    local start=$SECONDS
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "--- $name: ok ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "--- $name: FAILED ($((SECONDS - start)) s)"
    fi
}

for t in "$testbin"/check_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/e2e-*.sh; do
    [ -f "$t" ] || continue
    [ "$t" = tests/e2e-deb.sh ] && continue
    run_one "$(basename "$t" .sh)" bash "$t"
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
