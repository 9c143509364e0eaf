#!/bin/bash
# cli_check.sh - `backprop check` end to end: exit status 0 (all right), 1
# (wrong or shape), 2 (bad input: one "backprop: ..." line first on stderr,
# nothing on stdout); formulas on the command line and in a --formulas file,
# in ASCII and LaTeX; the JSON object; --jacobian.
# Usage: bash tests/cli_check.sh /path/to/backprop   (from the repository root)
. "$(dirname "$0")/testlib.sh"

# status RC TEXT ARGS...: exit status RC, stdout contains TEXT, stderr empty
status() {
    local want=$1 text=$2; shift 2
    "$BP" check "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ $rc -eq "$want" ] && grep -qF -- "$text" "$T/out" && [ ! -s "$T/err" ]; then ok
    else bad "check $*: rc $rc (wanted $want), no '$text' in: $(head -c 1500 "$T/out") $(cat "$T/err")"; fi
}

# fails MESSAGE ARGS...: exit 2, nothing on stdout, first stderr line "backprop: ..." containing MESSAGE
fails() {
    local want=$1; shift
    "$BP" check "$@" >"$T/out" 2>"$T/err"; local rc=$?
    local first=""; read -r first <"$T/err"
    if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && [[ "$first" == "backprop: "* ]] && [[ "$first" == *"$want"* ]]; then ok
    else bad "check $*: rc $rc, stdout '$(<"$T/out")', stderr '$(<"$T/err")', wanted '$want'"; fi
}

Q=examples/q12.json
N=examples/backprop_notes_4321.json
H=examples/hw_backprop_relu_single.json

# --- verdicts and exit status -------------------------------------------------------
status 0 "right: at the file's values and at 10 redraws" $Q 'dL_dW[2] = dL_dz[2] @ a[1]^T' 'z[1] = W[1] @ x + b[1]'
status 0 "2 of 2 formulas right (the file's values and 10 redraws, seed 1)" $Q 'dL_dW[2] = dL_dz[2] @ a[1]^T' 'z[1] = W[1] @ x + b[1]'
status 1 "likely slip: every entry has the wrong sign" $Q 'dL_dyhat = 2*(y - yhat)'
status 1 "WRONG at the file's values: entry [0][0] is 15.886502, the true value -15.886502" $Q 'dL_dyhat = 2*(y - yhat)'
status 1 "SHAPE: yours is 1x2, the true one 1x1" $N 'z^{[3]} = a^{[2]} W^{[3]} + b^{[2]}'
status 1 "SHAPE: @: 3x3 @ 2x3: inner sizes 3 and 2 differ at column 21" $Q 'dL_dW[1] = dL_dz[1] @ x'
status 1 "why it hid: at your values every z[2] > 0" $H --samples rows 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]'
status 1 "WRONG at redraw" $H --samples rows 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]'
status 0 "right at the file's values" $H --samples rows --redraws 0 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]'
status 0 "right" $N "g^{[2z]} = g'(z^{[2]}) \\circ g^{[2a]}" 'g^{[2W]} = (a^{[1]})^T \cdot g^{[2z]}'
status 1 "read as elementwise: 2x1 and 2x1" examples/sigmoid_bce_mean.json \
    '\frac{\partial J}{\partial w^{(2)}} = \frac{1}{m}\sum_{i=1}^m (a^{(3)} - y^{(i)}) w^{(3)T} a^{(2)} (1 - a^{(2)}) a^{(1)T}' \
    'dL_dyhat = yhat - y'
# a chain checks each part against the first
status 1 "dL_db[2] = rowsum(dL_dz[2])" $Q 'dL_db[2] = rowsum(2*(y - yhat)) = rowsum(dL_dz[2])'
# the same seed, the same draws
"$BP" check $H --samples rows --seed 5 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]' >"$T/a"
"$BP" check $H --samples rows --seed 5 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]' >"$T/b"
cmp -s "$T/a" "$T/b" && grep -q "seed 5" "$T/a" && ok || bad "--seed: two runs differ"

# --- JSON -----------------------------------------------------------------------------
"$BP" check $Q --json 'dL_dW[2] = dL_dz[2] @ a[1]^T' 'z^{[1]} = W^{[1]} x + b^{[1]}' >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ "$(cat "$T/out")" = '{"formulas": [{"line": 1, "formula": "dL_dW[2] = dL_dz[2] @ a[1]^T", "verdict": "right", "at": null, "entry": null, "yours": null, "true": null, "hint": null}, {"line": 2, "formula": "z^{[1]} = W^{[1]} x + b^{[1]}", "verdict": "right", "at": null, "entry": null, "yours": null, "true": null, "hint": null}]}' ] \
    && ok || bad "--json right: $(cat "$T/out" "$T/err")"
"$BP" check $Q --json 'dL_dyhat = 2*(y - yhat)' >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -qF '"verdict": "wrong", "at": "file", "entry": [0, 0], "yours": 15.88650181' "$T/out" \
    && grep -qF '"hint": "every entry has the wrong sign"}]}' "$T/out" && [ "$(wc -l <"$T/out")" = 1 ] \
    && ok || bad "--json wrong: $(cat "$T/out" "$T/err")"
"$BP" check $H --json --samples rows 'dL_dW[2] = (delta[3] * W[3])^T @ a[1]' >"$T/out"
grep -qE '"verdict": "wrong", "at": "redraw [0-9]+", "entry": \[[0-9], [0-9]\]' "$T/out" && ok || bad "--json redraw: $(cat "$T/out")"
"$BP" check $N --json 'z^{[3]} = a^{[2]} W^{[3]} + b^{[2]}' >"$T/out"
grep -qF '"verdict": "shape", "at": null, "entry": null, "yours": null, "true": null, "hint": "yours is 1x2, the true one 1x1"' "$T/out" \
    && ok || bad "--json shape: $(cat "$T/out")"

# --- --formulas FILE --------------------------------------------------------------------
cat >"$T/f.txt" <<'EOF'
# the output layer of CS577 Assignment 2, question 12

dL_dyhat = 2*(yhat - y)
% and in LaTeX
\frac{\partial L}{\partial W^{[2]}} = \frac{\partial L}{\partial z^{[2]}} a^{[1]T}
  dL_dyhat = 2*(y - yhat)
EOF
status 1 "6   dL_dyhat = 2*(y - yhat)" $Q --formulas "$T/f.txt"
status 1 "2 of 3 formulas right" $Q --formulas "$T/f.txt"
"$BP" check $Q --formulas "$T/f.txt" --json >"$T/out"
grep -qF '[{"line": 3, ' "$T/out" && grep -qF '{"line": 5, ' "$T/out" && grep -qF '{"line": 6, ' "$T/out" && ok || bad "--formulas lines: $(cat "$T/out")"
printf 'dL_dyhat = 2*(yhat - y)\r\nz[1] = W[1] @ x + b[1]\r\n' >"$T/crlf.txt"
status 0 "2 of 2 formulas right" $Q --formulas "$T/crlf.txt"
status 0 "3 of 3 formulas right" $Q 'm = 3' --formulas "$T/crlf.txt"
printf 'dL_dyhat = 2*(yhat - y)\n\n  dL_dW[2] = dL_dz[2] @ q\n' >"$T/bad.txt"
fails "$T/bad.txt:3:25: unknown name 'q'" $Q --formulas "$T/bad.txt"
"$BP" check $Q --formulas "$T/bad.txt" 2>&1 >/dev/null | sed -n 3p | grep -qx "$(printf '%26s' '')^" && ok || bad "caret under the unknown name"
printf '# nothing\n\n' >"$T/empty.txt"
fails "no formulas" $Q --formulas "$T/empty.txt"
fails "$T/none.txt" $Q --formulas "$T/none.txt"

# --- the derivations of examples/check/: the right forms right, the notes' slips not (test_check.c
# checks each formula's verdict; here the files docs/check.md shows keep their counts)
for f in q12:8:14:7:12 backprop_notes_4321:15:19:18:21 softmax_ce_nobias:7:10:5:8 sigmoid_bce_mean:4:8:3:7; do
    IFS=: read -r n r1 t1 r2 t2 <<<"$f"
    status 1 "$r1 of $t1 formulas right" examples/$n.json --formulas examples/check/$n.txt
    status 1 "$r2 of $t2 formulas right" examples/$n.json --formulas examples/check/$n.tex
done
status 1 "8 of 13 formulas right" $H --samples rows --formulas examples/check/hw_backprop_relu_single.txt
status 1 "9 of 11 formulas right" $H --samples rows --formulas examples/check/hw_backprop_relu_single.tex
status 1 "6 of 9 formulas right" examples/hw_backprop_relu_batch.json --samples rows --formulas examples/check/hw_backprop_relu_batch.txt
status 1 "6 of 7 formulas right" examples/hw_backprop_relu_batch.json --samples rows --formulas examples/check/hw_backprop_relu_batch.tex

# --- bad formulas: one line, nothing on stdout, exit 2 ---------------------------------
fails "formula 1, column 12: unknown name 'q'" $Q 'dL_dW[2] = q @ a[1]^T'
fails "'dL_dW[3]': the network has layers 1 to 2" $Q 'dL_dW[3] = dL_dz[2]'
fails "'a[5]': the network has layers 1 to 2" $Q 'a[5] = x'
fails "formula 2, column 18: expected a number" $Q 'z[1] = W[1] @ x + b[1]' 'z[1] = W[1] @ x +'
fails "no '='" $Q 'dL_dW[2]'
fails "\\nabla is not understood; write the gradient as \\frac{\\partial L}{\\partial W^{[l]}}" $Q '\nabla_W L = x'
fails "\\oint is not understood" $Q 'z^{[1]} = \oint x'
fails "layer 1 has no bias" $H 'b[1] = 0'
fails "a softmax, whose derivative is a Jacobian" examples/softmax_ce_nobias.json "dL_dz[3] = g'(z[3]) * dL_da[3]"
fails "unexpected character" $Q 'z[1] = W[1] @ x # b[1]'
# the caret under the place
"$BP" check $Q 'dL_dW[2] = q @ a[1]^T' 2>&1 >/dev/null | sed -n 3p | grep -qx "             ^" && ok || bad "caret under q"

# --- options ---------------------------------------------------------------------------
fails "no formulas" $Q
fails "expected a model file" 
fails "--redraws: expected 0..100000" $Q --redraws -1 'm = 3'
fails "--samples: expected rows or columns" $Q --samples diagonal 'm = 3'
fails "--jacobian needs --wrt" $Q --jacobian 'a[1]'
fails "--wrt goes with --jacobian" $Q --wrt 'W[1]' 'm = 3'
fails "--jacobian takes no formulas" $Q --jacobian 'a[1]' --wrt 'W[1]' 'm = 3'
fails "check: unknown option" $Q --frobnicate 'm = 3'
printf '{"inputs": 1, "layers": [{"units": 1, "activation": "sigmoid", "W": [[0.5]], "b": [0]}], "loss": "bce"}\n' >"$T/nodata.json"
fails "no data" "$T/nodata.json" 'm = 3'
"$BP" check --help | grep -q "usage: backprop check" && ok || bad "--help"
[ "$("$BP" check --help | sed -n '/^examples/,/^exit/p' | grep -c '^  backprop check')" = 3 ] && ok || bad "--help: three examples"
"$BP" help check | grep -q "backprop check MODEL.json FORMULA" && ok || bad "help check"

# --- --jacobian ---------------------------------------------------------------------------
# HW Backprop 1.9: dh^2_11/dW^2 = (z^2_11 >= 0) [h^1; 0], h^1 = [0.2, 0, 1.05]
"$BP" check $H --samples rows --jacobian 'a[2]' --wrt 'W[2]' --json >"$T/out" 2>"$T/err"
grep -qE '^\{"of": "a\[2\]", "wrt": "W\[2\]", "sample": 1, "jacobian": \[\[\[0\.(2|19999999999999998), 0, 1\.05\], \[0, 0, 0\]\], \[\[0, 0, 0\], \[0\.(2|19999999999999998), 0, 1\.05\]\]\]\}$' "$T/out" \
    && ok || bad "--jacobian --json: $(cat "$T/out" "$T/err")"
status 0 "unit 2 of a[2]" $H --jacobian 'a^{[2]}' --wrt 'W^{[2]}'
status 0 "d a[2] / d W[2] for sample 2" examples/hw_backprop_relu_batch.json --jacobian 'a[2]' --wrt 'W[2]' --sample 2
fails "--sample 3: the data has 2 samples" examples/hw_backprop_relu_batch.json --jacobian 'a[2]' --wrt 'W[2]' --sample 3
fails "a[1] does not depend on W[2]" $H --jacobian 'a[1]' --wrt 'W[2]'
fails "--jacobian: expected z[l], a[l] or yhat" $H --jacobian 'dL_dW[1]' --wrt 'W[1]'
fails "--sample goes with --jacobian" $H --sample 1 'm = 1'

# --- the convention at kinks: z[1] = [0, 1] at the file's values -----------------------
cat >"$T/kink.json" <<'EOF'
{"inputs": 2, "weight_layout": "out_in", "layers": [
  {"units": 2, "activation": "relu", "W": [[1, -1], [0.5, 0.5]], "b": [0, 0]},
  {"units": 1, "activation": "linear", "W": [[1, 2]], "b": [0]}],
 "loss": "half_squared", "reduction": "sum", "data": {"x": [[1, 1]], "y": [[0]]}}
EOF
R="dL_dz[1] = (W[2]^T @ dL_dz[2]) * relu'(z[1])"
status 0 "2 of 2 formulas right" "$T/kink.json" "$R" 'dL_dz[1] = (W[2]^T @ dL_dz[2]) * (z[1] > 0)'
status 0 "1 of 1 formula right" "$T/kink.json" --relu-grad-at-zero 1 "$R"
status 1 "entry [0][0] is 0, the true value 2" "$T/kink.json" --relu-grad-at-zero 1 'dL_dz[1] = (W[2]^T @ dL_dz[2]) * (z[1] > 0)'
status 0 "1 of 1 formula right" "$T/kink.json" --relu-grad-at-zero 1 'dL_dz[1] = (W[2]^T @ dL_dz[2]) * (z[1] >= 0)'
fails "--relu-grad-at-zero: expected 0" "$T/kink.json" --relu-grad-at-zero 2 "$R"
fails "--tie" "$T/kink.json" --tie both "$R"

finish
