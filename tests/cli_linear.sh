#!/usr/bin/env bash
# cli_linear.sh - the linear-models chapter of the tool: `boundary` (CS577
# Assignment 2, question 4, by hand: |n| = sqrt(13), unit normal
# (2, 3)/sqrt(13), distance -1/sqrt(13); a softmax regression's pairwise
# boundaries), `train --multiclass ovr|ovo` with `eval` and `predict` on iris
# and wine, `plot-boundary` and `show-weights` pictures, the bias trick from
# the command line, and bad input refused with exit 2 and one line.
# usage (from the repo root): bash tests/cli_linear.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# --- boundary of an expression ----------------------------------------------------
run_ok q4 boundary "1 + 2*x1 + 3*x2" --at x1=1,x2=1 --at x1=-0.5,x2=0
has_text "$T/q4.out" "|n|           3.6055513 = sqrt(13)"
has_text "$T/q4.out" "(0.5547002, 0.83205029)"
has_text "$T/q4.out" "-0.2773501 = -1/sqrt(13)"
has_text "$T/q4.out" "at x = (1, 1): g = 6, the positive side; signed distance g/|n| = 1.6641006"
has_text "$T/q4.out" "at x = (-0.5, 0): g = 0, on the boundary (g = 0)"
run_ok q4json boundary "3*x2 + 1 + 2*x1" --json --at x2=-1,x1=0
[ "$(wc -l <"$T/q4json.out")" -eq 1 ] && ok || bad "boundary --json: not one line"
has_text "$T/q4json.out" '"theta0": 1, "theta": [2, 3]'
has_text "$T/q4json.out" '"distance": -0.2773500981126146}'   # -1/sqrt(13)
near "q4 norm" "$(jnum norm "$T/q4json.out")" "$(awk 'BEGIN { print sqrt(13) }')"
has_text "$T/q4json.out" '"g": [-2], "side": [-1]'
run boundary_bad boundary "1 + x1*x2"
expect_rc boundary_bad 2
has_text "$T/boundary_bad.err" "backprop: x1*x2 (at column 5) is not linear: a product of two terms that depend on variables (x1 and x2)"
has_text "$T/boundary_bad.err" "      ^"
run boundary_sq boundary "x1 + x2^2"
expect_rc boundary_sq 2
has_text "$T/boundary_sq.err" "x2^2 (at column 6) is not linear: a power (^2) of a term that depends on x2"
refuses boundary_const "there is no boundary" boundary "x1 - x1 + 3"
refuses boundary_point "--at x1=1: 'x1=1' gives no value for x2" boundary "x1 + x2" --at x1=1
refuses boundary_args "expected one expression or model file" boundary
refuses boundary_opt "unknown option" boundary "x1" --bogus

# --- boundary of models -------------------------------------------------------------
cat >"$T/soft.json" <<'EOF'
{"inputs": 2, "layers": [{"units": 3, "activation": "softmax", "W": [[1, 2], [-1, 0.5], [0, -3]], "b": [0.5, 0, -1]}],
 "loss": "cross_entropy", "class_names": ["a", "b", "c"]}
EOF
run_ok soft boundary "$T/soft.json" --at x1=1,x2=1
has_text "$T/soft.out" "class 0 (a) against class 1 (b): g_0(x) - g_1(x) = 0.5 + 2 x1 + 1.5 x2"
has_text "$T/soft.out" "class 0 (a) against class 2 (c): g_0(x) - g_2(x) = 1.5 + x1 + 5 x2"
has_text "$T/soft.out" "class 1 (b) against class 2 (c): g_1(x) - g_2(x) = 1 - x1 + 3.5 x2"
has_text "$T/soft.out" "at x = (1, 1): class 0 (a)"
run_ok soft_st convert "$T/soft.json" "$T/soft.safetensors"
run_ok soft_st_b boundary "$T/soft.safetensors" --json
has_text "$T/soft_st_b.out" '"theta0": 1.5, "theta": [1, 5]'
cat >"$T/deep.json" <<'EOF'
{"inputs": 2, "layers": [{"units": 2, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}], "loss": "bce"}
EOF
refuses boundary_deep "has 1 hidden layer" boundary "$T/deep.json"

# --- the bias trick: question 1's neuron, theta = (0.1, 0.2, 0.3), x = [1, 1, 1]: 0.6 ----------
cat >"$T/q1.json" <<'EOF'
{"inputs": 2, "layers": [{"units": 1, "activation": "linear", "bias": "trick", "W": [[0.1, 0.2, 0.3]]}],
 "loss": "squared", "data": {"x": [[1, 1]], "y": [[1]]}}
EOF
run_ok q1 grad "$T/q1.json" --json
near "q1 output" "$(sed -n 's/.*"output": \[\[\([-0-9.e]*\)\]\].*/\1/p' "$T/q1.out")" 0.6
has_text "$T/q1.out" '"dL_dW": [[-0.7999999999999998, -0.7999999999999998, -0.7999999999999998]], "dL_db": null'
run_ok q1_explain explain "$T/q1.json"
has_text "$T/q1_explain.out" "x = [1, x_1, x_2]"
has_text "$T/q1_explain.out" "z^[1] = [1, a^[0]] (W^[1])^T"
run_ok q1_check gradcheck "$T/q1.json"
run_ok q1_boundary boundary "$T/q1.json"
has_text "$T/q1_boundary.out" "g(x) = -0.4 + 0.2 x1 + 0.3 x2"
sed 's/"W": \[\[0.1, 0.2, 0.3\]\]/"W": [[0.1, 0.2, 0.3]], "b": [1]/' "$T/q1.json" >"$T/q1b.json"
refuses q1_b "layers[0].b: given, but the layer has \"bias\": \"trick\"" grad "$T/q1b.json"

# --- one-vs-rest and one-vs-one on iris and wine ------------------------------------------
for data in iris wine; do
    for s in ovr ovo; do
        run_ok "train_${data}_$s" train --arch "$([ $data = iris ] && echo 4 || echo 13)-1" --multiclass $s \
            --data "examples/data/$data.csv" --epochs 40 --batch 16 --lr 0.2 --dtype f64 --val 0.3 --seed 3 \
            --save "$T/${data}_$s.safetensors" --quiet
        run_ok "eval_${data}_$s" eval "$T/${data}_$s.safetensors" --data "examples/data/$data.csv" --json
        acc=$(jnum accuracy "$T/eval_${data}_$s.out") want=0.93
        [ $data$s = irisovr ] && want=0.85   # one-vs-rest of linear models: versicolor against the rest is hard
        awk -v a="$acc" -v w=$want 'BEGIN { exit !(a >= w) }' && ok || bad "$data $s: accuracy $acc below $want"
        has_text "$T/eval_${data}_$s.out" "\"multiclass\": \"$s\""
    done
done
run_ok eval_iris_text eval "$T/iris_ovo.safetensors" --data examples/data/iris.csv
has_text "$T/eval_iris_text.out" "one-vs-one: 3 binary networks of 4 inputs, 3 classes"
has_text "$T/eval_iris_text.out" "confusion matrix (rows: true class, columns: predicted class)"
has_text "$T/eval_iris_text.out" "  0  setosa      1.0000  (50/50)"
run_ok eval_dist eval "$T/iris_ovr.safetensors" --data examples/data/iris.csv --ovr-rule distance
has_text "$T/eval_dist.out" "rule      the largest signed distance g(x)/|theta|"
run_ok pred_iris predict "$T/iris_ovr.safetensors" --data examples/data/iris.csv
[ "$(head -1 "$T/pred_iris.out")" = "class,name,confidence" ] && ok || bad "predict set: header $(head -1 "$T/pred_iris.out")"
[ "$(wc -l <"$T/pred_iris.out")" -eq 151 ] && ok || bad "predict set: $(wc -l <"$T/pred_iris.out") lines"
sed -n 2p "$T/pred_iris.out" | grep -q '^0,setosa,0\.' && ok || bad "predict set: first row $(sed -n 2p "$T/pred_iris.out")"
run_ok pred_outs predict "$T/iris_ovo.safetensors" --data examples/data/iris.csv --outputs
[ "$(head -1 "$T/pred_outs.out")" = "0_vs_1,0_vs_2,1_vs_2" ] && ok || bad "predict --outputs: $(head -1 "$T/pred_outs.out")"
run_ok set_boundary boundary "$T/iris_ovr.safetensors" --at x1=5,x2=3.4,x3=1.5,x4=0.2
has_text "$T/set_boundary.out" "class 0 (setosa) against the rest: g_0(x)"
has_text "$T/set_boundary.out" "at x = (5, 3.4, 1.5, 0.2): class 0 (setosa) by the largest score"
refuses set_grad "a one-vs-rest or one-vs-one model set, not one network" grad "$T/iris_ovr.safetensors"
printf '0,0,0\n1,1,1\n0,1,1\n' >"$T/two.csv"
refuses multi_two "needs class labels of at least 3 classes" train --arch 2-1 --multiclass ovr \
    --data "$T/two.csv" --save "$T/x.safetensors"
refuses multi_json "a model set is one safetensors file" train --arch 4-1 --multiclass ovo --data examples/data/iris.csv \
    --save "$T/x.json"
refuses multi_arch "one sigmoid output unit and loss bce" train --arch 4-3 --multiclass ovr --data examples/data/iris.csv \
    --save "$T/x.safetensors" --quiet
refuses multi_scheme "--multiclass: expected ovr or ovo" train --arch 4-1 --multiclass all --data examples/data/iris.csv
refuses ovr_rule "--ovr-rule: expected score or distance" eval "$T/iris_ovr.safetensors" --data examples/data/iris.csv \
    --ovr-rule nearest

# --- plot-boundary ----------------------------------------------------------------------
run_ok train_petal train --arch 2-3 --data examples/data/iris_petal.csv --epochs 30 --batch 16 --lr 0.2 --seed 2 \
    --save "$T/petal.json" --quiet
run_ok plot plot-boundary "$T/petal.json" --data examples/data/iris_petal.csv --out "$T/regions.svg"
head -1 "$T/regions.svg" | grep -q '^<?xml' && tail -1 "$T/regions.svg" | grep -q '^</svg>$' && ok || bad "regions.svg is not a whole SVG"
has_text "$T/regions.svg" "class 2 (virginica)"
has_text "$T/regions.svg" "g_0 = g_1"
has_text "$T/regions.svg" "marker-end=\"url(#arrow)\""
run_ok train_petal_ovo train --arch 2-1 --multiclass ovo --data examples/data/iris_petal.csv --epochs 20 --batch 16 \
    --lr 0.2 --save "$T/petal_ovo.safetensors" --quiet
run_ok plot_ovo plot-boundary "$T/petal_ovo.safetensors" --data examples/data/iris_petal.csv --out "$T/ovo.svg"
has_text "$T/ovo.svg" "g_0,1 = 0"
run_ok plot_deep plot-boundary "$T/deep.json" --data "$T/two.csv" --out "$T/deep.svg"
has_text "$T/deep.svg" "is where the regions meet"
refuses plot_inputs "the plane of the regions needs a model of two inputs" plot-boundary "$T/iris_ovr.safetensors" \
    --data examples/data/iris.csv --out "$T/x.svg"
refuses plot_nodata "no data" plot-boundary "$T/petal.json"

# --- show-weights -----------------------------------------------------------------------
refuses weights_set "model set" show-weights "$T/iris_ovr.safetensors" --image 2x2 --out "$T/w.svg"
run_ok weights_petal show-weights "$T/petal.json" --image 1x2 --out "$T/w.svg"
has_text "$T/w.svg" "2 virginica"
has_text "$T/w.svg" "weight (one scale for the whole layer)"
refuses weights_shape "layer 1 has 2 inputs per unit; an image of 3 x 3 has 9 pixels" show-weights "$T/petal.json" \
    --image 3x3 --out "$T/w.svg"
refuses weights_layer "--layer 2: " show-weights "$T/petal.json" --layer 2 --out "$T/w.svg"
refuses weights_square "not a square" show-weights "$T/petal.json" --out "$T/w.svg"
refuses multi_relu1 "--relu-grad-at-zero 1 does not apply to --multiclass yet" train --arch 4-1 --multiclass ovr \
    --data examples/data/iris.csv --relu-grad-at-zero 1 --save "$T/mr.safetensors"
finish
