#!/usr/bin/env bash
# cli_scaling.sh - a model carries the scaling of its inputs: IDX pixels / 255
# and the standardisation of CSV features are recorded when training and
# applied by eval and predict to the data as the user has it (raw pixels as
# CSV give the same loss as the IDX files), kept by convert in both
# directions (the JSON model's "scaler"), and applied to --x by grad and
# explain, also on a safetensors model; data scaled another way is warned of.
# Run from the repository root: bash tests/cli_scaling.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# ---- 8 images of 2 x 2 pixels, 2 classes (bright top row or bright bottom row)
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
pix=(250 240 10 20  200 230 30 0  5 15 220 250  0 40 210 190  255 200 60 10  20 10 240 230  180 220 5 35  25 5 199 241)
lab=(0 0 1 1 0 1 0 1)
{ be32 2051; be32 8; be32 2; be32 2; for p in "${pix[@]}"; do printf "\\$(printf %03o "$p")"; done; } >"$T/img.idx"
{ be32 2049; be32 8; for l in "${lab[@]}"; do printf "\\$(printf %03o "$l")"; done; } >"$T/lab.idx"
: >"$T/raw.csv"
: >"$T/unit.csv"
for i in 0 1 2 3 4 5 6 7; do
    r="${pix[4 * i]},${pix[4 * i + 1]},${pix[4 * i + 2]},${pix[4 * i + 3]}"
    echo "$r,${lab[i]}" >>"$T/raw.csv"
    echo "$r" | awk -F, -v l="${lab[i]}" '{ printf "%.6f,%.6f,%.6f,%.6f,%d\n", $1/255, $2/255, $3/255, $4/255, l }' >>"$T/unit.csv"
done

run_ok train_idx train --arch 4-3-10 --data "$T/img.idx" --labels "$T/lab.idx" --epochs 30 --batch 4 --lr 0.5 --quiet \
    --save "$T/px.safetensors"
run_ok eval_idx eval "$T/px.safetensors" --data "$T/img.idx" --labels "$T/lab.idx" --json
run_ok eval_raw eval "$T/px.safetensors" --data "$T/raw.csv" --json
check "raw pixels as CSV evaluate as the IDX files do" cmp -s <(sed 's/"data": "[^"]*"//' "$T/eval_idx.out") \
    <(sed 's/"data": "[^"]*"//' "$T/eval_raw.out")
check "no warning for raw pixels" [ ! -s "$T/eval_raw.err" ]
run_ok eval_unit eval "$T/px.safetensors" --data "$T/unit.csv"
check "pixels already divided by 255: a warning" grep -q "far from the training inputs" "$T/eval_unit.err"
run_ok pred_raw predict "$T/px.safetensors" --data "$T/raw.csv" --outputs
run_ok pred_idx predict "$T/px.safetensors" --data "$T/img.idx" --outputs
check "predict: raw CSV = IDX" cmp -s "$T/pred_raw.out" "$T/pred_idx.out"

# ---- convert keeps the scaler, both ways; grad and explain apply it to --x
run_ok conv_json convert "$T/px.safetensors" "$T/px.json"
check "the JSON model has the scaler" grep -q '"scaler": {"divide": 255' "$T/px.json"
run_ok conv_back convert "$T/px.json" "$T/px2.safetensors"
run_ok eval_back eval "$T/px2.safetensors" --data "$T/raw.csv" --json
check "JSON -> safetensors keeps the scaling" cmp -s "$T/eval_raw.out" <(sed 's/px2/px/' "$T/eval_back.out")
cut -d, -f1-4 "$T/raw.csv" >"$T/x.csv"
awk -F, '{ print ($5 == 0) "," ($5 == 1) ",0,0,0,0,0,0,0,0" }' "$T/raw.csv" >"$T/y.csv"
run_ok grad_st grad "$T/px.safetensors" --x "$T/x.csv" --y "$T/y.csv" --json
run_ok grad_json grad "$T/px.json" --x "$T/x.csv" --y "$T/y.csv" --json
check "grad on the safetensors model = grad on its JSON twin" cmp -s "$T/grad_st.out" "$T/grad_json.out"
loss=$(sed 's/.*"loss": \([-0-9.e]*\).*/\1/' "$T/grad_st.out")
want=$(sed 's/.*"loss": \([-0-9.e]*\).*/\1/' "$T/eval_raw.out")
check "grad's loss over the raw pixels = eval's ($loss, $want)" awk -v a="$loss" -v b="$want" \
    'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }'
run_ok explain_json explain "$T/px.json" --x "$T/x.csv" --y "$T/y.csv"
check "explain says the inputs are scaled" grep -q "The model scales its inputs first: x = x_given / 255" \
    "$T/explain_json.out"
refuses grad_nodata "no --x was given: give --x X.csv and --y Y.csv" grad "$T/px.safetensors"

# ---- a standardised CSV model: the same through JSON
awk 'BEGIN { print "a,b,y"; for (i = 0; i < 40; i++) printf "%d,%d,%.3f\n", i * 7 % 50, i * 3 % 17, (i * 7 % 50) * 0.1 - (i * 3 % 17) }' \
    >"$T/reg.csv"
run_ok train_csv train --arch 2-4-1 --regression --data "$T/reg.csv" --epochs 20 --quiet --save "$T/reg.safetensors"
run_ok conv_reg convert "$T/reg.safetensors" "$T/reg.json"
check "the JSON model has mean and std" grep -q '"mean": \[' "$T/reg.json"
run_ok eval_reg_st eval "$T/reg.safetensors" --data "$T/reg.csv" --regression --json
run_ok eval_reg_json eval "$T/reg.json" --data "$T/reg.csv" --regression --json
check "eval: the JSON model with its scaler = the safetensors model" cmp -s <(sed 's/reg.json/reg.safetensors/' \
    "$T/eval_reg_json.out") "$T/eval_reg_st.out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
