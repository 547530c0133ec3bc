#!/bin/bash
# run-tests.sh - the default suite behind `make check`: every check binary
# in the test build directory, then every scripted end-to-end test
# (tests/e2e-*.sh) but e2e-deb.sh, which builds the Debian packages and is
# `make check-deb` of its own (it needs debhelper and takes minutes).
# Prints one summary line at the end, "N passed, N failed", and exits
# non-zero if anything failed.  The end of each failed test's output is
# printed again just before that line: a CI log is often read from its
# tail, and a failure's reason should be there, not ten tests above.
set -u
testbin=${1:-build/tests}
cd "$(dirname "$0")/.."
logs=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-check.XXXXXX")
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0
failures=()

run_one() {
    local name=$1; shift
    local start=$SECONDS
    echo "=== $name"
    if "$@" 2>&1 | tee "$logs/$name"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
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

for name in ${failures[@]+"${failures[@]}"}; do
    echo "=== the end of $name's output, again"
    tail -n 25 "$logs/$name"
done
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
