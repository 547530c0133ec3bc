#!/bin/bash
# policy-bound.sh - how far below the best known policies the page-selection
# target of 1.15x OPT lies on the public suite (docs/page-selection.md,
# section 6, "On the 1.15 target").
#
# Belady's OPT knows the future, so no online policy reaches it; how close
# one can come depends on the trace.  For one kind of trace the limit is
# known exactly: under the independent reference model (IRM), where every
# reference picks a page at random with fixed probabilities, policy A0
# (keep the most probable pages) has the lowest expected fault rate of all
# online policies (Aho, Denning and Ullman, JACM 1971).  lirs_2_pools is
# such a trace: a pool of ~100 pages and a pool of ~9,800 pages, each drawn
# with probability 1/2, uniformly within the pool.  A0 then keeps the hot
# pool and the cold pages it happens to hold are all equally good, so this
# script replays exactly that (hot pages stay, a random cold page leaves)
# with the pools read off the trace's own counts.  That is more than any
# online policy can know, so its faults/OPT bound every policy from below.
#
# With those cases at their floor, the script works out the geometric
# mean the remaining cases would need for the whole suite to reach the
# target, and compares it with the per-case best of the classic policies
# in anchor-results.tsv and with xenshape's default policy (complete
# observation), measured here by build/bin/xenshape-benchpolicy.
#
# Environment: XENSHAPE_TRACES  trace directory (default ../shared/traces);
#              IRM_TRACES       two-pool IRM traces (default lirs_2_pools);
#              SEEDS            replays averaged per case (default 5);
#              TARGET           the target geometric mean (default 1.15).
set -euo pipefail
cd "$(dirname "$0")/../.."

traces=${XENSHAPE_TRACES:-../shared/traces}
irm=${IRM_TRACES:-lirs_2_pools}
seeds=${SEEDS:-5}
target=${TARGET:-1.15}
bench=build/bin/xenshape-benchpolicy

fail() { echo "policy-bound: $*" >&2; exit 1; }

[ -d "$traces" ] || fail "no trace directory $traces (set XENSHAPE_TRACES)"
for f in anchor-sizes.txt anchor-results.tsv; do
    [ -r "$traces/$f" ] || fail "no $traces/$f"
done
[ -x "$bench" ] || make "$bench"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Per case: OPT's faults and the default policy's faults/OPT, complete
# observation.  Cases marked * have compulsory misses only.
"$bench" --traces "$traces" -j "${JOBS:-$(nproc)}" -v > "$tmp/bench"
awk '$1 ~ /@/ && $4 !~ /\*/ { print $1, $4, $5 }' "$tmp/bench" \
    > "$tmp/cases"
[ -s "$tmp/cases" ] || fail "the benchmark printed no case"

: > "$tmp/floors"
for t in $irm; do
    f="$traces/$t.trace.gz"
    [ -r "$f" ] || fail "no trace $f"
    sizes=$(awk -v n="$t.trace.gz" '$1 == n { $1 = ""; print }' \
                "$traces/anchor-sizes.txt")
    [ -n "$sizes" ] || fail "$t is not in anchor-sizes.txt"
    zcat "$f" > "$tmp/refs" || fail "cannot read $f"
    awk -v t="$t" -v sizes="$sizes" -v seeds="$seeds" '
        FNR == NR { cases[$1] = $2; next }
        { ref[++n] = $2; cnt[$2]++ }
        END {
            # The pools: a page is hot if it was referenced more than ten
            # times as often as the average page.  The pools must be
            # clearly apart, or the trace is not a two-pool trace.
            for (p in cnt) { pages++ }
            mean = n / pages
            hmin = -1; cmax = 0
            for (p in cnt)
                if (cnt[p] > 10 * mean) {
                    hot[p] = 1; nhot++; hrefs += cnt[p]
                    if (hmin < 0 || cnt[p] < hmin) hmin = cnt[p]
                } else if (cnt[p] > cmax) cmax = cnt[p]
            if (!nhot || hmin <= 10 * cmax) {
                printf "policy-bound: %s has no two clearly separate pools " \
                       "(hot pages %d, fewest hot references %d, most cold %d)\n",
                       t, nhot, hmin, cmax > "/dev/stderr"
                exit 1
            }
            ns = split(sizes, sz, " ")
            for (k = 1; k <= ns; k++) {
                c = sz[k] + 0; name = t "@" c
                if (!(name in cases)) continue      # compulsory misses only
                if (c <= nhot) continue             # the hot pool does not fit
                sum = 0
                for (s = 1; s <= seeds; s++) {
                    srand(s)
                    split("", res); split("", pos); nc = 0; nres = 0; fl = 0
                    for (i = 1; i <= n; i++) {
                        p = ref[i]
                        if (p in res) continue
                        fl++
                        if (nres >= c) {
                            # A0: a random cold page leaves; hot pages stay.
                            j = int(rand() * nc) + 1
                            v = cold[j]; cold[j] = cold[nc]; pos[cold[j]] = j
                            nc--; delete pos[v]; delete res[v]; nres--
                        }
                        res[p] = 1; nres++
                        if (!(p in hot)) { cold[++nc] = p; pos[p] = nc }
                    }
                    sum += fl
                }
                printf "%s %.4f %d %d %d\n", name, sum / seeds / cases[name],
                       nhot, hrefs, pages - nhot
            }
        }' "$tmp/cases" "$tmp/refs" >> "$tmp/floors"
done

awk -v target="$target" -v seeds="$seeds" '
    FILENAME ~ /cases$/ { opt[$1] = $2; dflt[$1] = $3; order[++n] = $1; next }
    FILENAME ~ /floors$/ {
        floor[$1] = $2
        printf "irm-floor case=%s hot_pages=%d hot_refs=%d cold_pages=%d " \
               "floor=%.3f default=%.3f (A0 knowing the pools, mean of %d " \
               "replays)\n", $1, $3, $4, $5, $2, dflt[$1], seeds
        next
    }
    {
        # anchor-results.tsv: trace pages refs frames policy misses ratio m/OPT
        if ($5 == "OPT") next
        name = $1; sub(/\.trace\.gz$/, "", name); name = name "@" $4
        if (!(name in best) || $8 < best[name]) best[name] = $8
    }
    END {
        for (i = 1; i <= n; i++) {
            c = order[i]
            if (c in floor) { k++; lf += log(floor[c]); continue }
            if (!(c in best)) {
                printf "policy-bound: %s is not in anchor-results.tsv\n", c \
                    > "/dev/stderr"
                exit 1
            }
            m++; lb += log(best[c]); ld += log(dflt[c])
        }
        if (!m) {
            print "policy-bound: every case is an IRM case" > "/dev/stderr"
            exit 1
        }
        need = exp((n * log(target) - lf) / m)
        printf "bound cases=%d target=%.3f irm_cases=%d irm_floor_geomean=%.3f " \
               "rest=%d rest_needed=%.4f rest_best_classic=%.4f " \
               "rest_default=%.4f\n", n, target, k, k ? exp(lf / k) : 0, m, need,
               exp(lb / m), exp(ld / m)
        rel = 100 * (need / exp(lb / m) - 1)
        printf "For a geometric mean of %.3f over all %d cases, the other %d " \
               "cases would need %.4f: %.1f%% %s the per-case best of the " \
               "classic policies (%.4f).\n", target, n, m, need,
               rel < 0 ? -rel : rel, rel < 0 ? "below" : "above", exp(lb / m)
    }' "$tmp/cases" "$tmp/floors" "$traces/anchor-results.tsv"
