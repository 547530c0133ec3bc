#!/bin/bash
# run-fuzz.sh - the runner behind `make fuzz`: every libFuzzer target
# built into DIR (fuzz_<name>) runs for SECONDS, on its seed corpus
# tests/fuzz/<name>/ (written first by DIR/seed_<name> when there is
# one) and its own growing corpus under DIR/../corpus/<name>/, with the
# options in tests/fuzz/<name>.options if any.  A crash, leak or
# sanitizer report is saved under DIR/../artifacts/<name>/ and fails the
# run.  Prints the executions of each target and the total.
set -u
dir=${1:-build/fuzz/fuzz}
secs=${2:-60}
cd "$(dirname "$0")/../.."

total=0
crashes=0
ntargets=0
failed=()
for t in "$dir"/fuzz_*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz_}
    seeds=tests/fuzz/$name
    corpus=$dir/../corpus/$name
    artifacts=$dir/../artifacts/$name
    log=$dir/../fuzz_$name.log
    mkdir -p "$corpus" "$artifacts"
    if [ -x "$dir/seed_$name" ]; then
        "$dir/seed_$name" "$seeds" || { failed+=("$name(seeds)"); continue; }
    fi
    opts=()
    if [ -f "tests/fuzz/$name.options" ]; then
        while read -r o; do
            [ -n "$o" ] && opts+=("$o")
        done < <(sed -e 's/#.*//' "tests/fuzz/$name.options")
    fi
    dirs=("$corpus")
    [ -d "$seeds" ] && dirs+=("$seeds")
    before=$(find "$artifacts" -type f | wc -l)
    "$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${opts[@]}" "${dirs[@]}" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    new=$(( $(find "$artifacts" -type f | wc -l) - before ))
    ntargets=$((ntargets + 1))
    total=$((total + ${execs:-0}))
    echo "fuzz_$name: ${execs:-0} executions in $secs s, exit $rc," \
        "$new new crash artifact(s)"
    if [ "$rc" -ne 0 ] || [ "$new" -ne 0 ]; then
        crashes=$((crashes + (new > 0 ? new : 1)))
        failed+=("$name")
        grep -E "ERROR|SUMMARY|check failed|Test unit written" "$log" | head -n 20
    fi
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "fuzz: $ntargets target(s), $total executions in total, $crashes crash(es)"
[ ${#failed[@]} -eq 0 ] && [ "$ntargets" -gt 0 ]
