#!/bin/bash
# cli_expr.sh - `backprop expr` end to end: the seed problems (values checked
# in --json output), steps, chain rule, DOT/SVG, and bad input (exit 2, one
# "backprop: ..." line first on stderr, nothing on stdout).
# Usage: bash tests/cli_expr.sh /path/to/backprop   (from the repository root)
BP=${1:?usage: cli_expr.sh /path/to/backprop}
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# json EXPECTED ARGS...: stdout equals EXPECTED exactly, exit 0
json() {
    local want=$1; shift
    local got; got=$("$BP" expr --json "$@" 2>"$tmp/err"); local rc=$?
    if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ ! -s "$tmp/err" ]; then ok
    else bad "expr $* --json: rc $rc, got '$got', wanted '$want', stderr: $(cat "$tmp/err")"; fi
}

# contains TEXT ARGS...: exit 0 and stdout contains TEXT
contains() {
    local want=$1; shift
    "$BP" expr "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    if [ $rc -eq 0 ] && grep -qF -- "$want" "$tmp/out"; then ok
    else bad "expr $*: rc $rc, no '$want' in: $(head -c 2000 "$tmp/out") $(cat "$tmp/err")"; fi
}

# fails MESSAGE ARGS...: exit 2, nothing on stdout, first stderr line "backprop: ..." containing MESSAGE
# (bash builtins only: one test runs with an empty PATH)
fails() {
    local want=$1; shift
    "$BP" expr "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    local first=""; read -r first <"$tmp/err"
    if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && [[ "$first" == "backprop: "* ]] && [[ "$first" == *"$want"* ]]; then ok
    else bad "expr $*: rc $rc, stdout '$(<"$tmp/out")', stderr '$(<"$tmp/err")', wanted '$want'"; fi
}

# --- the seed problems, true values -------------------------------------------
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
"$BP" expr "(2*x + 3*y)^2" --at x=1,y=2 --graph dot --out "$tmp/g.dot" >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -q "digraph expr" "$tmp/g.dot" && grep -q "value     64" "$tmp/out"; then ok; else bad "--graph dot --out"; fi
if command -v dot >/dev/null; then
    "$BP" expr "(2*x + 3*y)^2" --at x=1,y=2 --graph dot | dot -Tsvg >"$tmp/a.svg" && grep -q "<svg" "$tmp/a.svg" && ok || bad "dot -Tsvg of the DOT output"
    "$BP" expr "$CG" --at a=2,b=1 --graph svg --out "$tmp/b.svg" >/dev/null && grep -q "<svg" "$tmp/b.svg" && ok || bad "--graph svg --out"
    "$BP" expr "x*y" --at x=1,y=2 --graph svg | grep -q "<svg" && ok || bad "--graph svg to stdout"
fi
PATH=/nonexistent fails "apt-get install graphviz" "x*y" --at x=1,y=2 --graph svg
"$BP" expr --help | grep -q "usage: backprop expr" && ok || bad "--help"

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
fails "unknown option or missing value: '--bogus'" "x" --at x=1 --bogus
fails "empty expression" "" --at x=1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
