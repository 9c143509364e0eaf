#!/usr/bin/env bash
# cli_eval.sh - `backprop eval` and `backprop predict` on hand-built models
# (made with `backprop convert`) whose numbers are known, a pipeline through
# standard input, and bad input refused with exit 2 and one line.
# usage (from the repo root): bash tests/cli_eval.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

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
for m in cls reg bin; do run_ok "convert_$m" convert "$T/$m.json" "$T/$m.safetensors"; done

# --- eval: classifier --------------------------------------------------------
# loss = mean of logsumexp(z) - z[label]
want_loss=$(awk 'BEGIN { split("2 0 0 2 -1 -1 1 3 3 1", x, " "); split("0 1 2 0 2", l, " ");
    for (i = 0; i < 5; i++) { a = x[2*i+1]; b = x[2*i+2]; z[0] = a; z[1] = b; z[2] = -a - b;
        s += log(exp(z[0]) + exp(z[1]) + exp(z[2])) - z[l[i+1]] } printf "%.10f", s / 5 }')
run_ok cls eval "$T/cls.safetensors" --data "$T/cls.csv"
has_text "$T/cls.out" "accuracy  0.6000 (3/5)"
has_text "$T/cls.out" "     2    1    0    1"
run_ok cls_json eval "$T/cls.safetensors" --data "$T/cls.csv" --json
[ "$(wc -l <"$T/cls_json.out")" -eq 1 ] && ok || bad "eval --json: not one line"
has_text "$T/cls_json.out" '"confusion": [[1, 1, 0], [0, 1, 0], [1, 0, 1]]'
has_text "$T/cls_json.out" '"class_accuracy": [0.5, 1, 0.5]'
near "eval cls --json accuracy" "$(jnum accuracy "$T/cls_json.out")" 0.6
near "eval cls --json loss" "$(jnum loss "$T/cls_json.out")" "$want_loss"
run_ok cls_f64 eval "$T/cls.safetensors" --data "$T/cls.csv" --json --dtype f64 --batch 2
near "eval cls f64 loss" "$(jnum loss "$T/cls_f64.out")" "$want_loss"

# --- eval: regression and a single sigmoid unit -----------------------------
run_ok reg eval "$T/reg.safetensors" --data "$T/reg.csv" --json
near "eval reg mse" "$(jnum mse "$T/reg.out")" "$(awk 'BEGIN { print 11 / 6 }')"
near "eval reg mae" "$(jnum mae "$T/reg.out")" "$(awk 'BEGIN { print 5 / 6 }')"
near "eval reg loss" "$(jnum loss "$T/reg.out")" "$(awk 'BEGIN { print 11 / 3 }')"
run_ok bin eval "$T/bin.safetensors" --data "$T/bin.csv" --json
has_text "$T/bin.out" '"confusion": [[0, 1], [1, 1]]'
near "eval bin loss (sum)" "$(jnum loss "$T/bin.out")" \
    "$(awk 'BEGIN { print log(1 + exp(-1)) + log(1 + exp(1)) + log(2) }')"

# --- predict -----------------------------------------------------------------
run_ok pcls predict "$T/cls.safetensors" --data "$T/cls.csv"
[ "$(head -1 "$T/pcls.out")" = "class,probability" ] && ok || bad "predict header: $(head -1 "$T/pcls.out")"
[ "$(tail -n +2 "$T/pcls.out" | cut -d, -f1 | tr '\n' ' ')" = "0 1 2 1 0 " ] && ok ||
    bad "predict classes: $(tail -n +2 "$T/pcls.out" | cut -d, -f1 | tr '\n' ' ')"
near "predict probability" "$(sed -n 2p "$T/pcls.out" | cut -d, -f2)" \
    "$(awk 'BEGIN { print exp(2) / (exp(2) + 1 + exp(-2)) }')"
cp "$T/pcls.out" "$T/pred_file.csv"
# the same through a pipeline, features only
cut -d, -f1,2 "$T/cls.csv" | "$BP" predict "$T/cls.safetensors" --data - >"$T/pred_pipe.csv" 2>"$T/pipe.err"
[ $? -eq 0 ] && cmp -s "$T/pred_file.csv" "$T/pred_pipe.csv" && ok || bad "predict via stdin differs: $(cat "$T/pipe.err")"
run_ok pout predict "$T/cls.safetensors" --data "$T/cls.csv" --out "$T/pred_out.csv"
[ ! -s "$T/pout.out" ] && cmp -s "$T/pred_file.csv" "$T/pred_out.csv" && ok || bad "predict --out differs"
run_ok pouts predict "$T/cls.safetensors" --data "$T/cls.csv" --outputs
[ "$(head -1 "$T/pouts.out")" = "class_0,class_1,class_2" ] && [ "$(wc -l <"$T/pouts.out")" -eq 6 ] && ok ||
    bad "predict --outputs: $(head -2 "$T/pouts.out")"
run_ok preg predict "$T/reg.safetensors" --data "$T/reg.csv" --regression --targets 2
[ "$(tr '\n' ' ' <"$T/preg.out")" = "output_1,output_2 1,0 3,0 5,0 " ] && ok || bad "predict reg: $(cat "$T/preg.out")"
run_ok pbin predict "$T/bin.safetensors" --data "$T/bin.csv"
[ "$(tail -n +2 "$T/pbin.out" | tr '\n' ' ')" = "1,0.7310586 0,0.7310586 1,0.5 " ] && ok ||
    bad "predict bin: $(cat "$T/pbin.out")"

# --- bad input ---------------------------------------------------------------
printf '1,2,3,0\n' >"$T/wide.csv"
printf '1,2,0\n1,abc,1\n' >"$T/badnum.csv"
printf '5,2,7\n' >"$T/badlabel.csv"
refuses no_data_file "nope.csv: cannot open" eval "$T/cls.safetensors" --data "$T/nope.csv"
refuses no_model "nope.safetensors" eval "$T/nope.safetensors" --data "$T/cls.csv"
# a JSON model evaluates like its safetensors twin; a CSV where the model belongs is named as such
run_ok json_model eval "$T/cls.json" --data "$T/cls.csv" --json
check "eval of the JSON model = eval of the safetensors model" cmp -s <(sed 's/cls.json/cls.safetensors/' "$T/json_model.out") "$T/cls_json.out"
near "eval cls.json accuracy" "$(jnum accuracy "$T/json_model.out")" 0.6
refuses csv_model "cls.csv: this looks like a CSV file, not a model" eval "$T/cls.csv" --data "$T/cls.csv"
refuses wide "the model has 2 inputs, the data has 3 features" eval "$T/cls.safetensors" --data "$T/wide.csv"
refuses badnum "badnum.csv:2:3: field 2: expected a number, got 'abc'" \
    eval "$T/cls.safetensors" --data "$T/badnum.csv"
refuses badlabel "class label 7 is out of range 0..2" eval "$T/cls.safetensors" --data "$T/badlabel.csv"
refuses no_data "--data" eval "$T/cls.safetensors"
refuses header "--header" eval "$T/cls.safetensors" --data "$T/cls.csv" --header maybe
refuses dataset "unknown dataset" eval "$T/cls.safetensors" --data fashon-mnist
refuses pwide "wide.csv:1: 4 columns; expected 2 (the features) or 3 (with 1 target column)" \
    predict "$T/cls.safetensors" --data "$T/wide.csv"
printf '1,2\n3,x\n' >"$T/stdin_bad.csv"
refuses pstdin "stdin:2:3: field 2: expected a number, got 'x'" \
    predict "$T/cls.safetensors" --data - <"$T/stdin_bad.csv"
refuses pnodir "cannot write" predict "$T/cls.safetensors" --data "$T/cls.csv" --out "$T/no/such/dir/p.csv"

# columns count from 1, like the fields of the messages
printf '0,1,2\n1,2,0\n2,0,1\n' >"$T/first.csv"
run_ok labelfirst eval "$T/cls.safetensors" --data "$T/first.csv" --label-col 1
refuses labelzero "--label-col: columns count from 1" eval "$T/cls.safetensors" --data "$T/first.csv" --label-col 0
finish
