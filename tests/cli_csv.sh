#!/usr/bin/env bash
# cli_csv.sh - CSV as people have it: class labels that are names (setosa,
# virginica), kept in the model and shown by eval and predict; the label
# column by its header name; the delimiter detected (',', ';', tab) or given
# with --delimiter; quoted fields and CRLF line ends (RFC 4180); messages
# that say what is wrong; --x/--y of grad and explain read by the same reader
# (a header row, a column of class labels).
# Run from the repository root: bash tests/cli_csv.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# ---- 60 samples of 3 named classes, well apart (the features decide the class)
awk 'BEGIN {
    split("setosa versicolor virginica", name, " ")
    print "sepal length,sepal width,petal width,species"
    for (i = 0; i < 60; i++) {
        c = i % 3; j = int(i / 3)
        printf "%.2f,%.2f,%.2f,%s\n", c * 2 + (j % 5) * 0.1, 1 - c + (j % 4) * 0.1, c * 0.5 + (j % 3) * 0.05, name[c + 1]
    }
}' >"$T/iris.csv"
ARGS=(--arch 3-8-3 --epochs 60 --batch 10 --lr 0.1 --optimizer adam --quiet)

run_ok train train --data "$T/iris.csv" "${ARGS[@]}" --save "$T/iris.safetensors"
run_ok eval eval "$T/iris.safetensors" --data "$T/iris.csv"
has_text "$T/eval.out" "accuracy  1.0000 (60/60)"
has_text "$T/eval.out" "     0  setosa      1.0000  (20/20)"
has_text "$T/eval.out" "     2  virginica   1.0000  (20/20)"
run_ok eval_json eval "$T/iris.safetensors" --data "$T/iris.csv" --json
has_text "$T/eval_json.out" '"class_names": ["setosa", "versicolor", "virginica"]'
run_ok predict predict "$T/iris.safetensors" --data "$T/iris.csv"
check "predict: class, name, probability" [ "$(head -1 "$T/predict.out")" = "class,name,probability" ]
check "predict: the classes by number and name" [ "$(sed -n '2p;3p;4p' "$T/predict.out" | cut -d, -f1,2 | tr '\n' ' ')" = \
    "0,setosa 1,versicolor 2,virginica " ]
run_ok outputs predict "$T/iris.safetensors" --data "$T/iris.csv" --outputs
check "predict --outputs: columns named by class" [ "$(head -1 "$T/outputs.out")" = "setosa,versicolor,virginica" ]

# the names live in the model file, through convert both ways
run_ok tojson convert "$T/iris.safetensors" "$T/iris.json"
has_text "$T/iris.json" '"class_names": ["setosa", "versicolor", "virginica"]'
run_ok back convert "$T/iris.json" "$T/iris2.safetensors"
run_ok eval2 eval "$T/iris2.safetensors" --data "$T/iris.csv" --json
check "convert keeps the class names" cmp -s <(sed 's/iris2/iris/' "$T/eval2.out") "$T/eval_json.out"
run_ok savejson train --data "$T/iris.csv" "${ARGS[@]}" --save "$T/direct.json"
has_text "$T/direct.json" '"class_names": ["setosa", "versicolor", "virginica"]'

# labels as numbers still work with a named model; names the model lacks do not
sed '1d; s/setosa$/0/; s/versicolor$/1/; s/virginica$/2/' "$T/iris.csv" >"$T/numbered.csv"
run_ok eval_num eval "$T/iris.safetensors" --data "$T/numbered.csv"
has_text "$T/eval_num.out" "     1  versicolor  1.0000  (20/20)"
sed 's/virginica$/virginia/' "$T/iris.csv" >"$T/typo.csv"
refuses typo "typo.csv:4:17: field 4: class 'virginia' is not one of the model's (setosa, versicolor, virginica)" \
    eval "$T/iris.safetensors" --data "$T/typo.csv"
run_ok train_num train --data "$T/numbered.csv" "${ARGS[@]}" --save "$T/num.safetensors"
refuses nonames "iris.csv: the labels are class names, but the model has none" \
    eval "$T/num.safetensors" --data "$T/iris.csv"
run_ok pred_num predict "$T/num.safetensors" --data "$T/iris.csv"
check "predict on a model without names: class,probability" [ "$(head -1 "$T/pred_num.out")" = "class,probability" ]

# ---- the label column by name; other delimiters; quoting; CRLF
awk -F, 'NR == 1 { print $4 ";" $1 ";" $2 ";" $3; next } { print $4 ";" $1 ";" $2 ";" $3 }' "$T/iris.csv" >"$T/semi.csv"
run_ok eval_semi eval "$T/iris.safetensors" --data "$T/semi.csv" --label-col species
has_text "$T/eval_semi.out" "accuracy  1.0000 (60/60)"
run_ok eval_semi1 eval "$T/iris.safetensors" --data "$T/semi.csv" --label-col 1 --delimiter ';'
has_text "$T/eval_semi1.out" "accuracy  1.0000 (60/60)"
refuses nocol "semi.csv:1: no column named 'kind' in the header (its columns: species, sepal length, sepal width," \
    eval "$T/iris.safetensors" --data "$T/semi.csv" --label-col kind
refuses wrongdelim "semi.csv:1: one field per row, so no feature columns: are the fields separated by ','" \
    eval "$T/iris.safetensors" --data "$T/semi.csv" --delimiter ,
refuses baddelim "--delimiter: expected ',', ';', tab or auto, got '|'" \
    eval "$T/iris.safetensors" --data "$T/semi.csv" --delimiter '|'
tr ',' '\t' <"$T/iris.csv" >"$T/iris.tsv"
run_ok eval_tab eval "$T/iris.safetensors" --data "$T/iris.tsv" --delimiter tab
has_text "$T/eval_tab.out" "accuracy  1.0000 (60/60)"
run_ok eval_tab_auto eval "$T/iris.safetensors" --data "$T/iris.tsv"
has_text "$T/eval_tab_auto.out" "accuracy  1.0000 (60/60)"
run_ok pred_semi predict "$T/iris.safetensors" --data "$T/semi.csv" --label-col species
check "predict leaves out a label column of names" cmp -s "$T/pred_semi.out" "$T/predict.out"

# quoted fields (a delimiter and a quote inside), CRLF line ends
awk -F, 'NR == 1 { printf "\"length, sepal\",\"width \"\"cm\"\"\",petal,class\r\n"; next }
         { n = $4 == "setosa" ? "\"Iris, setosa\"" : $4 == "versicolor" ? "\"Iris \"\"versi\"\"\"" : "virginica"
           printf "%s,\"%s\",%s,%s\r\n", $1, $2, $3, n }' "$T/iris.csv" >"$T/quoted.csv"
run_ok train_q train --data "$T/quoted.csv" "${ARGS[@]}" --save "$T/q.safetensors"
run_ok eval_q eval "$T/q.safetensors" --data "$T/quoted.csv" --json
has_text "$T/eval_q.out" '"class_names": ["Iris \"versi\"", "Iris, setosa", "virginica"]'
run_ok pred_q predict "$T/q.safetensors" --data "$T/quoted.csv"
has_text "$T/pred_q.out" '1,"Iris, setosa",'
has_text "$T/pred_q.out" '0,"Iris ""versi""",'
printf '1,2,0\n3,"4,0\n' >"$T/open.csv"
refuses openquote "open.csv:2:3: field 2: the quote that opens it is never closed" \
    train --data "$T/open.csv" --arch 2-2 --quiet
printf 'a,b,c\n1,2,cat\n3,4,"two\nlines"\n' >"$T/twolines.csv"
refuses twolines "twolines.csv:3:5: field 3: the class name 'two lines' holds a line break" \
    train --data "$T/twolines.csv" --arch 2-2 --quiet

# ---- two named classes on one sigmoid unit
awk -F, 'NR == 1 { print; next } $4 != "virginica" { print }' "$T/iris.csv" >"$T/two.csv"
run_ok train2 train --data "$T/two.csv" --arch 3-4-1 --output sigmoid --loss bce --epochs 60 --batch 10 --lr 0.1 \
    --optimizer adam --quiet --save "$T/two.safetensors"
run_ok pred2 predict "$T/two.safetensors" --data "$T/two.csv"
check "one sigmoid unit: its two classes named" [ "$(sed -n '2p;3p' "$T/pred2.out" | cut -d, -f1,2 | tr '\n' ' ')" = \
    "0,setosa 1,versicolor " ]
run_ok out2 predict "$T/two.safetensors" --data "$T/two.csv" --outputs
check "one sigmoid unit: its output is class 1's" [ "$(head -1 "$T/out2.out")" = "versicolor" ]

# ---- messages that say what is wrong
awk 'BEGIN { print "a,b,y"; for (i = 0; i < 10; i++) printf "%d,%d,%.2f\n", i, 2 * i, i * 0.37 }' >"$T/reg.csv"
refuses regression "reg.csv:3:5: field 3: expected a class label (an integer >= 0, or a name), got '0.37'; if the targets are numbers to predict, use --regression" \
    train --data "$T/reg.csv" --arch 2-1 --quiet
refuses wrongarch "iris.csv: the data has 3 classes, the network 2 outputs" \
    train --data "$T/iris.csv" --arch 3-2 --quiet

# ---- --x / --y of grad and explain: a header row, class labels for y
head -4 "$T/numbered.csv" | cut -d, -f1-3 >"$T/x_plain.csv"
{ echo "sepal length,sepal width,petal width"; cat "$T/x_plain.csv"; } >"$T/x_head.csv"
head -4 "$T/numbered.csv" | cut -d, -f4 >"$T/y_labels.csv"
{ echo "species"; cat "$T/y_labels.csv"; } >"$T/y_head.csv"
awk '{ print ($1 == 0) "," ($1 == 1) "," ($1 == 2) }' "$T/y_labels.csv" >"$T/y_onehot.csv"
run_ok grad_plain grad "$T/num.safetensors" --x "$T/x_plain.csv" --y "$T/y_onehot.csv" --json
run_ok grad_head grad "$T/num.safetensors" --x "$T/x_head.csv" --y "$T/y_head.csv" --json
check "grad: a header row and class labels give the gradients of one-hot y" cmp -s "$T/grad_plain.out" "$T/grad_head.out"
run_ok explain_lab explain "$T/num.safetensors" --x "$T/x_head.csv" --y "$T/y_labels.csv" --sample 2
check "explain: the label 1 as the one-hot y of sample 2" [ "$(grep -A1 '^    y    (1 x 3)' "$T/explain_lab.out" | tail -1 | tr -s ' ')" = " 0 1 0" ]
printf '0\n3\n1\n2\n' >"$T/y_bad.csv"
refuses ylabel "y_bad.csv: row 2: 3 is not a class label 0..2" \
    grad "$T/num.safetensors" --x "$T/x_plain.csv" --y "$T/y_bad.csv"
printf 'setosa\nvirginica\nsetosa\nversicolor\n' >"$T/y_names.csv"
refuses ynames "y holds numbers: the class labels 0..2 (0 is setosa, 1 is versicolor, ...)" \
    grad "$T/iris.safetensors" --x "$T/x_plain.csv" --y "$T/y_names.csv"
printf '1,2,x\n' >"$T/x_typo.csv"
refuses xtypo "x_typo.csv:1:5: field 3: expected a finite number, got 'x'" \
    grad "$T/num.safetensors" --x "$T/x_typo.csv" --y "$T/y_onehot.csv"
head -2 "$T/y_labels.csv" >"$T/y_two.csv"
refuses xrows "y has 2 rows, x has 4" grad "$T/num.safetensors" --x "$T/x_plain.csv" --y "$T/y_two.csv"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
