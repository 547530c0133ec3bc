#!/bin/bash
# report.sh DATA-DIR - draw what a run of xenshaped recorded: for each
# domain, its RAM and its page-store share over time (stacked, MiB), its
# target and its presented memory, with the decision timeline (every
# change of targets or policy, and what the engine decided) as marked
# times across all panels.  Writes DATA-DIR/xenshape.png and
# DATA-DIR/xenshape.svg with gnuplot and prints their paths.
#
# DATA-DIR holds, as the demo records them (tools/scripts/demo.sh):
#   samples.tsv  one line per domain per sample, from the daemon's
#                metrics file: seconds domid name resident paged max target
#                (frames; target -1: none)
#   events.tsv   seconds<TAB>what was decided (may be absent or empty)
# It is the drawing behind `make demo`, kept apart so that other callers
# (a CLI's report command) can draw any run recorded the same way.
set -euo pipefail
dir=${1:?usage: report.sh DATA-DIR}
samples=$dir/samples.tsv
events=$dir/events.tsv
GNUPLOT=${GNUPLOT:-gnuplot}

command -v "$GNUPLOT" > /dev/null ||
    { echo "report.sh: no gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
[ -s "$samples" ] || { echo "report.sh: no samples in $samples" >&2; exit 1; }

# One data file per domain, in MiB: seconds ram store max target.
doms=$(awk '{ print $2 }' "$samples" | sort -nu)
n=0
for d in $doms; do
    awk -v d="$d" '$2 == d {
        t = $7 < 0 ? "NaN" : $7 * 4 / 1024
        printf "%s %.2f %.2f %.2f %s\n", $1, $4 * 4 / 1024, $5 * 4 / 1024,
            $6 * 4 / 1024, t }' "$samples" > "$dir/dom-$d.dat"
    n=$((n + 1))
done

# gnuplot reads the decision timeline as arrows and labels.  Labels
# alternate in height so that close events stay readable.
marks() {
    [ -s "$events" ] || return 0
    awk -F '\t' '{
        gsub(/"/, "\\\"", $2)
        printf "set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lw 1.5 lc rgb \"#333333\" front\n", $1, $1
        if (top)
            printf "set label \"%s\" at %s, graph %.2f rotate by 0 font \",8\" tc rgb \"#000000\" offset 0.3,0 front\n", $2, $1, 0.96 - (NR % 3) * 0.07
    }' top="$1" "$events"
}

plot() {   # plot TERMINAL-LINE OUTPUT
    local i=0 d name
    {
        echo "$1"
        echo "set output '$2'"
        echo "set multiplot layout $n,1 title 'xenshape: RAM and page-store share of each domain (MiB), with the decisions'"
        echo "set key outside right top vertical font ',9'"
        echo "set grid ytics"
        echo "set style fill solid 0.6 noborder"
        echo "set xrange [0:*]"
        echo "set yrange [0:*]"
        for d in $doms; do
            i=$((i + 1))
            name=$(awk -v d="$d" '$2 == d { print $3; exit }' "$samples")
            echo "unset arrow; unset label"
            marks $((i == 1))
            if [ $i -eq "$n" ]; then
                echo "set xlabel 'seconds'"
            else
                echo "unset xlabel"
            fi
            echo "set ylabel '${name//\'/} (domain $d)' font ',9'"
            echo "plot '$dir/dom-$d.dat' using 1:(\$2+\$3) with filledcurves x1 lc rgb '#e69f00' title 'store', \\"
            echo "     '' using 1:2 with filledcurves x1 lc rgb '#0072b2' title 'RAM', \\"
            echo "     '' using 1:5 with lines lw 2 lc rgb '#d55e00' title 'target', \\"
            echo "     '' using 1:4 with lines lw 1 lc rgb '#000000' title 'presented'"
        done
        echo "unset multiplot"
    } | "$GNUPLOT"
}

# pngcairo draws better; libgd's png is there in every gnuplot.
png_term="set terminal png size 1200,$((220 * n + 80))"
"$GNUPLOT" -e 'set terminal' 2>&1 | grep -qw pngcairo &&
    png_term="set terminal pngcairo size 1200,$((220 * n + 80)) font ',10'"
plot "$png_term" "$dir/xenshape.png"
plot "set terminal svg size 1200,$((220 * n + 80)) dynamic" "$dir/xenshape.svg"
rm -f "$dir"/dom-*.dat
echo "picture: $dir/xenshape.png"
echo "picture: $dir/xenshape.svg"
