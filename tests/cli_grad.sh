#!/usr/bin/env bash
# cli_grad.sh - `backprop grad` and `gradcheck` from the command line: JSON
# output, --x/--y, --compare (right, wrong, the first wrong step, the usual
# slips), and every kind of malformed model file refused with one line.
# Run from the repository root: bash tests/cli_grad.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# ---- grad --json on q12 carries the true values (PyTorch, examples/q12.expected.json)
run q12 grad examples/q12.json --json
expect_rc q12 0
check "one line of JSON" [ "$(wc -l <"$T/q12.out")" = 1 ]
has_num "$T/q12.out" 281.70005118084191
has_num "$T/q12.out" -57.657759040794299
run q12t grad examples/q12.json
expect_rc q12t 0
has_text "$T/q12t.out" "dL/dW"

# ---- --x / --y replace the data
printf '1,2\n1,3\n2,2\n' >"$T/x.csv"
printf '8\n11\n10\n' >"$T/y.csv"
run xy grad examples/q12.json --json --x "$T/x.csv" --y "$T/y.csv"
check "--x/--y give the same pass" cmp -s "$T/q12.out" "$T/xy.out"
printf '1,2\n1,oops\n' >"$T/badx.csv"
run badx grad examples/q12.json --x "$T/badx.csv"
expect_refused badx "badx.csv:2:3" "oops"
printf '1,2,3\n' >"$T/widex.csv"
run widex grad examples/q12.json --x "$T/widex.csv"
expect_refused widex "3 columns" "2 inputs"

# ---- gradcheck
run gc gradcheck examples/q12.json
expect_rc gc 0
has_text "$T/gc.out" "PASS"

# ---- --compare: all right, one wrong with the first step, the usual slips
cat >"$T/right.json" <<'EOF2'
{"loss": 281.70005, "layers": [{"dL_db": [-0.287435, -0.4315315, -0.575537]}, {"dL_db": [-57.657759]}]}
EOF2
run right grad examples/q12.json --compare "$T/right.json"
expect_rc right 0
has_text "$T/right.out" "all 3 given values are right"
cat >"$T/wrong.json" <<'EOF2'
{"loss": 281.70005,
 "layers": [{"dL_dW": [[-0.3865626, -0.68390552], [-0.58037153, -1.0267961], [-0.77389626, -1.3695813]]},
            {"dL_da": [[15.886502], [21.885704], [19.885554]], "dL_db": [57.657759]}]}
EOF2
run wrong grad examples/q12.json --compare "$T/wrong.json"
expect_rc wrong 1
has_text "$T/wrong.out" "first wrong step: layers[1].dL_da"
has_text "$T/wrong.out" "wrong sign"
has_text "$T/wrong.out" "right  layers[0].dL_dW"
cat >"$T/transposed.json" <<'EOF2'
{"layers": [{"dL_dW": [[-0.3865626, -0.58037153, -0.77389626], [-0.68390552, -1.0267961, -1.3695813]]}, {}]}
EOF2
run tr grad examples/q12.json --compare "$T/transposed.json"
expect_rc tr 1
has_text "$T/tr.out" "transposed"
# the 1/m of a mean forgotten (examples/sigmoid_bce_mean.json has m = 3)
run truth grad examples/sigmoid_bce_mean.json --json
m_db=$(sed -n 's/.*"dL_db": \[\([-0-9.e]*\)\]}\], "dL_dx".*/\1/p' "$T/truth.out")
if [ -n "$m_db" ]; then
    echo "{\"layers\": [{}, {}, {\"dL_db\": [$(awk -v v="$m_db" 'BEGIN{printf "%.12g", 3*v}')]}]}" >"$T/nomean.json"
    run nomean grad examples/sigmoid_bce_mean.json --compare "$T/nomean.json"
    expect_rc nomean 1
    has_text "$T/nomean.out" "1/m"
else
    bad "could not read dL_db of the last layer of sigmoid_bce_mean"
fi
# (the softmax-as-diagonal slip is checked in tests/test_compare.c)
run cmpbad grad examples/q12.json --compare "$T/missing.json"
expect_refused cmpbad "missing.json"
echo '{"loss": "many"}' >"$T/strloss.json"
run cmpstr grad examples/q12.json --compare "$T/strloss.json"
expect_refused cmpstr "strloss.json" "loss"
echo '{"gradient": 1}' >"$T/unknown.json"
run cmpunk grad examples/q12.json --compare "$T/unknown.json"
expect_refused cmpunk "unknown field" "gradient"

# ---- malformed model files: one line naming the file, the place and the problem
model() { # NAME JSON: write $T/NAME.json
    printf '%s\n' "$2" >"$T/$1.json"
}
L1='{"units": 1, "activation": "linear", "W": [[1, 2]], "b": [0]}'
D='"data": {"x": [[1, 2]], "y": [[3]]}'
model badjson '{"inputs": 2, "layers": [ '
model shape "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1, 2, 3]]}], \"loss\": \"squared\", $D}"
model act "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"gelu\"}], \"loss\": \"squared\", $D}"
model loss "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"hinge\", $D}"
model smnotlast "{\"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}, $L1], \"loss\": \"squared\", $D}"
model mismatch "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"bce\", $D}"
model cemismatch "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"sigmoid\"}], \"loss\": \"cross_entropy\", $D}"
model nan "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1, NaN]]}], \"loss\": \"squared\", $D}"
model huge "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1, 1e999]]}], \"loss\": \"squared\", $D}"
model string "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1, \"2\"]]}], \"loss\": \"squared\", $D}"
model empty "{\"inputs\": 2, \"layers\": [], \"loss\": \"squared\", $D}"
model nodata "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"squared\"}"
model noloss "{\"inputs\": 2, \"layers\": [$L1], $D}"
model unknownkey "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"squared\", \"lr\": 0.1, $D}"
model bwithout "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"bias\": false, \"b\": [1]}], \"loss\": \"squared\", $D}"
model ywidth "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"squared\", \"data\": {\"x\": [[1, 2]], \"y\": [[3, 4]]}}"
model zerounits "{\"inputs\": 2, \"layers\": [{\"units\": 0, \"activation\": \"linear\"}], \"loss\": \"squared\", $D}"
model zeroinputs "{\"inputs\": 0, \"layers\": [$L1], \"loss\": \"squared\", $D}"
model dup "{\"inputs\": 2, \"inputs\": 3, \"layers\": [$L1], \"loss\": \"squared\", $D}"
model ragged "{\"inputs\": 2, \"layers\": [$L1], \"loss\": \"squared\", \"data\": {\"x\": [[1, 2], [3]], \"y\": [[3], [4]]}}"
model notobject '[1, 2, 3]'
model huge_units "{\"inputs\": 2, \"layers\": [{\"units\": 100000000, \"activation\": \"relu\"}, {\"units\": 1, \"activation\": \"linear\"}], \"loss\": \"squared\", $D}"
printf '' >"$T/emptyfile.json"

refused() { # NAME TEXT...: grad on $T/NAME.json is refused naming the file and TEXT
    local n=$1; shift
    run "$n" grad "$T/$n.json" --json
    expect_refused "$n" "$n.json" "$@"
}
refused badjson "invalid JSON" "2:0"
refused shape "layers[0].W[0]" "expected 2 numbers"
refused act "layers[0].activation" "gelu"
refused loss "loss" "hinge"
refused smnotlast "layers[0].activation" "softmax"
refused mismatch "bce" "sigmoid"
refused cemismatch "cross_entropy" "softmax"
refused nan "invalid JSON"
refused huge "overflow"
refused string "layers[0].W[0][1]" "expected a number"
refused empty "layers" "empty"
refused nodata "no data"
refused noloss "loss"
refused unknownkey "unknown key" "lr"
refused bwithout "layers[0].b" "bias"
refused ywidth "data.y[0]" "expected 1 numbers"
refused zerounits "layers[0].units" "at least 1"
refused zeroinputs "inputs" "at least 1"
refused dup "duplicate"
refused ragged "data.x[1]"
refused notobject "expected a JSON object"
refused huge_units "parameters" "at most"
run emptyfile grad "$T/emptyfile.json"
expect_refused emptyfile "emptyfile.json"
run missing grad "$T/nope.json"
expect_refused missing "nope.json"
run noarg grad
expect_refused noarg
run badopt grad examples/q12.json --dtype f16
expect_refused badopt "f16"
for cmd in explain gradcheck; do
    run "bad_$cmd" "$cmd" "$T/shape.json"
    expect_refused "bad_$cmd" "shape.json" "layers[0].W[0]"
done

# ---- the convention at ReLU's kink: --relu-grad-at-zero 0|1 (case_072: some z are exactly 0)
K=tests/golden/cases/case_072.json
run k0 grad "$K" --json
run k0b grad "$K" --json --relu-grad-at-zero 0
check "--relu-grad-at-zero 0 is the default" cmp -s "$T/k0.out" "$T/k0b.out"
run k1 grad "$K" --json --relu-grad-at-zero 1
expect_rc k1 0
if cmp -s "$T/k0.out" "$T/k1.out"; then bad "--relu-grad-at-zero 1 changes the gradients where z = 0"; else ok; fi
# the values of tests/golden/kinks/case_072.relu1.expected.json (PyTorch: torch.clamp(z, min=0))
has_num "$T/k1.out" -0.00307189725307766 1.4375 -0.7178044242928483
run k1t grad "$K" --relu-grad-at-zero=1
expect_rc k1t 0
for cmd in grad gradcheck explain; do
    refuses "relu2_$cmd" "--relu-grad-at-zero: expected 0 (as PyTorch) or 1 (z >= 0), got '2'" "$cmd" "$K" --relu-grad-at-zero 2
done
run gck gradcheck "$K" --relu-grad-at-zero 1
expect_rc gck 0
has_text "$T/gck.out" "not compared"
has_text "$T/gck.out" "backprop takes relu'(0) = 1, --relu-grad-at-zero 1)"
run gck0 gradcheck "$K"
has_text "$T/gck0.out" "backprop takes relu'(0) = 0, as PyTorch"
run exk explain "$K"
has_text "$T/exk.out" "z^[1] is exactly 0 at 5 entries"
has_text "$T/exk.out" "this derivation takes g'(0) = 0, as PyTorch does"
run exk1 explain "$K" --relu-grad-at-zero 1
has_text "$T/exk1.out" "(--relu-grad-at-zero=1), the z >= 0 of the course notes \"HW Backprop\"; PyTorch takes 0."
has_text "$T/exk1.out" "g'(z^[1]) = 1[z^[1] >= 0]"
run exq explain examples/q12.json
if grep -q "exactly 0" "$T/exq.out"; then bad "no kink, no word about it"; else ok; fi
finish
