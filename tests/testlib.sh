# testlib.sh - helpers shared by the tests/cli_*.sh scripts (sourced, not run).
# Each script: BP=path/to/backprop; a temp dir $T removed on exit; checks
# counted, a last line "N passed, M failed", exit status 1 on any failure.
BP=${1:?usage: bash tests/SCRIPT.sh /path/to/backprop}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # WHAT COMMAND...: the command succeeds
    local what=$1; shift
    if "$@"; then ok; else bad "$what"; fi
}
# run_cmd NAME COMMAND...: stdout to $T/NAME.out, stderr to $T/NAME.err, status in $rc
run_cmd() { local n=$1; shift; "$@" >"$T/$n.out" 2>"$T/$n.err"; rc=$?; }
# run NAME ARGS...: run_cmd NAME "$BP" ARGS...
run() { local n=$1; shift; run_cmd "$n" "$BP" "$@"; }
expect_rc() { # NAME STATUS
    if [ "$rc" = "$2" ]; then ok; else bad "$1: exit $rc, expected $2; stderr: $(head -c 300 "$T/$1.err")"; fi
}
# run_ok NAME ARGS...: run, and it must exit 0
run_ok() { run "$@"; expect_rc "$1" 0; }
expect_clean() { # NAME: exit 0 and nothing on stderr
    if [ "$rc" = 0 ] && [ ! -s "$T/$1.err" ]; then ok; else bad "$1: exit $rc, stderr: $(head -c 300 "$T/$1.err")"; fi
}
# expect_refused NAME [TEXT...]: exit 2, nothing on stdout, one "backprop: ..." line on stderr
# containing every TEXT
expect_refused() { refused_ -F "$@"; }
# expect_refused_re NAME [PATTERN...]: the same, with grep patterns that must match after "backprop: "
expect_refused_re() { refused_ -G "$@"; }
# refuses NAME TEXT ARGS...: run NAME ARGS..., then expect_refused NAME TEXT (refuses_re: expect_refused_re)
refuses() { local n=$1 t=$2; shift 2; run "$n" "$@"; expect_refused "$n" "$t"; }
refuses_re() { local n=$1 t=$2; shift 2; run "$n" "$@"; expect_refused_re "$n" "$t"; }
refused_() { # -F|-G NAME [TEXT...]
    local mode=$1 n=$2 t; shift 2
    expect_rc "$n" 2
    if [ -s "$T/$n.out" ]; then bad "$n: wrote to stdout on bad input"; else ok; fi
    if [ "$(wc -l <"$T/$n.err")" = 1 ] && grep -q '^backprop: ' "$T/$n.err"; then ok; else
        bad "$n: stderr is not one 'backprop: ...' line: $(head -c 400 "$T/$n.err")"; fi
    for t in "$@"; do
        if [ "$mode" = -F ]; then grep -qF -- "$t" "$T/$n.err"; else grep -q -- "^backprop: .*$t" "$T/$n.err"; fi
        if [ $? = 0 ]; then ok; else bad "$n: message lacks '$t': $(cat "$T/$n.err")"; fi
    done
}
has_text() { # FILE TEXT
    if grep -qF -- "$2" "$1"; then ok; else bad "'$2' not in $(basename "$1")"; fi
}
# num_in FILE VALUE: true if some number in FILE equals VALUE to 1e-6 relative
# (whatever the number of digits or the layout); counts nothing
num_in() {
    grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$1" |
        awk -v v="$2" 'function abs(a) { return a < 0 ? -a : a }
                       abs($1 - v) <= 1e-6 * abs(v) + 1e-12 { found = 1 } END { exit !found }'
}
# has_num FILE VALUE...: num_in, one check per VALUE
has_num() {
    local f=$1 v; shift
    for v in "$@"; do
        if num_in "$f" "$v"; then ok; else bad "$v not in $(basename "$f")"; fi
    done
}
# near WHAT GOT WANT: |GOT - WANT| <= 1e-5 (1 + |WANT|) (GOT empty fails)
near() {
    if awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w; exit !(g != "" && d <= 1e-5 * (1 + a)) }'
    then ok; else bad "$1: got '$2', want $3"; fi
}
# jnum FIELD FILE: the number of "FIELD": in a one-line JSON object (printed, not checked)
jnum() {
    sed -n "s/.*\"$1\": \([-0-9.eE+]*\).*/\1/p" "$2"
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
