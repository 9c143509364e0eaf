#!/usr/bin/env bash
# cli_step.sh - `backprop step`, `explain --lr`, `train --model F.json` without
# --data, the step activation and the 0-1 loss from the command line: the true
# numbers (tests/golden/steps/q12.steps.json, PyTorch), the formats, --json,
# --compare, --save, the stop rule, and bad input refused with one line.
# Run from the repository root: bash tests/cli_step.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"
Q12=examples/q12.json
BCE=examples/sigmoid_bce_mean.json

# ---- the text: every number of the update (torch.optim.SGD, tests/golden/steps/q12.steps.json)
run text step "$Q12" --lr 0.01
expect_clean text
has_text "$T/text.out" "W^[1] ← W^[1] - η g^[1W]"
has_text "$T/text.out" "b^[2] ← b^[2] - η g^[2b]"
has_num "$T/text.out" 0.023865626 0.036839055 0.32388171 0.58657759 281.70005 223.95459 57.745462
has_text "$T/text.out" "no tol is set"
run md step "$Q12" --lr 0.01 --format markdown
expect_clean md
has_text "$T/md.out" '\leftarrow W^{[1]} - \eta\, g^{[1W]}'
run tex step "$Q12" --lr 0.01 --format latex --optimizer adam --steps 2
expect_clean tex
has_text "$T/tex.out" '\documentclass'
has_text "$T/tex.out" '\hat{m}^{[1W]}'
has_text "$T/tex.out" '\end{document}'

# ---- --json: one line, the numbers of PyTorch
run json step "$Q12" --lr 0.01 --steps 2 --json
expect_clean json
check "one line of JSON" [ "$(wc -l <"$T/json.out")" = 1 ]
has_num "$T/json.out" 0.023865626035895475 0.5865775904079431 223.9545887243877 -57.74546245645422 170.73545728828958
# the optimizers' first steps differ as they should: momentum's first step is sgd's, nesterov's is (1 + mu) times it
run sgd1 step "$Q12" --lr 0.01 --json
run mom1 step "$Q12" --lr 0.01 --json --optimizer momentum
check "momentum's first step is plain gradient descent's" cmp -s "$T/sgd1.out" "$T/mom1.out"
run nes1 step "$Q12" --lr 0.01 --json --optimizer nesterov --momentum 0.5
has_num "$T/nes1.out" 0.8748663856119145   # b^[2] = 0.01 + 0.01 (1 + 0.5) 57.657759...

# ---- the stop rule: |dL| = 57.7, 53.2, ... on q12
run tol step "$Q12" --lr 0.01 --tol 55 --json
expect_clean tol
check "stops after the second step" [ "$(grep -o '"loss_after"' "$T/tol.out" | wc -l)" = 2 ]
run toltext step "$Q12" --lr 0.01 --tol 55
has_text "$T/toltext.out" "it holds, so the descent stops here."
has_text "$T/toltext.out" "it does not hold yet: go on."
has_text "$T/toltext.out" "The stop rule held at"
run cap step "$Q12" --lr 0.01 --tol 1e-9 --steps 3
has_text "$T/cap.out" "but this was the last step allowed"
check "the cap: three steps" [ "$(grep -c '^Step ' "$T/cap.out")" = 3 ]

# ---- --compare: right values, and the slips of an update (sign, eta)
cat >"$T/right.json" <<'EOF'
{"steps": [{"loss": 281.70005, "layers": [{"b": [0.01287435, 0.034315315, 0.02575537]}, {"W": [[0.32388171, 0.3314025, 0.34040986]]}]}]}
EOF
run right step "$Q12" --lr 0.01 --compare "$T/right.json"
expect_rc right 0
has_text "$T/right.out" "all 3 given values are right"
cat >"$T/sign.json" <<'EOF'
{"steps": [{"layers": [{}, {"W": [[-0.28388171, -0.2714025, -0.26040986]]}]}]}
EOF
run sign step "$Q12" --lr 0.01 --compare "$T/sign.json"
expect_rc sign 1
has_text "$T/sign.out" "wrong sign"
has_text "$T/sign.out" "first wrong: step 1, layer 2, W^[2] entry [0][0] (steps[0].layers[1].W[0][0])"
cat >"$T/noeta.json" <<'EOF'
{"steps": [{"layers": [{}, {"b": [57.667759]}]}]}
EOF
run noeta step "$Q12" --lr 0.01 --compare "$T/noeta.json"
expect_rc noeta 1
has_text "$T/noeta.out" "learning rate is missing"
# the 1/m of a mean (sigmoid_bce_mean: m = 3): a step 3 times too long
run bcej step "$BCE" --lr 0.5 --json
b3=$(sed -n 's/.*"b": \[\([-0-9.e]*\)\]}\], "loss_after".*/\1/p' "$T/bcej.out")
if [ -n "$b3" ]; then
    echo "{\"steps\": [{\"layers\": [{}, {}, {\"b\": [$(awk -v v="$b3" 'BEGIN{printf "%.12g", 0.3 + 3*(v-0.3)}')]}]}]}" >"$T/m.json"
    run m step "$BCE" --lr 0.5 --compare "$T/m.json"
    expect_rc m 1
    has_text "$T/m.out" "1/m"
else
    bad "could not read b^[3] of sigmoid_bce_mean after the step"
fi
echo '{"steps": [{}, {}]}' >"$T/long.json"
run long step "$Q12" --lr 0.01 --compare "$T/long.json"
expect_refused long "long.json" "the run took 1"

# ---- --save: the model after the steps; two single steps are one double step
run_ok save1 step "$Q12" --lr 0.01 --save "$T/after1.json"
run_ok save2 step "$T/after1.json" --lr 0.01 --json
run_ok both step "$Q12" --lr 0.01 --steps 2 --json
w2=$(sed 's/.*"loss": [^,]*, "layers": \[\(.*\)\], "loss_after".*/\1/' "$T/save2.out")
wb=$(sed 's/.*}, {"loss": [^,]*, "layers": \[\(.*\)\], "loss_after".*/\1/' "$T/both.out")
same_weights() { [ -n "$w2" ] && [ "$w2" = "$wb" ]; }
check "step --save, then a step, equals two steps" same_weights
run_ok savest step "$Q12" --lr 0.01 --save "$T/after1.safetensors"
run_ok convst convert "$T/after1.safetensors" "$T/after1c.json"
has_num "$T/after1c.json" 0.32388171069
run same step "$Q12" --lr 0.01 --save "$Q12"
expect_refused same "same file"

# ---- explain --lr
run ex explain "$Q12" --lr 0.01
expect_clean ex
has_text "$T/ex.out" "Update: one step of gradient descent"
has_num "$T/ex.out" 0.32388171 223.95459
run ex1 explain "$Q12" --lr 0.01 --sample 1
has_text "$T/ex1.out" "Update: one step of gradient descent"
run exbad explain "$Q12" --lr -1
expect_refused exbad "--lr"

# ---- bad input: one line, exit 2
run nolr step "$Q12"; expect_refused nolr "--lr"
run opt step "$Q12" --lr 0.1 --optimizer rmsprop; expect_refused opt "rmsprop"
run betas step "$Q12" --lr 0.1 --betas 0.9; expect_refused betas "--betas"
run betas2 step "$Q12" --lr 0.1 --betas 0.9,1.5; expect_refused betas2 "--betas"
run mom step "$Q12" --lr 0.1 --momentum 1; expect_refused mom "--momentum"
run nes step "$Q12" --lr 0.1 --optimizer nesterov --momentum 0; expect_refused nes "nesterov"
run steps step "$Q12" --lr 0.1 --steps 0; expect_refused steps "--steps"
run fmt step "$Q12" --lr 0.1 --format pdf; expect_refused fmt "pdf"
run both2 step "$Q12" --lr 0.1 --json --compare "$T/right.json"; expect_refused both2 "--json"
run noargs step --lr 0.1; expect_refused noargs "one model file"
printf '{"inputs": 2, "layers": [{"units": 1, "activation": "linear"}], "loss": "squared"}\n' >"$T/nodata.json"
run nodata step "$T/nodata.json" --lr 0.1; expect_refused nodata "nodata.json" "no data"
run div step "$Q12" --lr 1e306
expect_rc div 1
has_text "$T/div.err" "step 1"
run_ok help step --help
has_text "$T/help.out" "torch.optim"
run_ok help2 help step

# ---- the step activation and the 0-1 loss
cat >"$T/stepnet.json" <<'EOF'
{"inputs": 2, "layers": [{"units": 2, "activation": "step", "W": [[1, -1], [0.5, 0.5]], "b": [0, -1]},
 {"units": 1, "activation": "sigmoid", "W": [[1, -2]], "b": [0.5]}], "loss": "bce", "reduction": "mean",
 "data": {"x": [[1, 2], [3, 1], [2, 2]], "y": [[1], [0], [1]]}}
EOF
run sg grad "$T/stepnet.json"
expect_clean sg
has_text "$T/sg.out" "its derivative is 0 wherever it exists"
run se explain "$T/stepnet.json"
has_text "$T/se.out" "no gradient passes this layer"
run sgc gradcheck "$T/stepnet.json"
expect_rc sgc 0
run st step "$T/stepnet.json" --lr 1 --json
expect_clean st
has_text "$T/st.out" '"W": [[1, -1], [0.5, 0.5]], "b": [0, -1]'   # the step layer does not move
run str train --model "$T/stepnet.json" --save "$T/never.json"
expect_refused str "stepnet.json" "layer 1 (layers[0])" "step" "gradient descent cannot move"
check "nothing saved" [ ! -e "$T/never.json" ]
run strh train --arch 2-3-1 --hidden step --loss bce --data "$T/none.csv"
expect_refused strh "layer 1" "step"
cat >"$T/zo.json" <<'EOF'
{"inputs": 2, "layers": [{"units": 3, "activation": "softmax", "W": [[1, -1], [0.5, 0.5], [0, 1]], "b": [0, -1, 0]}],
 "loss": "zero_one", "reduction": "sum", "data": {"x": [[1, 2], [3, 1], [2, 2]], "y": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}
EOF
run zg grad "$T/zo.json"
has_text "$T/zg.out" "loss (zero_one, sum over 3 samples) = 2"
has_text "$T/zg.out" "piecewise constant"
run zt train --model "$T/zo.json"
expect_refused zt "zo.json" "zero_one" "piecewise constant"
printf '1,2,0\n3,1,1\n2,2,2\n' >"$T/zo.csv"
run ze eval "$T/zo.json" --data "$T/zo.csv"
expect_clean ze
has_text "$T/ze.out" "0-1 loss  2 misclassified (sum), 0.666667 (mean)"
run zej eval "$T/zo.json" --data "$T/zo.csv" --json
has_text "$T/zej.out" '"zero_one": 2, "zero_one_mean": 0.6666666666666666'

# ---- train --model F.json without --data: the file's own data (full batch, f64: the steps above)
run tr train --model "$Q12" --epochs 2 --batch 3 --lr 0.01 --dtype f64 --no-shuffle --save "$T/trained.json"
expect_clean tr
has_text "$T/tr.out" "on 3 samples"
has_text "$T/tr.out" "epoch   2 loss 223.9546"
run trc train --model "$BCE" --epochs 1 --save "$T/bce.safetensors"
has_text "$T/trc.out" "acc 0.6667"
run trnd train --model "$T/nodata.json"
expect_refused trnd "nodata.json" "no data"
# the convention at ReLU's kink: case_072 has z exactly 0 in its first layer
run k0 step tests/golden/cases/case_072.json --lr 0.1 --json
run k1 step tests/golden/cases/case_072.json --lr 0.1 --json --relu-grad-at-zero 1
expect_rc k1 0
if cmp -s "$T/k0.out" "$T/k1.out"; then bad "step --relu-grad-at-zero 1 changes the step where z = 0"; else ok; fi
refuses k2 "--relu-grad-at-zero: expected 0 (as PyTorch) or 1 (z >= 0), got '2'" step tests/golden/cases/case_072.json \
    --lr 0.1 --relu-grad-at-zero 2
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
