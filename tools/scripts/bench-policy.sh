#!/bin/bash
# bench-policy.sh - the page-selection benchmark behind `make bench-policy`.
#
# Runs every policy, with Dom0 seeing every reference and seeing only what
# Xen shows it, on every trace of the public suite at the sizes its
# anchor-sizes.txt lists, against Belady's optimum computed by the
# benchmark itself, and prints per policy and mode the geometric mean and
# worst case of faults/OPT and the number of cases more than 5% worse
# than LRU (see docs/page-selection.md).  Cases run in parallel, one
# worker process per CPU.
#
# Environment: XENSHAPE_TRACES  trace directory (default ../shared/traces,
#                               relative to the repository root);
#              JOBS             worker processes (default: nproc).
# Extra arguments go to build/bin/xenshape-benchpolicy (-v: every case).
set -euo pipefail
cd "$(dirname "$0")/../.."

traces=${XENSHAPE_TRACES:-../shared/traces}
bench=build/bin/xenshape-benchpolicy

if [ ! -d "$traces" ]; then
    echo "bench-policy: no trace directory $traces (set XENSHAPE_TRACES)" >&2
    exit 1
fi
[ -x "$bench" ] || make "$bench"
exec "$bench" --traces "$traces" -j "${JOBS:-$(nproc)}" "$@"
