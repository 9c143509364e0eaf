#!/bin/bash
# cli_expr.sh - `backprop expr` end to end: questions 10 and 13 of CS577
# Assignment 2 (values checked in --json output), steps, chain rule, DOT/SVG,
# and bad input (exit 2, one "backprop: ..." line first on stderr, nothing on
# stdout).
# Usage: bash tests/cli_expr.sh /path/to/backprop   (from the repository root)
. "$(dirname "$0")/testlib.sh"

# json EXPECTED ARGS...: stdout equals EXPECTED exactly, exit 0
json() {
    local want=$1; shift
    local got; got=$("$BP" expr --json "$@" 2>"$T/err"); local rc=$?
    if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ ! -s "$T/err" ]; then ok
    else bad "expr $* --json: rc $rc, got '$got', wanted '$want', stderr: $(cat "$T/err")"; fi
}

# contains TEXT ARGS...: exit 0 and stdout contains TEXT
contains() {
    local want=$1; shift
    "$BP" expr "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ $rc -eq 0 ] && grep -qF -- "$want" "$T/out"; then ok
    else bad "expr $*: rc $rc, no '$want' in: $(head -c 2000 "$T/out") $(cat "$T/err")"; fi
}

# fails MESSAGE ARGS...: exit 2, nothing on stdout, first stderr line "backprop: ..." containing MESSAGE
# (bash builtins only: one test runs with an empty PATH)
fails() {
    local want=$1; shift
    "$BP" expr "$@" >"$T/out" 2>"$T/err"; local rc=$?
    local first=""; read -r first <"$T/err"
    if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && [[ "$first" == "backprop: "* ]] && [[ "$first" == *"$want"* ]]; then ok
    else bad "expr $*: rc $rc, stdout '$(<"$T/out")', stderr '$(<"$T/err")', wanted '$want'"; fi
}

# --- CS577 Assignment 2, questions 13 and 10: true values ---------------------
# 13a: f = (2x+3y)^2 at (1,2): 64, gradient [4(2x+3y), 6(2x+3y)] = [32, 48]
json '{"variables": ["x", "y"], "value": 64, "gradient": [32, 48]}' "(2*x + 3*y)^2" --at x=1,y=2
json '{"variables": ["y", "x"], "value": 64, "gradient": [48, 32]}' "(2*x + 3*y)^2" --at x=1,y=2 --wrt y,x
json '{"variables": ["y"], "value": 64, "gradient": [48]}' "(2*x + 3*y)^2" --at x=1 --at y=2 --wrt y
# 13b: F = [x^2+2y, 3x+4y^2], J = [[2x, 2], [3, 8y]]
json '{"variables": ["x", "y"], "value": [5, 19], "jacobian": [[2, 2], [3, 16]]}' "[x^2 + 2*y, 3*x + 4*y^2]" --at x=1,y=2
# 13c: F(G(x)), G = [x, x^2]: [3x^2, 3x+4x^4], J = [6x, 3+16x^3]
json '{"variables": ["x"], "value": [12, 70], "jacobian": [[12], [131]]}' \
    "G(x) = [x, x^2]; F(x,y) = [x^2 + 2*y, 3*x + 4*y^2]; F(G(x))" --at x=2
# 10: F(c,d,e) = [3cd, d-e] o G(a,b) = [a-5b, ab, a-b]: J = [[6ab-15b^2, 3a^2-30ab], [b-1, a+1]]
CG="G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))"
json '{"variables": ["a", "b"], "value": [-18, 1], "jacobian": [[-3, -48], [0, 3]]}' "$CG" --at a=2,b=1
json '{"variables": ["a", "b"], "value": [-18, 1], "jacobian": [[-3, -48], [0, 3]], "chain": {"outer": "F", "parameters": ["c", "d", "e"], "inner_value": [-3, 2, 1], "jacobian_outer": [[6, -9, 0], [0, 1, -1]], "jacobian_inner": [[1, -5], [1, 2], [1, -1]], "product": [[-3, -48], [0, 3]]}}' "$CG" --at a=2,b=1 --chain
contains "same Jacobian: yes" "$CG" --at a=2,b=1 --chain
contains "J_F at G" "$CG" --at a=2,b=1 --chain
# gates
json '{"variables": ["x1", "x2"], "value": -1, "gradient": [1, 1]}' "x1 + x2" --at x1=3,x2=-4
json '{"variables": ["x1", "x2"], "value": -12, "gradient": [-4, 3]}' "x1 * x2" --at x1=3,x2=-4
json '{"variables": ["x1", "x2"], "value": 3, "gradient": [1, 0]}' "max(x1, x2)" --at x1=3,x2=-4
json '{"variables": ["x1", "x2"], "value": -4, "gradient": [0, 1]}' "min(x1, x2)" --at x1=3,x2=-4
json '{"variables": ["x1", "x2"], "value": 2, "gradient": [0.5, 0.5]}' "max(x1, x2)" --at x1=2,x2=2
json '{"variables": ["x"], "value": -4, "gradient": [-4]}' --at x=2 -- "-x^2"

# --- reports ----------------------------------------------------------------------
contains "gradient  d/dx = 32" "(2*x + 3*y)^2" --at x=1,y=2
contains "Jacobian  (rows: the 2 outputs; columns: x, y)" "[x^2 + 2*y, 3*x + 4*y^2]" --at x=1,y=2
contains "the winner takes the gradient" "max(x, y) * z" --at x=1,y=3,z=2 --steps
contains "product 16 x 2 = 32" "(2*x + 3*y)^2" --at x=1,y=2 --steps
contains "digraph expr {" "(2*x + 3*y)^2" --at x=1,y=2 --graph dot
"$BP" expr "(2*x + 3*y)^2" --at x=1,y=2 --graph dot --out "$T/g.dot" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "digraph expr" "$T/g.dot" && grep -q "value     64" "$T/out"; then ok; else bad "--graph dot --out"; fi
# (BP_TEST_EMULATED: under qemu-user a fork followed by exec never returns, in a
# six-line program too; scripts/cross-test-arm64.sh sets it)
if command -v dot >/dev/null && [ -z "${BP_TEST_EMULATED:-}" ]; then
    "$BP" expr "(2*x + 3*y)^2" --at x=1,y=2 --graph dot | dot -Tsvg >"$T/a.svg" && grep -q "<svg" "$T/a.svg" && ok || bad "dot -Tsvg of the DOT output"
    "$BP" expr "$CG" --at a=2,b=1 --graph svg --out "$T/b.svg" >/dev/null && grep -q "<svg" "$T/b.svg" && ok || bad "--graph svg --out"
    "$BP" expr "x*y" --at x=1,y=2 --graph svg | grep -q "<svg" && ok || bad "--graph svg to stdout"
fi
PATH=/nonexistent fails "apt-get install graphviz" "x*y" --at x=1,y=2 --graph svg
"$BP" expr --help | grep -q "usage: backprop expr" && ok || bad "--help"

# --graph without --out is the graph alone: other reports need --out
fails "--graph without --out writes only the graph to stdout: add --out FILE to get --steps" \
    "max(x, y) * z" --at x=1,y=2,z=3 --steps --graph dot
fails "add --out FILE to get --chain" "$CG" --at a=2,b=1 --chain --graph dot
fails "add --out FILE to get --json" "x" --at x=1 --json --graph svg
"$BP" expr "max(x, y) * z" --at x=1,y=2,z=3 --steps --graph dot --out "$T/m.dot" >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && grep -q "the winner takes the gradient" "$T/out" && grep -q "digraph expr" "$T/m.dot" \
    && ! grep -q "digraph" "$T/out"; then ok; else bad "--steps --graph dot --out"; fi

# --- --out is atomic: a failure leaves the old file, no temporary files ---------
mkdir "$T/at" "$T/bin"
echo old >"$T/at/g.dot"
"$BP" expr "x*y" --at x=1,y=2 --graph dot --out "$T/at/g.dot" >/dev/null 2>&1 && grep -q "digraph expr" "$T/at/g.dot" \
    && [ "$(ls "$T/at")" = "g.dot" ] && ok || bad "--graph dot --out replaces the file"
fails "--out: $T/nodir/g.dot: cannot write" "x*y" --at x=1,y=2 --graph dot --out "$T/nodir/g.dot"
# a `dot` that writes half a picture and fails
printf '#!/bin/sh\ncat >/dev/null\necho "<svg half"\nexit 1\n' >"$T/bin/dot"; chmod +x "$T/bin/dot"
echo old >"$T/at/g.svg"
if [ -z "${BP_TEST_EMULATED:-}" ]; then
    PATH="$T/bin:$PATH" fails "--graph svg: dot failed (exit status 1)" "x*y" --at x=1,y=2 --graph svg --out "$T/at/g.svg"
    [ "$(cat "$T/at/g.svg")" = old ] && [ "$(ls "$T/at" | tr '\n' ' ')" = "g.dot g.svg " ] && ok || bad "failed svg: $(ls "$T/at")"
fi

# --- long and deep expressions: no stack overflow, even with a 1 MB stack ------
long=$(printf 'x+%.0s' {1..59999})x
(ulimit -s 1024; "$BP" expr "$long" --at x=1 --json) >"$T/out" 2>"$T/err"
[ "$(cat "$T/out")" = '{"variables": ["x"], "value": 60000, "gradient": [60000]}' ] && ok || bad "60000 terms: $(head -c 300 "$T/err")"
(ulimit -s 1024; "$BP" expr "$long" --at x=1 --steps --graph dot --out "$T/long.dot") >"$T/out" 2>"$T/err" \
    && grep -q "gradient of f: d/dx = 60000" "$T/out" && ok || bad "60000 terms --steps --graph: $(head -c 300 "$T/err")"
json '{"variables": ["x", "y"], "value": 2, "gradient": [1999, 1]}' "$(printf 'x*%.0s' {1..1999})x/x+y" --at x=1,y=1
chain="F0(x)=x+1; "; for i in $(seq 1 3000); do chain+="F$i(x)=F$((i - 1))(x)*2; "; done; chain+="F3000(y)"
# (the soft limit in this shell, put back after: in a subshell the check would not be counted)
stack=$(ulimit -S -s); ulimit -S -s 1024
fails "expression too deep (more than 1000 levels) at column" "$chain" --at y=1
ulimit -S -s "$stack"
deep="F(x)=$(printf -- '-%.0s' {1..498})x; G(x)=$(printf -- '-%.0s' {1..496})F(x); H(x)=--G(x); H(y)"
(ulimit -s 1024; "$BP" expr "$deep" --at y=1 --json --chain) >"$T/out" 2>"$T/err"
grep -q '"value": 1, "gradient": \[1\]' "$T/out" && ok || bad "1000 levels: $(head -c 300 "$T/err")"

# --- bad input -----------------------------------------------------------------
fails "expected ')' at column 11" "(x + y * 2" --at x=1,y=2
"$BP" expr "(x + y * 2" 2>&1 >/dev/null | sed -n 3p | grep -qx "            ^" && ok || bad "caret under column 11"
fails "unknown function 'foo' at column 1" "foo(x)" --at x=1
fails "unknown variable 'k' at column 10" "G(a) = a*k; G(x)" --at x=1
fails "no value given for variable 'y'" "x*y" --at x=1
fails "domain error at column 1: log of a non-positive value (-1) in 'log(x - 2)'" "log(x - 2)" --at x=1
fails "sqrt of a negative value" "sqrt(x)" --at x=-1
fails "division by zero" "1/x" --at x=0
fails "unexpected 'x' at column 2" "2x" --at x=1
fails "'+' of vectors of different lengths" "[x, x] + [x, x, x]" --at x=1
fails "takes 2 arguments" "G(a,b) = a*b; G(x)" --at x=1
fails "--at: the expression has no variable 'z'" "x" --at x=1,z=2
fails "--at: expected a number" "x" --at x=abc
fails "--wrt: the expression has no variable 'q'" "x" --at x=1 --wrt q
fails "--graph: expected 'dot' or 'svg'" "x" --at x=1 --graph png
fails "--chain needs a composition" "x" --at x=1 --chain
fails "expected one expression" --at x=1
fails "unknown option '-x'" "-x^2" --at x=1
fails "option '--at' needs a value" "x" --at
fails "option '--json' takes no value" "x" --at x=1 --json=yes
# an unknown option: exactly one line on stderr
"$BP" expr "x" --at x=1 --foo >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && [ "$(cat "$T/err")" = "backprop: expr: unknown option '--foo' (see backprop expr --help)" ]; then ok
else bad "--foo: rc $rc, stderr '$(cat "$T/err")'"; fi
"$BP" expr "x" --at x=1 --foo=3 2>&1 >/dev/null | { read -r l; [ "$l" = "backprop: expr: unknown option '--foo' (see backprop expr --help)" ] && ! read -r _; } && ok || bad "--foo=3"
fails "empty expression" "" --at x=1

# --- conventions at kinks: --tie half|first, --relu-grad-at-zero 0|1 ---------
json '{"variables": ["x", "y"], "value": 2, "gradient": [0.5, 0.5]}' "max(x, y)" --at x=2,y=2
json '{"variables": ["x", "y"], "value": 2, "gradient": [1, 0]}' "max(x, y)" --at x=2,y=2 --tie first
json '{"variables": ["x", "y"], "value": 2, "gradient": [1, 0]}' "min(x, y)" --at x=2,y=2 --tie first
json '{"variables": ["x", "y"], "value": 3, "gradient": [0, 1]}' "max(x, y)" --at x=2,y=3 --tie first
json '{"variables": ["x"], "value": 0, "gradient": [0]}' "relu(x)" --at x=0
json '{"variables": ["x"], "value": 0, "gradient": [1]}' "relu(x)" --at x=0 --relu-grad-at-zero 1
json '{"variables": ["x"], "value": 0, "gradient": [0]}' "abs(x)" --at x=0 --relu-grad-at-zero 1 --tie first
contains "kinks     max(x, y) at column 1: a tie: half of the gradient to each argument, as PyTorch" "max(x, y)" --at x=2,y=2
contains "relu(x - 1) at column 1: relu'(0) = 1 (--relu-grad-at-zero 1; PyTorch takes 0)" "relu(x - 1)" --at x=1 --relu-grad-at-zero 1
contains "(tie: all of it to the first input, --tie first)" "max(x, y)" --at x=2,y=2 --tie first --steps
contains "(at the kink: relu'(0) = 0, as PyTorch)" "relu(x)" --at x=0 --steps
"$BP" expr "max(x, y)" --at x=2,y=3 >"$T/out" 2>&1
if grep -q kinks "$T/out"; then bad "no kink at the point, no note: $(cat "$T/out")"; else ok; fi
# --- --symbolic: the derivatives as formulas --------------------------------
"$BP" expr "G(a,b) = [a-5*b, a*b, a-b]; F(c,d,e) = [3*c*d, d-e]; F(G(a,b))" --symbolic >"$T/out" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/err" ] && [ "$(tail -1 "$T/out")" = "[[6*a*b - 15*b^2, 3*a^2 - 30*a*b], [b - 1, a + 1]]" ]; then ok
else bad "--symbolic F(G(a,b)): $(cat "$T/out" "$T/err")"; fi
json '{"variables": ["x", "y"], "value": "4*x^2 + 12*x*y + 9*y^2", "gradient": ["8*x + 12*y", "12*x + 18*y"]}' \
    "(2*x + 3*y)^2" --symbolic
json '{"variables": ["y"], "value": "y*log(x)", "gradient": ["log(x)"]}' "log(x)*y" --symbolic --wrt y
contains "df/dx = w*sigmoid(w*x + b)*(1 - sigmoid(w*x + b))" "sigmoid(w*x + b)" --symbolic
contains "gradient (no variables)" "7" --symbolic
# every formula it prints evaluates back to the number expr computes at a point
"$BP" expr "sigmoid(w*x + b)*x^2" --symbolic --json --wrt x >"$T/sym.json"
f=$(sed 's/.*"gradient": \["\(.*\)"\]}/\1/' "$T/sym.json")
want=$("$BP" expr "sigmoid(w*x + b)*x^2" --at w=0.5,x=1.5,b=-0.25 --wrt x --json --digits 0 | sed 's/.*"gradient": \[\(.*\)\]}/\1/')
got=$("$BP" expr "$f" --at w=0.5,x=1.5,b=-0.25 --json | sed 's/.*"value": \([^,]*\),.*/\1/')
near "the printed derivative evaluates back" "$got" "$want"
contains "df/dx = y*step(x - 1)" "relu(x - 1) * y" --symbolic
contains "df/dx = y*(x - 1 >= 0)" "relu(x - 1) * y" --symbolic --relu-grad-at-zero 1
json '{"variables": ["x", "y"], "value": "max(x, y)", "gradient": ["x >= y", "y > x"]}' "max(x, y)" --symbolic --tie first
fails "'@' is a matrix operator" "W @ x" --symbolic
fails "--symbolic writes formulas, valid at every point: it takes no --at" "x^2" --symbolic --at x=1
fails "--symbolic writes formulas, valid at every point: it takes no --steps" "x^2" --symbolic --steps
fails "--symbolic: the expression is too large to write out as formulas" \
    "D0(x)=x*x+1; D1(x)=D0(D0(x)); D2(x)=D1(D1(x)); D3(x)=D2(D2(x)); D4(x)=D3(D3(x)); D5(x)=D4(D4(x)); D6(x)=D5(D5(x)); D7(x)=D6(D6(x)); D8(x)=D7(D7(x)); D9(x)=D8(D8(x)); D10(x)=D9(D9(x)); D9(y)" --symbolic
fails "--tie: expected half (as PyTorch) or first, got 'second'" "max(x, y)" --at x=1,y=1 --tie second
fails "--relu-grad-at-zero: expected 0 (as PyTorch) or 1 (z >= 0), got 'yes'" "relu(x)" --at x=0 --relu-grad-at-zero yes

finish
