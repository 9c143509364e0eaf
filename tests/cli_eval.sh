#!/usr/bin/env bash
# cli_eval.sh - `backprop eval` and `backprop predict` on hand-built models
# (made with `backprop convert`) whose numbers are known, a pipeline through
# standard input, and bad input refused with exit 2 and one line.
# usage (from the repo root): bash tests/cli_eval.sh /path/to/backprop
set -u
B=${1:?usage: bash tests/cli_eval.sh /path/to/backprop}
T=$(mktemp -d "${TMPDIR:-/tmp}/bp_cli_eval.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run WHAT CMD...: the command must succeed (its stdout in $T/out)
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
    grep -qF -- "$needle" "$T/err" && grep -q '^backprop: ' "$T/err" && ok ||
        bad "$what: stderr lacks '$needle': $(cat "$T/err")"
}

has() { # WHAT NEEDLE FILE: the file contains the fixed string
    grep -qF -- "$2" "$3" && ok || bad "$1: no '$2' in: $(head -c 600 "$3")"
}

near() { # WHAT GOT WANT: |got - want| <= 1e-5 (1 + |want|)
    awk -v g="$2" -v w="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w; exit !(g != "" && d <= 1e-5 * (1 + a)) }' &&
        ok || bad "$1: got '$2', want $3"
}

jnum() { # FIELD FILE: a number of the one-line JSON object
    sed -n "s/.*\"$1\": \([-0-9.eE+]*\).*/\1/p" "$2"
}

# A softmax classifier: z = (x1, x2, -x1-x2).  On the data below it predicts
# 0, 1, 2, 1, 0 against the labels 0, 1, 2, 0, 2.
cat >"$T/cls.json" <<'EOF'
{"inputs": 2, "weight_layout": "out_in",
 "layers": [{"units": 3, "activation": "softmax", "bias": true,
             "W": [[1, 0], [0, 1], [-1, -1]], "b": [0, 0, 0]}],
 "loss": "cross_entropy", "reduction": "mean"}
EOF
printf 'x1,x2,label\n2,0,0\n0,2,1\n-1,-1,2\n1,3,0\n3,1,2\n' >"$T/cls.csv"
# A linear regression with two outputs: yhat = (2x + 1, 0); errors 0,0 -1,0 1,-3.
cat >"$T/reg.json" <<'EOF'
{"inputs": 1, "weight_layout": "out_in",
 "layers": [{"units": 2, "activation": "linear", "bias": true, "W": [[2], [0]], "b": [1, 0]}],
 "loss": "squared", "reduction": "mean"}
EOF
printf 'x,y1,y2\n0,1,0\n1,4,0\n2,4,3\n' >"$T/reg.csv"
# One sigmoid unit, z = x1 - x2: outputs s(1), s(-1), 0.5 -> classes 1, 0, 1.
cat >"$T/bin.json" <<'EOF'
{"inputs": 2, "weight_layout": "out_in",
 "layers": [{"units": 1, "activation": "sigmoid", "bias": true, "W": [[1, -1]], "b": [0]}],
 "loss": "bce", "reduction": "sum"}
EOF
printf '1,0,1\n0,1,1\n2,2,0\n' >"$T/bin.csv"
for m in cls reg bin; do run "convert $m" "$B" convert "$T/$m.json" "$T/$m.safetensors"; done

# --- eval: classifier --------------------------------------------------------
# loss = mean of logsumexp(z) - z[label]
want_loss=$(awk 'BEGIN { split("2 0 0 2 -1 -1 1 3 3 1", x, " "); split("0 1 2 0 2", l, " ");
    for (i = 0; i < 5; i++) { a = x[2*i+1]; b = x[2*i+2]; z[0] = a; z[1] = b; z[2] = -a - b;
        s += log(exp(z[0]) + exp(z[1]) + exp(z[2])) - z[l[i+1]] } printf "%.10f", s / 5 }')
run "eval cls" "$B" eval "$T/cls.safetensors" --data "$T/cls.csv"
has "eval cls accuracy" "accuracy  0.6000 (3/5)" "$T/out"
has "eval cls confusion" "     2    1    0    1" "$T/out"
run "eval cls --json" "$B" eval "$T/cls.safetensors" --data "$T/cls.csv" --json
[ "$(wc -l <"$T/out")" -eq 1 ] && ok || bad "eval --json: not one line"
has "eval cls --json confusion" '"confusion": [[1, 1, 0], [0, 1, 0], [1, 0, 1]]' "$T/out"
has "eval cls --json class accuracy" '"class_accuracy": [0.5, 1, 0.5]' "$T/out"
near "eval cls --json accuracy" "$(jnum accuracy "$T/out")" 0.6
near "eval cls --json loss" "$(jnum loss "$T/out")" "$want_loss"
run "eval cls f64" "$B" eval "$T/cls.safetensors" --data "$T/cls.csv" --json --dtype f64 --batch 2
near "eval cls f64 loss" "$(jnum loss "$T/out")" "$want_loss"

# --- eval: regression and a single sigmoid unit -----------------------------
run "eval reg" "$B" eval "$T/reg.safetensors" --data "$T/reg.csv" --json
near "eval reg mse" "$(jnum mse "$T/out")" "$(awk 'BEGIN { print 11 / 6 }')"
near "eval reg mae" "$(jnum mae "$T/out")" "$(awk 'BEGIN { print 5 / 6 }')"
near "eval reg loss" "$(jnum loss "$T/out")" "$(awk 'BEGIN { print 11 / 3 }')"
run "eval bin" "$B" eval "$T/bin.safetensors" --data "$T/bin.csv" --json
has "eval bin confusion" '"confusion": [[0, 1], [1, 1]]' "$T/out"
near "eval bin loss (sum)" "$(jnum loss "$T/out")" \
    "$(awk 'BEGIN { print log(1 + exp(-1)) + log(1 + exp(1)) + log(2) }')"

# --- predict -----------------------------------------------------------------
run "predict cls" "$B" predict "$T/cls.safetensors" --data "$T/cls.csv"
[ "$(head -1 "$T/out")" = "class,probability" ] && ok || bad "predict header: $(head -1 "$T/out")"
[ "$(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')" = "0 1 2 1 0 " ] && ok ||
    bad "predict classes: $(tail -n +2 "$T/out" | cut -d, -f1 | tr '\n' ' ')"
near "predict probability" "$(sed -n 2p "$T/out" | cut -d, -f2)" \
    "$(awk 'BEGIN { print exp(2) / (exp(2) + 1 + exp(-2)) }')"
cp "$T/out" "$T/pred_file.csv"
# the same through a pipeline, features only
cut -d, -f1,2 "$T/cls.csv" | "$B" predict "$T/cls.safetensors" --data - >"$T/pred_pipe.csv" 2>"$T/err"
[ $? -eq 0 ] && cmp -s "$T/pred_file.csv" "$T/pred_pipe.csv" && ok || bad "predict via stdin differs: $(cat "$T/err")"
run "predict --out" "$B" predict "$T/cls.safetensors" --data "$T/cls.csv" --out "$T/pred_out.csv"
[ ! -s "$T/out" ] && cmp -s "$T/pred_file.csv" "$T/pred_out.csv" && ok || bad "predict --out differs"
run "predict --outputs" "$B" predict "$T/cls.safetensors" --data "$T/cls.csv" --outputs
[ "$(head -1 "$T/out")" = "output_1,output_2,output_3" ] && [ "$(wc -l <"$T/out")" -eq 6 ] && ok ||
    bad "predict --outputs: $(head -2 "$T/out")"
run "predict reg" "$B" predict "$T/reg.safetensors" --data "$T/reg.csv" --regression --targets 2
[ "$(tr '\n' ' ' <"$T/out")" = "output_1,output_2 1,0 3,0 5,0 " ] && ok || bad "predict reg: $(cat "$T/out")"
run "predict bin" "$B" predict "$T/bin.safetensors" --data "$T/bin.csv"
[ "$(tail -n +2 "$T/out" | tr '\n' ' ')" = "1,0.731058598 0,0.731058598 1,0.5 " ] && ok ||
    bad "predict bin: $(cat "$T/out")"

# --- bad input ---------------------------------------------------------------
printf '1,2,3,0\n' >"$T/wide.csv"
printf '1,2,0\n1,abc,1\n' >"$T/badnum.csv"
printf '5,2,7\n' >"$T/badlabel.csv"
refuse "eval missing data" "nope.csv: cannot open" "$B" eval "$T/cls.safetensors" --data "$T/nope.csv"
refuse "eval missing model" "nope.safetensors" "$B" eval "$T/nope.safetensors" --data "$T/cls.csv"
refuse "eval JSON model" "convert" "$B" eval "$T/cls.json" --data "$T/cls.csv"
refuse "eval wrong features" "the model has 2 inputs, the data has 3 features" \
    "$B" eval "$T/cls.safetensors" --data "$T/wide.csv"
refuse "eval bad number" "badnum.csv:2:3: field 2: expected a number, got 'abc'" \
    "$B" eval "$T/cls.safetensors" --data "$T/badnum.csv"
refuse "eval label out of range" "class label 7 is out of range 0..2" \
    "$B" eval "$T/cls.safetensors" --data "$T/badlabel.csv"
refuse "eval no data" "--data" "$B" eval "$T/cls.safetensors"
refuse "eval bad --header" "--header" "$B" eval "$T/cls.safetensors" --data "$T/cls.csv" --header maybe
refuse "eval unknown dataset" "unknown dataset" "$B" eval "$T/cls.safetensors" --data fashon-mnist
refuse "predict wrong features" "the model has 2 inputs, the data has 4 features" \
    "$B" predict "$T/cls.safetensors" --data "$T/wide.csv"
printf '1,2\n3,x\n' >"$T/stdin_bad.csv"
refuse "predict bad stdin" "stdin:2:3: field 2: expected a number, got 'x'" \
    "$B" predict "$T/cls.safetensors" --data - <"$T/stdin_bad.csv"
refuse "predict unwritable --out" "cannot write" \
    "$B" predict "$T/cls.safetensors" --data "$T/cls.csv" --out "$T/no/such/dir/p.csv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
