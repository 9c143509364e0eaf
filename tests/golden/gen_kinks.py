#!/usr/bin/python3
"""Generate the fixtures of the conventions at kinks (tests/golden/kinks/).

Run by hand from the repository root (needs PyTorch 1.13, float64 throughout):

    /usr/bin/python3 tests/golden/gen_kinks.py

Where a function has no derivative, backprop uses a convention (bp_kinks in
include/backprop.h): relu'(0) = 0 or 1, and a tie of max(a, b) / min(a, b)
sending half of the gradient to each argument or all of it to the first.
PyTorch 1.13 expresses all four:

    relu'(0) = 0        torch.relu(z)              (PyTorch's own)
    relu'(0) = 1        torch.clamp(z, min=0)      (its backward passes z >= min)
    tie half            torch.maximum / torch.minimum   (PyTorch's own)
    tie first           torch.where(a >= b, a, b) / torch.where(a <= b, a, b)

This script checks that PyTorch does so (the probes below), then writes

  kinks/case_NNN.relu1.expected.json   `backprop grad tests/golden/cases/case_NNN.json
                                       --relu-grad-at-zero 1 --json` for the golden cases
                                       whose ReLU pre-activations hit 0 exactly; the
                                       default convention's values are the cases' own
                                       case_NNN.expected.json
  kinks/expr.json                      expressions at points on kinks: value and
                                       gradient (or Jacobian) under each of the four
                                       combinations of the two conventions

Independent checks before anything is written: the network fixtures against the
hand-written NumPy backward pass of gen_golden.py with the mask z >= 0, and
finite differences away from the kinks (gen_golden.verify); every expression
case against a gradient derived by hand (written below next to the case).
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_golden as gg  # noqa: E402

F64 = torch.float64
OUT = os.path.join(HERE, "kinks")
CASES = ["case_054", "case_072", "case_073", "case_074"]   # z == 0 exactly in a ReLU layer


def probes():
    """What PyTorch 1.13 does at the kinks (asserted, so that the fixtures'
    claims about PyTorch stay true)."""
    a = torch.tensor([2.0, 1.0], dtype=F64, requires_grad=True)
    b = torch.tensor([2.0, 3.0], dtype=F64, requires_grad=True)
    torch.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0], "torch.maximum splits a tie"
    a.grad = b.grad = None
    torch.max(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0], "torch.max(a, b) is torch.maximum"
    a.grad = b.grad = None
    torch.minimum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0] and b.grad.tolist() == [0.5, 0.0], "torch.minimum splits a tie"
    a.grad = b.grad = None
    torch.where(a >= b, a, b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.0] and b.grad.tolist() == [0.0, 1.0], "where(a >= b) gives a tie to a"
    z = torch.tensor([-1.0, 0.0, 1.0], dtype=F64, requires_grad=True)
    torch.relu(z).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0, 1.0], "relu'(0) = 0"
    z.grad = None
    torch.clamp(z, min=0).sum().backward()
    assert z.grad.tolist() == [0.0, 1.0, 1.0], "clamp(min=0)'(0) = 1"
    z.grad = None
    torch.abs(z).sum().backward()
    assert z.grad.tolist() == [-1.0, 0.0, 1.0], "abs'(0) = 0"


def conv(relu1, first):
    relu = (lambda z: torch.clamp(z, min=0)) if relu1 else torch.relu
    mx = (lambda p, q: torch.where(p >= q, p, q)) if first else torch.maximum
    mn = (lambda p, q: torch.where(p <= q, p, q)) if first else torch.minimum
    return relu, mx, mn


def c(v):
    return torch.tensor(float(v), dtype=F64)


# (expression in the language of `backprop expr`, the point, the same in PyTorch
#  as f(vars, relu, max, min) returning a list of outputs (None: a scalar), and
#  the gradient derived by hand for each (relu'(0), tie) as {(0|1, "half"|"first"): rows})
EXPRS = [
    ("relu(x - 1) * y", {"x": 1, "y": 3},
     lambda v, R, M, N: [R(v["x"] - 1) * v["y"]], True,
     {(0, "half"): [[0, 0]], (1, "half"): [[3, 0]]}),
    ("max(x, y) * z", {"x": 2, "y": 2, "z": 3},
     lambda v, R, M, N: [M(v["x"], v["y"]) * v["z"]], True,
     {(0, "half"): [[1.5, 1.5, 2]], (0, "first"): [[3, 0, 2]]}),
    ("min(x, y) + 2*max(y, x)", {"x": 1, "y": 1},
     lambda v, R, M, N: [N(v["x"], v["y"]) + 2 * M(v["y"], v["x"])], True,
     {(0, "half"): [[1.5, 1.5]], (0, "first"): [[1, 2]]}),
    ("relu(x*y - 2) + max(x^2, 4*y)", {"x": 2, "y": 1},
     lambda v, R, M, N: [R(v["x"] * v["y"] - 2) + M(v["x"] ** 2, 4 * v["y"])], True,
     {(0, "half"): [[2, 2]], (1, "half"): [[3, 4]], (0, "first"): [[4, 0]], (1, "first"): [[5, 2]]}),
    ("F(a, b) = max(a, b) - min(a, b); F(x, relu(y))", {"x": 0, "y": 0},
     lambda v, R, M, N: [M(v["x"], R(v["y"])) - N(v["x"], R(v["y"]))], True,
     {(0, "half"): [[0, 0]], (1, "first"): [[0, 0]]}),
    ("[max(x, y), min(x, relu(y))]", {"x": 0, "y": 0},
     lambda v, R, M, N: [M(v["x"], v["y"]), N(v["x"], R(v["y"]))], False,
     {(0, "half"): [[0.5, 0.5], [0.5, 0]], (1, "half"): [[0.5, 0.5], [0.5, 0.5]],
      (0, "first"): [[1, 0], [1, 0]], (1, "first"): [[1, 0], [1, 0]]}),
    ("max(x, x)", {"x": 5},
     lambda v, R, M, N: [M(v["x"], v["x"])], True,
     {(0, "half"): [[1]], (0, "first"): [[1]]}),
    ("max(x, 2) + min(2, x)", {"x": 2},
     lambda v, R, M, N: [M(v["x"], c(2)) + N(c(2), v["x"])], True,
     {(0, "half"): [[1]], (0, "first"): [[1]]}),
    ("3*max(x, 2) - min(2, x)", {"x": 2},
     lambda v, R, M, N: [3 * M(v["x"], c(2)) - N(c(2), v["x"])], True,
     {(0, "half"): [[1]], (0, "first"): [[3]]}),
    ("relu(relu(x))", {"x": 0},
     lambda v, R, M, N: [R(R(v["x"]))], True,
     {(0, "half"): [[0]], (1, "half"): [[1]]}),
]


def expr_case(text, point, f, scalar, hand):
    names = list(point)
    out = []
    for relu1 in (0, 1):
        for tie in ("half", "first"):
            R, M, N = conv(relu1, tie == "first")
            rows, values = [], []
            for k in range(len(f({n: c(point[n]) for n in names}, R, M, N))):
                v = {n: c(point[n]).requires_grad_(True) for n in names}
                y = f(v, R, M, N)[k]
                y.backward()
                values.append(y.item())
                rows.append([v[n].grad.item() if v[n].grad is not None else 0.0 for n in names])
            if (relu1, tie) in hand:
                assert rows == [[float(g) for g in r] for r in hand[(relu1, tie)]], (text, relu1, tie, rows)
            case = {"expr": text, "at": ",".join("%s=%s" % (n, point[n]) for n in names),
                    "relu_grad_at_zero": relu1, "tie": tie, "variables": names}
            if scalar:
                case["value"], case["gradient"] = values[0], rows[0]
            else:
                case["value"], case["jacobian"] = values, rows
            out.append(case)
    return out


def main():
    probes()
    os.makedirs(OUT, exist_ok=True)
    for name in CASES:
        with open(os.path.join(HERE, "cases", name + ".json")) as fh:
            model = json.load(fh)
        exp = gg.compute(model, relu_at_zero=1)
        gg.verify(model, exp, relu_at_zero=1)
        default = gg.compute(model)
        assert exp != default, (name, "the convention changes nothing here")
        gg.write_json(os.path.join(OUT, name + ".relu1.expected.json"), exp)
        print("wrote kinks/%s.relu1.expected.json" % name)
    cases = []
    for text, point, f, scalar, hand in EXPRS:
        cases.extend(expr_case(text, point, f, scalar, hand))
    with open(os.path.join(OUT, "expr.json"), "w") as fh:
        fh.write("[\n")
        fh.write(",\n".join("  " + json.dumps(cs) for cs in cases))
        fh.write("\n]\n")
    print("wrote kinks/expr.json (%d cases)" % len(cases))


if __name__ == "__main__":
    main()
