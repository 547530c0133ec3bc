#!/bin/bash
# e2e-cli.sh - the operator's command, xenshape, against a simulated host
# and xenshaped --shape: every command, its output compared with golden
# files in tests/golden/cli-*.out, every kind of bad argument with its
# message and exit code, top driven in a real terminal (tmux), the man
# pages linted, and a store failed by an injected I/O error as store
# shows it.
#
# The domains are brought to states that do not move, so the golden
# output can be compared whole: web is pinned (fully in), batch is
# hibernated on request (fully out), idle is a soaker that holds all it
# has.  Their policy is written with xenshape before the daemon starts,
# which is also how an operator uses it with the daemon stopped.  Only
# what cannot be the same twice is normalised: UUIDs, the daemon's
# uptime in the decision log, the clock in top, the meters, the working
# set and fault rate (the pinned web still runs), and the store's I/O
# counters and slots (zero pages take none).  UPDATE_GOLDEN=1 rewrites
# the golden files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
GOLDEN=tests/golden
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-cli.XXXXXX")
. tools/scripts/simlib.sh
TMUX_SOCK=$WORK/tmux.sock
u1=@uuid1@ u2=@uuid2@ u3=@uuid3@
trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true; cleanup_sim;
      rm -rf "$WORK"' EXIT
report_errors


xsh() {
    "$BIN/xenshape" --sim-socket "$WORK/sim.sock" "$@"
}


st_is_host() {   # st_is_host KEY VALUE
    [ "$(kv_read "/xenshape/status/$1" 2>/dev/null)" = "$2" ]
}
st_is() {   # st_is DOMID KEY VALUE
    [ "$(kv_read "/local/domain/$1/xenshape/$2" 2>/dev/null)" = "$3" ]
}

# What may differ between runs, and nothing else.
normalise() {
    sed -e "s/$u1/<uuid-web>/g" -e "s/$u2/<uuid-batch>/g" \
        -e "s/$u3/<uuid-idle>/g" \
        -e 's/^ *[0-9]\{1,\} s  /  <t> s  /' \
        -e 's/^\(  frames \(written\|read\) *\)[0-9]*$/\1<n>/' \
        -e 's/^\(  used *\)[0-9]* of \([0-9]* MiB\) ([0-9]*%)/\1<n> of \2 (<p>%)/' \
        -e 's/^\(  used *\)[0-9]* of/\1<n> of/' \
        -e 's/^Store: [0-9]* of/Store: <n> of/' \
        -e 's/^\(  \(meter\/[a-z-]*\|usage-frames\) *\)[0-9]*$/\1<n>/' \
        -e 's/^\(  \(fault-rate\|bucket-level\) *\)[0-9]*$/\1<n>/' \
        -e 's/ \{1,\}[0-9]\{1,\} \{1,\}[0-9]\{1,\}$/ <usage> <faults>/'
}

# golden NAME COMMAND...: stdout and the exit code of COMMAND, normalised,
# must equal tests/golden/cli-NAME.out.
golden() {
    local name=$1 rc=0
    shift
    "$@" >"$WORK/out" 2>&1 || rc=$?
    echo "exit $rc" >>"$WORK/out"
    normalise <"$WORK/out" >"$WORK/$name.out"
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        cp "$WORK/$name.out" "$GOLDEN/cli-$name.out"
        return 0
    fi
    diff -u "$GOLDEN/cli-$name.out" "$WORK/$name.out" >&2 ||
        fail "$*: output differs from $GOLDEN/cli-$name.out"
}

# bad EXPECTED-EXIT 'MESSAGE' ARGS...: xenshape ARGS fails with that exit
# code, its stderr holds MESSAGE and its stdout is empty; the line goes
# to the errors transcript, compared whole at the end.
bad() {
    local want=$1 msg=$2 rc=0
    shift 2
    xsh "$@" >"$WORK/bad.out" 2>"$WORK/bad.err" || rc=$?
    [ "$rc" = "$want" ] || fail "xenshape $*: exit $rc, not $want"
    grep -qF -- "$msg" "$WORK/bad.err" ||
        fail "xenshape $*: '$(cat "$WORK/bad.err")' lacks '$msg'"
    [ ! -s "$WORK/bad.out" ] || fail "xenshape $*: wrote to stdout"
    { echo "\$ xenshape $*"; cat "$WORK/bad.err"; echo "exit $rc"; } \
        >>"$WORK/errors"
}

# ---- help and man, from the command table ---------------------------------
golden help "$BIN/xenshape" --help
golden help-set "$BIN/xenshape" help set
golden help-prefix "$BIN/xenshape" hel expl
golden help-top "$BIN/xenshape" top --help
# The three man pages as `make man` makes them, each without a warning
# from groff (-ww: all of them).
for tool in tmux groff; do
    command -v $tool >/dev/null ||
        fail "$tool is missing: run tools/scripts/setup-deps.sh"
done
"$BIN/xenshape" --man >"$WORK/xenshape.1"
tools/scripts/gen-daemon-man.sh "$BIN/xenshaped" >"$WORK/xenshaped.8"
awk -v mode=man -f tools/scripts/gen-schema.awk \
    xenstore-schema/xenshape.schema >"$WORK/xenshape-xenstore.7"
grep -q '^\.TH XENSHAPE 1' "$WORK/xenshape.1" || fail "--man: no .TH"
for c in $(sed -n 's/^  \([a-z]*\)  .*/\1/p' "$GOLDEN/cli-help.out"); do
    grep -q "^\\\\fB$c\\\\fR" "$WORK/xenshape.1" ||
        fail "--man lacks the command $c"
done
grep -q -- '^\.B \\-P, \\-\\-shape' "$WORK/xenshaped.8" ||
    fail "xenshaped.8 lacks --shape"
grep -q '^\.B hibernate\\-now' "$WORK/xenshape-xenstore.7" ||
    fail "xenshape-xenstore.7 lacks hibernate-now"
for page in xenshape.1 xenshaped.8 xenshape-xenstore.7; do
    groff -man -Tutf8 -ww -z "$WORK/$page" 2>"$WORK/groff.err"
    [ ! -s "$WORK/groff.err" ] ||
        fail "groff on $page: $(cat "$WORK/groff.err")"
done

# ---- a host, and policy written before the daemon runs ----------------------
sim_start 96
d1=$(sim_create web 4096 1 'hot:0.5:1,rate=1000,write=0.5')
d2=$(sim_create batch 4096 1 'hot:0.2:0.9,rate=200')
d3=$(sim_create idle 1024 1 idle)
[ "$d1 $d2 $d3" = "1 2 3" ] || fail "domids $d1 $d2 $d3"
u1=$(kv_read /local/domain/1/vm) u1=${u1#/vm/}
u2=$(kv_read /local/domain/2/vm) u2=${u2#/vm/}
u3=$(kv_read /local/domain/3/vm) u3=${u3#/vm/}
kv_write /xenshape/host/reserved 8M /xenshape/host/interval-ms 300

golden list-nodaemon xsh list
bad 1 "no decision for domain 1 (web) yet" explain web
bad 1 "no store status in xenstore" store
golden set xsh set web priority=800 threshold-high=75% threshold-low=50% \
    rate=64M
golden pin xsh pin web
golden hibernate xsh hibernate 2
golden soaker xsh soaker idle on
golden set-prefix xsh se idle priority=200 min-starting=1M \
    min-operating=1M
[ "$(kv_read "/xenshape/vm/$u1/threshold-high")" = 75% ] ||
    fail "threshold-high not written"
# KEY= removes the key (back to its default); yes is written as 1.
xsh set idle burst=1G >/dev/null
xsh set idle burst= soaker=yes >/dev/null
! kv_read "/xenshape/vm/$u3/burst" >/dev/null 2>&1 ||
    fail "burst= did not remove the key"
[ "$(kv_read "/xenshape/vm/$u3/soaker")" = 1 ] ||
    fail "soaker=yes not written as 1"

STORE_SIZE=64M daemon_start --shape
wait_until 60 "web pinned and fully in" st_is 1 paged-frames 0
wait_until 60 "web pinned" st_is 1 state pinned
wait_until 60 "batch hibernated" st_is 2 state hibernated
wait_until 60 "batch fully out" st_is 2 resident-frames 0
wait_until 60 "idle running" st_is 3 state running
wait_until 30 "store status" kv_read /xenshape/status/store/state

golden list xsh list
golden list-prefix xsh l
golden info-web xsh info web
golden info-batch xsh info 2
golden explain-web xsh explain web
golden explain-batch xsh ex batch
golden store xsh store
[ "$(xsh store | awk '/checksum failures/ {print $3}')" = 0 ] ||
    fail "checksum failures"

# A value written past xenshape (as any xenstore-write can) is refused by
# the daemon: explain says so, info shows it written but not in force.
kv_write "/xenshape/vm/$u3/priority" abc
wait_until 30 "the refusal of priority=abc" st_is 3 error \
    'priority: not a number: "abc"'
refused='Refused policy (the last valid values stay in force): '
refused+='priority: not a number: "abc".'
xsh explain idle | grep -qxF "$refused" ||
    fail "explain idle: $(xsh explain idle)"
xsh info idle | grep -q '^  priority  *abc  *200  *500$' ||
    fail "info idle: $(xsh info idle)"
xsh set idle priority=200 >/dev/null
wait_until 30 "the refusal to clear" st_is 3 error ""

# ---- every kind of bad argument ---------------------------------------------
: >"$WORK/errors"
bad 2 "no command given" 
bad 2 "unknown command 'frobnicate'" frobnicate
bad 2 "ambiguous command 's': could be set, soaker, store" s web
bad 2 "ambiguous command 'h': could be hibernate, help" h
bad 2 "unknown option '--frob'" --frob list
bad 2 "bad --backend 'kvm': want xen or sim" --backend kvm list
bad 2 "option '--sim-socket' needs an argument" --sim-socket
# (xsh gives --sim-socket first.)
bad 2 "--backend xen and --sim-socket do not go together" --backend xen list
bad 2 "option '--verbose' takes no value" --verbose=1 list
bad 2 "option '--man' takes no value" --man=x
bad 2 "unexpected argument 'web'" list web
bad 2 "no DOMAIN given" info
bad 2 "too many arguments" info web batch
bad 1 "no such domain: 'nosuch'" info nosuch
bad 1 "no such domain: '42'" explain 42
bad 1 "'Domain-0' is Dom0" pin Domain-0
bad 1 "'0' is Dom0" set 0 priority=1
bad 2 "no KEY=VALUE given" set web
bad 2 "bad argument 'priority': want KEY=VALUE" set web priority
bad 2 "unknown key in 'prio=5'" set web prio=5
bad 2 "bad value in 'priority=abc': not a number" set web priority=abc
bad 2 "bad value in 'priority=1001': out of range" set web priority=1001
bad 2 "bad value in 'threshold-high=120%'" set web rate=1M \
    threshold-high=120%
bad 2 "bad value in 'min-operating=1G': min-operating 1G is above" \
    set idle min-operating=1G
bad 2 "key priority given twice" set web priority=1 priority=2
bad 2 "bad argument 'maybe': want on or off" soaker idle maybe
bad 2 "missing on or off after 'idle'" soaker idle
bad 2 "unexpected argument 'now'" hibernate web now
bad 2 "bad -d 'fast'" top -b -d fast
bad 2 "bad -n '0'" top -b -n 0
bad 2 "not a terminal: use -b" top
bad 2 "unknown command 'nope'" help nope
bad 2 "ambiguous command 's': could be set, soaker, store" help s
bad 1 "cannot connect to the simulated host's xenstore at $WORK/nowhere" \
    --sim-socket "$WORK/nowhere" list
sed -e "s|$WORK|<work>|g" "$WORK/errors" >"$WORK/errors.out"
if [ -n "${UPDATE_GOLDEN:-}" ]; then
    cp "$WORK/errors.out" "$GOLDEN/cli-errors.out"
else
    diff -u "$GOLDEN/cli-errors.out" "$WORK/errors.out" >&2 ||
        fail "error messages differ from $GOLDEN/cli-errors.out"
fi
# A bad set wrote nothing: rate stays 64M, threshold-high 75%.
[ "$(kv_read "/xenshape/vm/$u1/rate")" = 64M ] &&
    [ "$(kv_read "/xenshape/vm/$u1/threshold-high")" = 75% ] ||
    fail "a refused set wrote something"

# ---- top in a real terminal, and in batch mode ------------------------------
top_batch() {
    xsh top -b -n 2 -d 0.1 |
        sed 's/^xenshape top - ..:..:..$/xenshape top - <time>/'
}
golden top-batch top_batch
tmux -S "$TMUX_SOCK" new-session -d -x 160 -y 30 \
    "'$BIN/xenshape' --sim-socket '$WORK/sim.sock' top -d 0.2"
top_shows() {
    tmux -S "$TMUX_SOCK" capture-pane -p >"$WORK/pane" &&
        grep -q "^xenshape top - " "$WORK/pane" &&
        grep -q "^web  *1  *16  *16  *0  *16 pinned" "$WORK/pane" &&
        grep -q "^batch  *2 .* hibernated" "$WORK/pane" &&
        grep -q "^q: quit" "$WORK/pane"
}
wait_until 10 "top's screen in tmux" top_shows
tmux -S "$TMUX_SOCK" send-keys q
top_gone() {
    ! tmux -S "$TMUX_SOCK" has-session 2>/dev/null
}
wait_until 5 "top to quit on q" top_gone

# ---- changes reach the daemon -----------------------------------------------
golden unpin xsh unpin web
golden resume xsh resume batch
wait_until 60 "batch relaunched" st_is 2 policy/hibernate-now 0
not_hibernated() {
    ! st_is 2 state hibernated
}
wait_until 60 "batch relaunched" not_hibernated
wait_until 60 "web unpinned" st_is 1 policy/pin 0
xsh explain batch | grep -q "relaunched: not a soaker" ||
    fail "explain batch: $(xsh explain batch)"

kill -0 "$DAEMON_PID" || fail "the daemon died"

# ---- a store that fails shows in store --------------------------------------
# A clean stop pages everything in; the next daemon cannot submit a
# single batch to its store, so hibernating web fails its first write.
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "daemon exit status $rc"
XENSHAPE_FAULTS="store.uring_submit:1:EIO:p" daemon_start --shape
xsh hibernate web >/dev/null
wait_until 60 "the store to fail" st_is_host store/state failed
xsh store >"$WORK/store"
grep -q "^  health *FAILED: an I/O error stopped evictions$" "$WORK/store" &&
    grep -q "^  I/O errors *[1-9]" "$WORK/store" &&
    grep -q "^  checksum failures *0$" "$WORK/store" ||
    fail "store after an I/O error: $(cat "$WORK/store")"
echo "cli: ok"
