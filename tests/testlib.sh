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
# run NAME ARGS...: stdout to $T/NAME.out, stderr to $T/NAME.err, status in $rc
run() { local n=$1; shift; "$BP" "$@" >"$T/$n.out" 2>"$T/$n.err"; rc=$?; }
expect_rc() { # NAME STATUS
    if [ "$rc" = "$2" ]; then ok; else bad "$1: exit $rc, expected $2; stderr: $(head -c 300 "$T/$1.err")"; fi
}
# expect_refused NAME [TEXT...]: exit 2, nothing on stdout, one "backprop: ..." line on stderr
# containing every TEXT
expect_refused() {
    local n=$1; shift
    expect_rc "$n" 2
    if [ -s "$T/$n.out" ]; then bad "$n: wrote to stdout on bad input"; else ok; fi
    if [ "$(wc -l <"$T/$n.err")" = 1 ] && grep -q '^backprop: ' "$T/$n.err"; then ok; else
        bad "$n: stderr is not one 'backprop: ...' line: $(head -c 400 "$T/$n.err")"; fi
    for t in "$@"; do
        if grep -qF -- "$t" "$T/$n.err"; then ok; else bad "$n: message lacks '$t': $(cat "$T/$n.err")"; fi
    done
}
has_text() { # FILE TEXT
    if grep -qF -- "$2" "$1"; then ok; else bad "'$2' not in $(basename "$1")"; fi
}
# has_num FILE VALUE: some number in FILE equals VALUE to 1e-6 relative
has_num() {
    if grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$1" |
        awk -v v="$2" 'function abs(a) { return a < 0 ? -a : a }
                       abs($1 - v) <= 1e-6 * abs(v) + 1e-12 { found = 1 } END { exit !found }'; then ok; else
        bad "$2 not in $(basename "$1")"; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
