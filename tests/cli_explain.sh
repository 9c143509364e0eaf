#!/usr/bin/env bash
# cli_explain.sh - `backprop explain`: the derivation carries the true numbers,
# every format has its skeleton, --sample explains one sample, bad input exits 2.
# Run from the repository root: bash tests/cli_explain.sh /path/to/backprop
set -u
BP=${1:?usage: cli_explain.sh /path/to/backprop}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# has_num FILE VALUE: some number in FILE equals VALUE to 1e-6 relative
# (independent of how many digits or which layout the report uses).
has_num() {
    grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$1" |
        awk -v v="$2" 'function abs(a) { return a < 0 ? -a : a }
                       abs($1 - v) <= 1e-6 * abs(v) + 1e-12 { found = 1 } END { exit !found }'
}
expect_nums() { # FILE WHAT VALUE...
    local f=$1 what=$2; shift 2
    for v in "$@"; do has_num "$f" "$v" || fail "$what: $v not in the output"; done
}
expect_text() { grep -qF -- "$2" "$1" || fail "$3: '$2' not in the output"; }
# run NAME ARGS...: stdout to $T/NAME.out, stderr to $T/NAME.err, status to $rc
run() { local n=$1; shift; "$BP" "$@" >"$T/$n.out" 2>"$T/$n.err"; rc=$?; }
expect_ok() { [ "$rc" = 0 ] && [ ! -s "$T/$1.err" ] || fail "$1: exit $rc, stderr: $(head -c 300 "$T/$1.err")"; }
expect_bad() { # NAME: exit 2, nothing on stdout, one line "backprop: ..." on stderr
    [ "$rc" = 2 ] || fail "$1: exit $rc, expected 2"
    [ ! -s "$T/$1.out" ] || fail "$1: wrote to stdout on bad input"
    [ "$(wc -l <"$T/$1.err")" = 1 ] && grep -q '^backprop: ' "$T/$1.err" ||
        fail "$1: stderr is not one 'backprop: ...' line: $(cat "$T/$1.err")"
}

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
expect_ok text
expect_nums "$T/text.out" "q12 loss" 281.7000512
expect_nums "$T/text.out" "q12 yhat" 0.056749091 0.05714823 0.057223158
expect_nums "$T/text.out" "q12 dL/db2" -57.657759
expect_nums "$T/text.out" "q12 dL/dW1" -0.3865626 -0.68390552 -0.58037153 -1.0267961 -0.77389626 -1.3695813
expect_nums "$T/text.out" "q12 dL/dW2" -30.388171 -30.14025 -30.040986
expect_nums "$T/text.out" "q12 per-sample losses" 63.095235 119.746 98.858811
for s in 'g^[2a]' 'g^[2z]' 'g^[2W]' 'g^[2b]' 'g^[1a]' 'g^[1z]' 'g^[1W]' 'g^[1b]' 'g^[0a]' '⊙' 'a^[1] ⊙ (1 - a^[1])' '(3 x 2)'; do
    expect_text "$T/text.out" "$s" "q12 text"
done
# the forward pass comes before the backward pass, and the loss between them
awk '/Forward pass/ { f = NR } /^Loss/ { l = NR } /Backward pass/ { b = NR } END { exit !(f && f < l && l < b) }' \
    "$T/text.out" || fail "q12 text: sections not in the order forward, loss, backward"

run md explain "$Q12" --format markdown
expect_ok md
head -1 "$T/md.out" | grep -q '^# ' || fail "markdown: first line is not a '# ' heading"
for s in '## Forward pass' '## Backward pass' '$$' '\begin{bmatrix}' 'g^{[1W]}' '\odot'; do expect_text "$T/md.out" "$s" markdown; done
expect_nums "$T/md.out" "markdown numbers" -57.657759 -1.3695813

run tex explain "$Q12" --format latex
expect_ok tex
head -1 "$T/tex.out" | grep -q '^\\documentclass' || fail "latex: does not start with \\documentclass"
[ "$(tail -1 "$T/tex.out")" = '\end{document}' ] || fail "latex: does not end with \\end{document}"
for s in '\usepackage{amsmath}' '\begin{document}' '\begin{bmatrix}' 'MaxMatrixCols'; do expect_text "$T/tex.out" "$s" latex; done
[ "$(grep -c '\\begin{bmatrix}' "$T/tex.out")" = "$(grep -c '\\end{bmatrix}' "$T/tex.out")" ] || fail "latex: unbalanced bmatrix"
expect_nums "$T/tex.out" "latex numbers" -57.657759 -0.3865626
if command -v pdflatex >/dev/null 2>&1; then
    cp "$T/tex.out" "$T/q12doc.tex"
    (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error q12doc.tex >pdflatex.log 2>&1) ||
        fail "latex: pdflatex failed: $(grep -m3 '^!' "$T/pdflatex.log")"
fi

# ---- --sample: one sample alone (counting from 1), so m = 1
run s2 explain "$Q12" --sample 2
expect_ok s2
expect_text "$T/s2.out" "m = 1" "--sample 2"
expect_text "$T/s2.out" "sample 2 of 3" "--sample 2"
expect_nums "$T/s2.out" "--sample 2" 0.05714823 119.746 -21.885704
has_num "$T/s2.out" 281.7000512 && fail "--sample 2: the batch loss is shown"
has_num "$T/s2.out" 0.056749091 && fail "--sample 2: sample 1's output is shown"

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
expect_ok sm
expect_text "$T/sm.out" "(1/m) (ŷ - y)" "softmax+CE text"
expect_text "$T/sm.out" "δ_jk" "softmax+CE text (the full Jacobian)"
expect_text "$T/sm.out" "1[z^[1] > 0]" "relu derivative"
expect_nums "$T/sm.out" "softmax+CE loss and dL/dz = (yhat - y)/m" 1.1527892689712302 \
    0.20559911860467578 -0.32303919867099407 0.11744008006631831 -0.35914803964310626 0.17463697875948683
run smtex explain "$T/sm.json" --format latex
expect_ok smtex
expect_text "$T/smtex.out" '(\hat{y} - y)' "softmax+CE latex"
expect_text "$T/smtex.out" '\delta_{jk}' "softmax+CE latex"
if command -v pdflatex >/dev/null 2>&1; then
    cp "$T/smtex.out" "$T/smdoc.tex"
    (cd "$T" && pdflatex -interaction=nonstopmode -halt-on-error smdoc.tex >pdflatex.log 2>&1) ||
        fail "softmax latex: pdflatex failed: $(grep -m3 '^!' "$T/pdflatex.log")"
fi

# ---- sigmoid + binary cross-entropy
cat >"$T/bce.json" <<'EOF'
{"inputs": 1, "layers": [{"units": 1, "activation": "sigmoid", "W": [[2.0]], "b": [0.0]}],
 "loss": "bce", "reduction": "sum", "data": {"x": [[0.5]], "y": [[1]]}}
EOF
run bce explain "$T/bce.json"
expect_ok bce
expect_text "$T/bce.out" "ŷ(1 - ŷ)" "sigmoid+BCE"
# yhat = sigmoid(1) = 0.73105858; dL/dz = yhat - 1; loss = log(1 + e^-1)
expect_nums "$T/bce.out" "sigmoid+BCE" 0.7310585786300049 -0.2689414213699951 0.31326168751822286

# ---- bad input: exit 2, one line on stderr, nothing on stdout
run missing explain "$T/no-such-file.json"; expect_bad missing
grep -q 'no-such-file.json' "$T/missing.err" || fail "missing file: message does not name the file"
printf '{"inputs": 2,' >"$T/broken.json"
run broken explain "$T/broken.json"; expect_bad broken
grep -q 'broken.json' "$T/broken.err" || fail "broken JSON: message does not name the file"
run range explain "$Q12" --sample 4; expect_bad range
run zero explain "$Q12" --sample 0; expect_bad zero
run nan explain "$Q12" --sample two; expect_bad nan
run fmt explain "$Q12" --format pdf; expect_bad fmt
printf '{"inputs": 1, "layers": [{"units": 1, "activation": "linear", "W": [[1]], "b": [0]}], "loss": "squared"}' >"$T/nodata.json"
run nodata explain "$T/nodata.json"; expect_bad nodata
run noargs explain; expect_bad noargs

run help explain --help
[ "$rc" = 0 ] && grep -q -- '--sample' "$T/help.out" || fail "--help: exit $rc or no --sample in it"

if [ "$fails" = 0 ]; then echo "cli_explain: all checks passed"; else echo "cli_explain: $fails check(s) failed"; fi
[ "$fails" = 0 ]
