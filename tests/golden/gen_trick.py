#!/usr/bin/python3
"""Golden fixtures for layers with "bias": "trick" (CS577 Assignment 2, question 5).

Run by hand from the repository root (needs PyTorch, float64 throughout):

    /usr/bin/python3 tests/golden/gen_trick.py

A layer with the bias trick carries its bias in W: the first column (out_in,
W is units x (1 + fan_in)) or the first row (in_out, (1 + fan_in) x units), and
its input is extended with a leading 1:  z = [1, a] W^T  or  z = [1, a] W.
PyTorch computes exactly that (gen_golden.compute: torch.cat of a column of
ones, then the product; autograd through both), for random networks of gen_golden.py whose
biased layers are turned into trick layers at random, and for two networks of
the course notes (the neuron of question 1, the network of question 12).

Writes tests/golden/cases/trick_NNN.json (a model file) and
trick_NNN.expected.json (what `backprop grad --json` must print; dL_db is null
for a trick layer, its bias's gradient is column / row 1 of dL_dW). Before
writing, every case is checked against
  1. the same network with a separate b (gen_golden.compute, itself checked by
     gen_golden.verify against NumPy and finite differences): every value equal
     to 1e-12 relative, dL_dW = [dL_db | dL_dW] (out_in) or [dL_db ; dL_dW]
     (in_out);
  2. 5-point central finite differences of a NumPy forward pass of the trick
     network (gen_golden.np_loss), for every entry of every W (the bias column
     / row included).
Any disagreement aborts the run.
"""

import copy
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_golden as gg  # noqa: E402

SEED = 5775


def to_trick(model, which):
    """A copy of `model` whose layers in `which` carry their b in W."""
    t = copy.deepcopy(model)
    layout = gg.layout_of(t)
    for li in which:
        L = t["layers"][li]
        b = L.pop("b")
        if layout == "out_in":
            L["W"] = [[bj] + row for bj, row in zip(b, L["W"])]
        else:
            L["W"] = [list(b)] + L["W"]
        L["bias"] = "trick"
    return t


def close(a, b, what, rtol=1e-12, atol=1e-14):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)) + atol), (what, a.tolist(), b.tolist())


def check(trick, sep, which):
    """Checks 1 and 2 of the module's comment."""
    exp = gg.compute(trick)
    ref = gg.compute(sep)
    gg.verify(sep, ref)
    close([exp["loss"]], [ref["loss"]], "loss")
    close(exp["output"], ref["output"], "output")
    close(exp["dL_dx"], ref["dL_dx"], "dL_dx")
    layout = gg.layout_of(trick)
    for li, (e, r) in enumerate(zip(exp["layers"], ref["layers"])):
        for key in ("z", "a", "dL_dz"):
            close(e[key], r[key], (li, key))
        if r["dL_da"] is not None and all(v is not None for row in r["dL_da"] for v in row):
            close(e["dL_da"], r["dL_da"], (li, "dL_da"))
        if li in which:
            assert e["dL_db"] is None
            want = ([[db] + row for db, row in zip(r["dL_db"], r["dL_dW"])] if layout == "out_in"
                    else [r["dL_db"]] + r["dL_dW"])
            close(e["dL_dW"], want, (li, "dL_dW trick"))
        else:
            close(e["dL_dW"], r["dL_dW"], (li, "dL_dW"))
    # finite differences on every W entry of the trick network
    arr = gg._arrays(trick)
    for li, W in enumerate(arr["W"]):
        g = np.array(exp["layers"][li]["dL_dW"])
        for idx in np.ndindex(*W.shape):
            h = 1e-4 * max(1.0, abs(W[idx]))
            vals = []
            for k in (-2, -1, 1, 2):
                a2 = dict(arr, W=[w.copy() for w in arr["W"]])
                a2["W"][li][idx] += k * h
                vals.append(gg.np_loss(trick, a2)[0])
            fd = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
            # ReLU kinks aside (the separate-b check covers them), the difference quotient is the derivative
            tol = 1e-6 * max(abs(fd), abs(g[idx]), 1e-3 * float(np.max(np.abs(g))), 1e-9)
            if abs(fd - g[idx]) > tol and not any(L["activation"] == "relu" for L in trick["layers"]):
                raise AssertionError(("fd", li, idx, fd, g[idx]))
    return exp


def notes_cases():
    """The course notes: CS577 Assignment 2, question 1 (theta = (0.1, 0.2, 0.3) with the bias
    trick, x = (1, 1): output 0.6) and question 12's network with every bias in W."""
    q1 = {"inputs": 2, "weight_layout": "out_in",
          "layers": [{"units": 1, "activation": "linear", "bias": True, "W": [[0.2, 0.3]], "b": [0.1]}],
          "loss": "squared", "reduction": "sum", "data": {"x": [[1, 1]], "y": [[1]]}}
    q12 = {"inputs": 2, "weight_layout": "out_in",
           "layers": [{"units": 3, "activation": "sigmoid", "W": [[0.02, 0.03], [0.01, 0.02], [0.03, 0.01]],
                       "b": [0.01, 0.03, 0.02]},
                      {"units": 1, "activation": "linear", "W": [[0.02, 0.03, 0.04]], "b": [0.01]}],
           "loss": "squared", "reduction": "sum",
           "data": {"x": [[1, 2], [1, 3], [2, 2]], "y": [[8], [11], [10]]}}
    return [("CS577 Assignment 2 question 1 (neuron, bias trick)", q1, [0]),
            ("CS577 Assignment 2 question 12 (every bias in W)", q12, [0, 1])]


def main():
    out_dir = os.path.join(HERE, "cases")
    for f in os.listdir(out_dir):
        if f.startswith("trick_") and f.endswith(".json"):
            os.remove(os.path.join(out_dir, f))
    rng = random.Random(SEED)
    cases = notes_cases()
    combos = [c for c in gg.OUT_COMBOS]
    n_random = 0
    while n_random < 16:
        out_act, loss, ytype = combos[n_random % len(combos)]
        layout = ("out_in", "in_out")[n_random % 2]
        sep = gg.random_case(rng, out_act, loss, ytype, rng.choice(["sum", "mean"]), layout)
        biased = [li for li, L in enumerate(sep["layers"]) if "b" in L]
        if not biased:
            continue
        which = sorted(li for li in biased if rng.random() < 0.7) or [biased[0]]
        cases.append((f"random, {layout}, trick in layers {which}", sep, which))
        n_random += 1
    for i, (note, sep, which) in enumerate(cases):
        for li, L in enumerate(sep["layers"]):   # the separate-b network writes its biases
            if "b" in L:
                L["bias"] = True
        trick = to_trick(sep, which)
        exp = check(trick, sep, which)
        name = f"trick_{i:03d}"
        gg.write_json(os.path.join(out_dir, name + ".json"), trick)
        gg.write_json(os.path.join(out_dir, name + ".expected.json"), exp)
        print(f"{name}: {note}")
    q1 = gg.compute(to_trick(notes_cases()[0][1], [0]))
    assert abs(q1["output"][0][0] - 0.6) < 1e-15, q1["output"]


if __name__ == "__main__":
    main()
