# prom-samples.awk - one line per domain from a metrics file of xenshaped
# (--metrics-file), as report.sh reads them in samples.tsv:
#   seconds domid name resident paged max target
# (frames; target -1: none; the name with anything but [A-Za-z0-9_.-]
# made '_', so that the line splits on blanks).  -v t=SECONDS.
/^xenshape_domain_(resident|paged|max|target)_frames\{/ {
    match($0, /domid="[0-9]+"/)
    d = substr($0, RSTART + 7, RLENGTH - 8)
    match($0, /name="([^"\\]|\\.)*"/)
    nm = substr($0, RSTART + 6, RLENGTH - 7)
    gsub(/[^A-Za-z0-9_.-]/, "_", nm)
    if (nm == "") nm = "-"
    f = $0
    sub(/\{.*/, "", f)
    sub(/^xenshape_domain_/, "", f)
    sub(/_frames$/, "", f)
    v[d, f] = $NF
    name[d] = nm
}
END {
    for (d in name)
        printf "%s %s %s %d %d %d %d\n", t, d, name[d], v[d, "resident"],
            v[d, "paged"], v[d, "max"],
            ((d, "target") in v) ? v[d, "target"] : -1
}
