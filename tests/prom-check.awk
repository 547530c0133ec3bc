# prom-check.awk - a validator of the Prometheus text exposition format
# (0.0.4), the format node_exporter's textfile collector reads: enough of
# it to catch what a writer gets wrong.  Each metric family's HELP and
# TYPE come before its samples and once; a family's samples are
# contiguous; names and label names are well formed, label values quoted
# with only \\, \" and \n escaped; values are numbers; no series twice.
# Prints each fault with its line number and exits 1 if there was one;
# with -v summary=1 prints "families=N samples=N" when it is clean.
function bad(msg) {
    printf "line %d: %s: %s\n", NR, msg, $0
    faults++
}
# The family a sample name belongs to (histogram and summary suffixes).
function family_of(name,    f) {
    f = name
    if (!(f in type)) {
        if (sub(/_(bucket|sum|count)$/, "", f) && (f in type))
            return f
        return name
    }
    return f
}
BEGIN { faults = 0; samples = 0; families = 0; current = "" }
/^[ \t]*$/ { next }
/^#/ {
    if ($2 == "HELP" || $2 == "TYPE") {
        if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) { bad("bad metric name"); next }
        if ($2 == "HELP") {
            if ($3 in help) bad("second HELP for " $3)
            help[$3] = 1
        } else {
            if ($3 in type) bad("second TYPE for " $3)
            if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/)
                bad("unknown type " $4)
            if ($3 in seen) bad("TYPE after samples of " $3)
            if (NF != 4) bad("TYPE takes a name and a type")
            type[$3] = $4
            families++
        }
        if ($3 in done) bad($3 " described again after other families")
        if ($3 != current && current != "") done[current] = 1
        current = $3
    }
    next
}
{
    line = $0
    if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("bad sample name"); next }
    name = substr(line, 1, RLENGTH)
    rest = substr(line, RLENGTH + 1)
    labels = ""
    if (substr(rest, 1, 1) == "{") {
        rest = substr(rest, 2)
        while (substr(rest, 1, 1) != "}") {
            if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"/)) {
                bad("bad label"); next
            }
            lbl = substr(rest, 1, RLENGTH)
            split(lbl, kv, "=")
            if ((name SUBSEP kv[1]) in lseen && lseen[name SUBSEP kv[1]] == NR)
                bad("label " kv[1] " twice")
            lseen[name SUBSEP kv[1]] = NR
            labels = labels lbl ","
            rest = substr(rest, RLENGTH + 1)
            if (substr(rest, 1, 1) == ",") rest = substr(rest, 2)
            else if (substr(rest, 1, 1) != "}") { bad("label list"); next }
        }
        rest = substr(rest, 2)
    }
    if (rest !~ /^ /) { bad("no space before the value"); next }
    n = split(rest, v, " ")
    if (n < 1 || n > 2) { bad("want a value and maybe a timestamp"); next }
    if (v[1] !~ /^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/ &&
        v[1] !~ /^([-+]?Inf|NaN)$/)
        bad("bad value " v[1])
    if (n == 2 && v[2] !~ /^-?[0-9]+$/) bad("bad timestamp " v[2])
    fam = family_of(name)
    if (!(fam in type)) bad("sample before TYPE of " fam)
    if (fam in done) bad("samples of " fam " are not together")
    if (fam != current && current != "") done[current] = 1
    current = fam
    seen[fam] = 1
    if ((name "{" labels) in series) bad("series twice")
    series[name "{" labels] = 1
    if (type[fam] == "counter" && v[1] ~ /^-/) bad("negative counter")
    samples++
}
END {
    if (faults) exit 1
    if (summary) printf "families=%d samples=%d\n", families, samples
}
