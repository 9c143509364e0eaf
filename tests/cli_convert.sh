#!/usr/bin/env bash
# cli_convert.sh - `backprop convert`: JSON <-> safetensors round trips give the
# same numbers, and damaged or foreign files are refused cleanly.
# usage (from the repo root): bash tests/cli_convert.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

Q=examples/q12.json
printf '1,2\n1,3\n2,2\n' >"$T/x.csv"
printf '8\n11\n10\n' >"$T/y.csv"

# JSON -> safetensors -> JSON, then the data back via --x/--y: the same pass
for dt in f64 f32; do
    run_ok "to_st_$dt" convert --dtype "$dt" "$Q" "$T/q.$dt.safetensors"
    run_ok "to_json_$dt" convert "$T/q.$dt.safetensors" "$T/q.$dt.json"
    run_ok "grad_orig_$dt" grad --json --dtype "$dt" "$Q"
    run_ok "grad_conv_$dt" grad --json --dtype "$dt" "$T/q.$dt.json" --x "$T/x.csv" --y "$T/y.csv"
    check "grad --json after the round trip ($dt)" cmp -s "$T/grad_orig_$dt.out" "$T/grad_conv_$dt.out"
    # and once more to safetensors: the very same bytes (keeping the stored dtype)
    run_ok "to_st2_$dt" convert --dtype "$dt" "$T/q.$dt.json" "$T/q2.$dt.safetensors"
    check "safetensors -> JSON -> safetensors ($dt)" cmp -s "$T/q.$dt.safetensors" "$T/q2.$dt.safetensors"
    run_ok "st_to_st_$dt" convert "$T/q.$dt.safetensors" "$T/q3.$dt.safetensors"
    check "dtype kept ($dt)" cmp -s "$T/q.$dt.safetensors" "$T/q3.$dt.safetensors"
done
grep -q '"data"' "$T/q.f64.json" && bad "safetensors -> JSON wrote data" || ok

# JSON -> JSON keeps the data: every example gives the same grad --json
for f in examples/*.json; do
    case $f in *.expected.json) continue ;; esac
    n=$(basename "$f" .json)
    run_ok "grad_$n" grad --json "$f"
    run_ok "to_json_$n" convert "$f" "$T/$n.json"
    run_ok "grad_conv_$n" grad --json "$T/$n.json"
    check "grad --json of $n after JSON -> JSON" cmp -s "$T/grad_$n.out" "$T/grad_conv_$n.out"
    run_ok "to_st_$n" convert "$f" "$T/$n.safetensors"
done

# replacing an existing file leaves no temporary file behind
run_ok over convert "$T/q.f32.safetensors" "$T/q.f64.json"
ls "$T" | grep -q '\.tmp\.' && bad "temporary file left behind" || ok

# refusals: exit 2, one line, nothing written
h='{"embed.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
{ printf "\\x$(printf %02x ${#h})\\0\\0\\0\\0\\0\\0\\0"; printf '%s' "$h"; printf '\0\0\0\0'; } >"$T/foreign.safetensors"
refuses_re foreign "foreign.safetensors: not a backprop model .*embed.weight" \
    convert "$T/foreign.safetensors" "$T/out1.json"
head -c 100 "$T/q.f64.safetensors" >"$T/cut.safetensors"
refuses_re cut "cut.safetensors: .*truncated" convert "$T/cut.safetensors" "$T/out1.json"
# the kind of IN is read from its content, whatever its name says
cp "$Q" "$T/model.safetensors"
run_ok json_named_st convert "$T/model.safetensors" "$T/out1.json"
check "a JSON model named .safetensors converts" grep -q '"layers"' "$T/out1.json"
rm -f "$T/out1.json"
head -c 4096 /dev/urandom >"$T/random.safetensors"
refuses_re random "random.safetensors: " convert "$T/random.safetensors" "$T/out1.json"
refuses_re missing "absent.safetensors: cannot open" convert "$T/absent.safetensors" "$T/out1.json"
run_cmd st_named_json bash -c "cp '$T/q.f64.safetensors' '$T/out2.json' && '$BP' convert '$T/out2.json' '$T/out1.safetensors'"
expect_rc st_named_json 0
rm -f "$T/out1.safetensors"
refuses_re ext "q.txt: unknown kind of file" convert "$Q" "$T/q.txt"
refuses_re one_file "expected two files" convert "$Q"
refuses_re dtype "--dtype" convert --dtype f16 "$Q" "$T/out1.safetensors"
refuses_re no_dir "no/such/dir" convert "$Q" "$T/no/such/dir/q.safetensors"
[ ! -e "$T/out1.json" ] && [ ! -e "$T/out1.safetensors" ] && ok || bad "a refused conversion wrote its output"

# --help
run help convert --help
[ "$rc" = 0 ] && grep -q '^usage: backprop convert IN OUT' "$T/help.out" && [ ! -s "$T/help.err" ] &&
    ok || bad "convert --help"

finish
