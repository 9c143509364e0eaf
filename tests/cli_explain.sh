#!/usr/bin/env bash
# cli_explain.sh - `backprop explain`: the derivation carries the true numbers,
# every format has its skeleton, --sample explains one sample, bad input exits 2.
# Run from the repository root: bash tests/cli_explain.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# ---- q12: CS577 assignment 2, question 12 (2-3-1, sigmoid hidden, linear out, squared, sum)
Q12=examples/q12.json
if [ ! -f "$Q12" ]; then
    Q12=$T/q12.json
    cat >"$Q12" <<'EOF'
{"inputs": 2, "weight_layout": "out_in",
 "layers": [{"units": 3, "activation": "sigmoid", "bias": true,
             "W": [[0.02, 0.03], [0.01, 0.02], [0.03, 0.01]], "b": [0.01, 0.03, 0.02]},
            {"units": 1, "activation": "linear", "bias": true, "W": [[0.02, 0.03, 0.04]], "b": [0.01]}],
 "loss": "squared", "reduction": "sum",
 "data": {"x": [[1, 2], [1, 3], [2, 2]], "y": [[8], [11], [10]]}}
EOF
fi

run text explain "$Q12"
expect_clean text
has_num "$T/text.out" 281.7000512  # q12 loss
has_num "$T/text.out" 0.056749091 0.05714823 0.057223158  # q12 yhat
has_num "$T/text.out" -57.657759  # q12 dL/db2
has_num "$T/text.out" -0.3865626 -0.68390552 -0.58037153 -1.0267961 -0.77389626 -1.3695813  # q12 dL/dW1
has_num "$T/text.out" -30.388171 -30.14025 -30.040986  # q12 dL/dW2
has_num "$T/text.out" 63.095235 119.746 98.858811  # q12 per-sample losses
for s in 'g^[2a]' 'g^[2z]' 'g^[2W]' 'g^[2b]' 'g^[1a]' 'g^[1z]' 'g^[1W]' 'g^[1b]' 'g^[0a]' '⊙' 'a^[1] ⊙ (1 - a^[1])' '(3 x 2)'; do
    has_text "$T/text.out" "$s"
done
# the forward pass comes before the backward pass, and the loss between them
awk '/Forward pass/ { f = NR } /^Loss/ { l = NR } /Backward pass/ { b = NR } END { exit !(f && f < l && l < b) }' \
    "$T/text.out" && ok || bad "q12 text: sections not in the order forward, loss, backward"

run md explain "$Q12" --format markdown
expect_clean md
head -1 "$T/md.out" | grep -q '^# ' && ok || bad "markdown: first line is not a '# ' heading"
for s in '## Forward pass' '## Backward pass' '$$' '\begin{bmatrix}' 'g^{[1W]}' '\odot'; do has_text "$T/md.out" "$s"; done
has_num "$T/md.out" -57.657759 -1.3695813  # markdown numbers

run tex explain "$Q12" --format latex
expect_clean tex
head -1 "$T/tex.out" | grep -q '^\\documentclass' && ok || bad "latex: does not start with \\documentclass"
[ "$(tail -1 "$T/tex.out")" = '\end{document}' ] && ok || bad "latex: does not end with \\end{document}"
for s in '\usepackage{amsmath}' '\begin{document}' '\begin{bmatrix}' 'MaxMatrixCols'; do has_text "$T/tex.out" "$s"; done
[ "$(grep -c '\\begin{bmatrix}' "$T/tex.out")" = "$(grep -c '\\end{bmatrix}' "$T/tex.out")" ] && ok || bad "latex: unbalanced bmatrix"
has_num "$T/tex.out" -57.657759 -0.3865626  # latex numbers
if command -v pdflatex >/dev/null 2>&1; then
    cp "$T/tex.out" "$T/q12doc.tex"
    (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error q12doc.tex >pdflatex.log 2>&1) && ok ||
        bad "latex: pdflatex failed: $(grep -m3 '^!' "$T/pdflatex.log")"
fi

# ---- --sample: one sample alone (counting from 1), so m = 1
run s2 explain "$Q12" --sample 2
expect_clean s2
has_text "$T/s2.out" "m = 1"
has_text "$T/s2.out" "sample 2 of 3"
has_num "$T/s2.out" 0.05714823 119.746 -21.885704  # --sample 2
num_in "$T/s2.out" 281.7000512 && bad "--sample 2: the batch loss is shown" || ok
num_in "$T/s2.out" 0.056749091 && bad "--sample 2: sample 1's output is shown" || ok

# ---- softmax + cross-entropy (mean over 2 samples): the derivation of yhat - y
cat >"$T/sm.json" <<'EOF'
{"inputs": 2, "weight_layout": "in_out",
 "layers": [{"units": 3, "activation": "relu", "W": [[0.5, -0.3, 0.2], [0.1, 0.4, -0.6]], "b": [0.1, 0.0, -0.1]},
            {"units": 3, "activation": "softmax", "W": [[0.3, -0.2, 0.1], [0.2, 0.5, -0.4], [-0.1, 0.3, 0.6]],
             "b": [0.0, 0.1, -0.1]}],
 "loss": "cross_entropy", "reduction": "mean",
 "data": {"x": [[1.0, 2.0], [0.5, -1.0]], "y": [[0, 1, 0], [1, 0, 0]]}}
EOF
run sm explain "$T/sm.json"
expect_clean sm
has_text "$T/sm.out" "(1/m) (ŷ - y)"
has_text "$T/sm.out" "δ_jk"
has_text "$T/sm.out" "1[z^[1] > 0]"
has_num "$T/sm.out" 1.1527892689712302 \
    0.20559911860467578 -0.32303919867099407 0.11744008006631831 -0.35914803964310626 0.17463697875948683
run smtex explain "$T/sm.json" --format latex
expect_clean smtex
has_text "$T/smtex.out" '(\hat{y} - y)'
has_text "$T/smtex.out" '\delta_{jk}'
if command -v pdflatex >/dev/null 2>&1; then
    cp "$T/smtex.out" "$T/smdoc.tex"
    (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error smdoc.tex >pdflatex.log 2>&1) && ok ||
        bad "softmax latex: pdflatex failed: $(grep -m3 '^!' "$T/pdflatex.log")"
fi

# ---- sigmoid + binary cross-entropy
cat >"$T/bce.json" <<'EOF'
{"inputs": 1, "layers": [{"units": 1, "activation": "sigmoid", "W": [[2.0]], "b": [0.0]}],
 "loss": "bce", "reduction": "sum", "data": {"x": [[0.5]], "y": [[1]]}}
EOF
run bce explain "$T/bce.json"
expect_clean bce
has_text "$T/bce.out" "ŷ(1 - ŷ)"
# yhat = sigmoid(1) = 0.73105858; dL/dz = yhat - 1; loss = log(1 + e^-1)
has_num "$T/bce.out" 0.7310585786300049 -0.2689414213699951 0.31326168751822286  # sigmoid+BCE

# ---- bad input: exit 2, one line on stderr, nothing on stdout
run missing explain "$T/no-such-file.json"; expect_refused missing
grep -q 'no-such-file.json' "$T/missing.err" && ok || bad "missing file: message does not name the file"
printf '{"inputs": 2,' >"$T/broken.json"
run broken explain "$T/broken.json"; expect_refused broken
grep -q 'broken.json' "$T/broken.err" && ok || bad "broken JSON: message does not name the file"
run range explain "$Q12" --sample 4; expect_refused range
run zero explain "$Q12" --sample 0; expect_refused zero
run nan explain "$Q12" --sample two; expect_refused nan
run fmt explain "$Q12" --format pdf; expect_refused fmt
printf '{"inputs": 1, "layers": [{"units": 1, "activation": "linear", "W": [[1]], "b": [0]}], "loss": "squared"}' >"$T/nodata.json"
run nodata explain "$T/nodata.json"; expect_refused nodata
run noargs explain; expect_refused noargs

run help explain --help
[ "$rc" = 0 ] && grep -q -- '--sample' "$T/help.out" && ok || bad "--help: exit $rc or no --sample in it"

# ---- a LaTeX document of any width compiles (rows of 30 and 784 short entries), when pdflatex is here
if command -v pdflatex >/dev/null; then
    for n in 30 784; do
        zeros=$(awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "%s0", i ? "," : "" }')
        printf '{"inputs": %d, "layers": [{"units": 8, "activation": "relu"}, {"units": 3, "activation": "softmax"}],
"loss": "cross_entropy", "init": "he", "seed": 1, "data": {"x": [[%s]], "y": [[1, 0, 0]]}}\n' "$n" "$zeros" >"$T/w$n.json"
        run_ok "tex$n" explain "$T/w$n.json" --format latex --out "$T/w$n.tex"
        (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error "w$n.tex" >"w$n.pdflog" 2>&1)
        check "pdflatex compiles the derivation of a $n-input network" [ -s "$T/w$n.pdf" ]
    done
else
    echo "skip: pdflatex is not installed, so the LaTeX documents are not compiled"
fi
finish
