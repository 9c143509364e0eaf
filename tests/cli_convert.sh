#!/usr/bin/env bash
# cli_convert.sh - `backprop convert`: JSON <-> safetensors round trips give the
# same numbers, and damaged or foreign files are refused cleanly.
# usage (from the repo root): bash tests/cli_convert.sh /path/to/backprop
set -u
B=${1:?usage: bash tests/cli_convert.sh /path/to/backprop}
T=$(mktemp -d "${TMPDIR:-/tmp}/bp_cli_convert.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run WHAT CMD...: the command must succeed
run() {
    local what=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then ok; else bad "$what: exit $? ($(head -c 300 "$T/err"))"; fi
}

# refuse WHAT NEEDLE CMD...: exit 2, nothing on stdout, one line "backprop: ..."
# on stderr containing NEEDLE
refuse() {
    local what=$1 needle=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ $rc -eq 2 ] && ok || bad "$what: exit $rc, want 2"
    [ ! -s "$T/out" ] && ok || bad "$what: something on stdout"
    [ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "$what: stderr is not one line: $(cat "$T/err")"
    grep -q "^backprop: .*$needle" "$T/err" && ok || bad "$what: stderr lacks '$needle': $(cat "$T/err")"
}

same() { # WHAT FILE1 FILE2
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}

Q=examples/q12.json
printf '1,2\n1,3\n2,2\n' >"$T/x.csv"
printf '8\n11\n10\n' >"$T/y.csv"

# JSON -> safetensors -> JSON, then the data back via --x/--y: the same pass
for dt in f64 f32; do
    run "convert q12 to safetensors ($dt)" "$B" convert --dtype "$dt" "$Q" "$T/q.$dt.safetensors"
    run "convert back to JSON ($dt)" "$B" convert "$T/q.$dt.safetensors" "$T/q.$dt.json"
    run "grad of the original ($dt)" "$B" grad --json --dtype "$dt" "$Q"
    cp "$T/out" "$T/grad.orig"
    run "grad of the converted model ($dt)" "$B" grad --json --dtype "$dt" "$T/q.$dt.json" --x "$T/x.csv" --y "$T/y.csv"
    same "grad --json after the round trip ($dt)" "$T/grad.orig" "$T/out"
    # and once more to safetensors: the very same bytes (keeping the stored dtype)
    run "JSON back to safetensors ($dt)" "$B" convert --dtype "$dt" "$T/q.$dt.json" "$T/q2.$dt.safetensors"
    same "safetensors -> JSON -> safetensors ($dt)" "$T/q.$dt.safetensors" "$T/q2.$dt.safetensors"
    run "safetensors -> safetensors, dtype kept ($dt)" "$B" convert "$T/q.$dt.safetensors" "$T/q3.$dt.safetensors"
    same "dtype kept ($dt)" "$T/q.$dt.safetensors" "$T/q3.$dt.safetensors"
done
grep -q '"data"' "$T/q.f64.json" && bad "safetensors -> JSON wrote data" || ok

# JSON -> JSON keeps the data: every example gives the same grad --json
for f in examples/*.json; do
    case $f in *.expected.json) continue ;; esac
    n=$(basename "$f" .json)
    run "grad $n" "$B" grad --json "$f"
    cp "$T/out" "$T/grad.orig"
    run "convert $n to JSON" "$B" convert "$f" "$T/$n.json"
    run "grad of converted $n" "$B" grad --json "$T/$n.json"
    same "grad --json of $n after JSON -> JSON" "$T/grad.orig" "$T/out"
    run "convert $n to safetensors" "$B" convert "$f" "$T/$n.safetensors"
done

# replacing an existing file leaves no temporary file behind
run "convert over an existing file" "$B" convert "$T/q.f32.safetensors" "$T/q.f64.json"
ls "$T" | grep -q '\.tmp\.' && bad "temporary file left behind" || ok

# refusals: exit 2, one line, nothing written
h='{"embed.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
{ printf "\\x$(printf %02x ${#h})\\0\\0\\0\\0\\0\\0\\0"; printf '%s' "$h"; printf '\0\0\0\0'; } >"$T/foreign.safetensors"
refuse "foreign safetensors" "foreign.safetensors: not a backprop model .*embed.weight" \
    "$B" convert "$T/foreign.safetensors" "$T/out1.json"
head -c 100 "$T/q.f64.safetensors" >"$T/cut.safetensors"
refuse "truncated file" "cut.safetensors: .*truncated" "$B" convert "$T/cut.safetensors" "$T/out1.json"
cp "$Q" "$T/model.safetensors"
refuse "JSON named .safetensors" "model.safetensors: .*JSON model file" "$B" convert "$T/model.safetensors" "$T/out1.json"
head -c 4096 /dev/urandom >"$T/random.safetensors"
refuse "random bytes" "random.safetensors: " "$B" convert "$T/random.safetensors" "$T/out1.json"
refuse "missing file" "absent.safetensors: cannot open" "$B" convert "$T/absent.safetensors" "$T/out1.json"
refuse "safetensors named .json" "out2.json" bash -c "cp '$T/q.f64.safetensors' '$T/out2.json' && '$B' convert '$T/out2.json' '$T/out1.safetensors'"
refuse "unknown extension" "q.txt: unknown kind of file" "$B" convert "$Q" "$T/q.txt"
refuse "one file only" "expected two files" "$B" convert "$Q"
refuse "bad --dtype" "--dtype" "$B" convert --dtype f16 "$Q" "$T/out1.safetensors"
refuse "missing directory" "no/such/dir" "$B" convert "$Q" "$T/no/such/dir/q.safetensors"
[ ! -e "$T/out1.json" ] && [ ! -e "$T/out1.safetensors" ] && ok || bad "a refused conversion wrote its output"

# --help
"$B" convert --help >"$T/out" 2>"$T/err" && grep -q '^usage: backprop convert IN OUT' "$T/out" && [ ! -s "$T/err" ] &&
    ok || bad "convert --help"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
