#!/usr/bin/python3
"""Generate the example model files, their expected `grad --json` output and
docs/examples.md.

Run by hand from the repository root (needs PyTorch):

    /usr/bin/python3 tests/golden/gen_examples.py

Writes examples/NAME.json, examples/NAME.expected.json and docs/examples.md.
The numbers come from tests/golden/gen_golden.py's compute() (PyTorch float64
autograd) and are checked with its verify() (hand-written NumPy backward pass
and central finite differences) before anything is written.
"""

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_golden as gg  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
EX_DIR = os.path.join(ROOT, "examples")
DOC = os.path.join(ROOT, "docs", "examples.md")


# --------------------------------------------------------------------------
# The example networks
# --------------------------------------------------------------------------

EXAMPLES = []

# The course notes the examples come from: for each, the name in the table and
# the phrase in "From ...".  Untitled notes are named by what they cover.
NOTES = {
    "CS577": ('"CS577 Assignment 2"', 'the course notes "CS577 Assignment 2"'),
    "BP": ('"Back Propagation"', 'the course notes "Back Propagation"'),
    "HW": ('"CS 1678/2078 HW Backprop"', 'the course notes "CS 1678/2078 HW Backprop"'),
    "SOFTMAX": ("untitled course notes on a 3-layer softmax network",
                "the untitled course notes on a 3-layer softmax network"),
    "BCE": ("untitled course notes on a sigmoid network with BCE",
            "the untitled course notes on a sigmoid network with BCE"),
}


def example(name, notes, title, text):
    def deco(fn):
        EXAMPLES.append({"name": name, "notes": notes, "title": title, "text": text, "model": fn()})
        return fn
    return deco


@example("q12", "CS577", "CS577 Assignment 2, question 12",
         """A 2-3-1 regression network: logistic (sigmoid) hidden units, a linear output
unit, squared loss summed over the three samples.  The assignment writes the weights
with the bias trick (first entry = bias): hidden units w1 = [0.01, 0.02, 0.03],
w2 = [0.03, 0.01, 0.02], w3 = [0.02, 0.03, 0.01], output v = [0.01, 0.02, 0.03,
0.04].  Split into weights and biases (layout `out_in`): W1 = [[0.02, 0.03],
[0.01, 0.02], [0.03, 0.01]], b1 = [0.01, 0.03, 0.02], W2 = [[0.02, 0.03, 0.04]],
b2 = [0.01].  Data x = [[1, 2], [1, 3], [2, 2]], y = [8, 11, 10].
`L = sum_i (yhat_i - y_i)^2`.""")
def _q12():
    return {
        "inputs": 2,
        "weight_layout": "out_in",
        "layers": [
            {"units": 3, "activation": "sigmoid", "bias": True,
             "W": [[0.02, 0.03], [0.01, 0.02], [0.03, 0.01]], "b": [0.01, 0.03, 0.02]},
            {"units": 1, "activation": "linear", "bias": True,
             "W": [[0.02, 0.03, 0.04]], "b": [0.01]},
        ],
        "loss": "squared",
        "reduction": "sum",
        "data": {"x": [[1, 2], [1, 3], [2, 2]], "y": [[8], [11], [10]]},
    }


@example("backprop_notes_4321", "BP", "\"Back Propagation\" notes",
         """The notes' 4-3-2-1 network with sigmoid units in every layer, written with row
vectors: `z = a W + b` with W of shape fan_in x units (layout `in_out`:
W[1] is 4x3, W[2] is 3x2, W[3] is 2x1), and the binary cross-entropy
`L = -[y log yhat + (1 - y) log(1 - yhat)]` for one sample.  The notes give no
numbers; **the weights, biases, x and y below were chosen by us** (multiples of
0.1 with mixed signs).  Note the notes write the sigmoid as 1/(1 - e^-z); the
tool (and these values) use the logistic function 1/(1 + e^-z).""")
def _notes():
    return {
        "inputs": 4,
        "weight_layout": "in_out",
        "layers": [
            {"units": 3, "activation": "sigmoid",
             "W": [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.3, 0.2, 0.1], [0.2, -0.1, 0.4]],
             "b": [0.1, -0.1, 0.2]},
            {"units": 2, "activation": "sigmoid",
             "W": [[0.5, -0.4], [-0.3, 0.6], [0.2, 0.1]], "b": [0.0, 0.1]},
            {"units": 1, "activation": "sigmoid", "W": [[0.7], [-0.5]], "b": [0.2]},
        ],
        "loss": "bce",
        "reduction": "sum",
        "data": {"x": [[1.0, 0.5, -1.0, 2.0]], "y": [[1.0]]},
    }


HW_W = {
    "W1": [[0.5, -0.2, 0.1, 0.4], [-0.3, 0.4, 0.6, -0.1], [0.2, 0.1, -0.5, 0.3]],
    "W2": [[0.6, -0.5, 0.3], [-0.4, 0.2, 0.7]],
    "W3": [[1.2, -0.8]],
}


def _hw(x, y, reduction):
    return {
        "inputs": 4,
        "weight_layout": "out_in",
        "layers": [
            {"units": 3, "activation": "relu", "bias": False, "W": HW_W["W1"]},
            {"units": 2, "activation": "relu", "bias": False, "W": HW_W["W2"]},
            {"units": 1, "activation": "linear", "bias": False, "W": HW_W["W3"]},
        ],
        "loss": "half_squared",
        "reduction": reduction,
        "data": {"x": x, "y": y},
    }


@example("hw_backprop_relu_single", "HW",
         "CS 1678/2078 HW Backprop, part 1 (single sample)",
         """A 4-3-2-1 network, ReLU hidden layers, linear output, no biases:
`h^i = relu(h^{i-1} W^{iT})` with W^i of shape n_i x n_{i-1} (layout `out_in`),
loss `l = 1/2 (f(x) - y)^2` for one sample (reduction `sum`, m = 1).  The
homework gives no numbers; **the weights, x and y were chosen by us** so that
one first-layer ReLU is inactive (z < 0).  The homework allows either
subderivative at z = 0 (it writes `z >= 0`); the tool follows PyTorch
(derivative 0 at z <= 0), and no z here is exactly 0, so both agree.""")
def _hw_single():
    return _hw([[1.0, 2.0, -1.0, 0.5]], [[1.0]], "sum")


@example("hw_backprop_relu_batch", "HW",
         "CS 1678/2078 HW Backprop, part 2 (batch of m = 2)",
         """The same network and weights as `hw_backprop_relu_single`, on a mini-batch of
m = 2.  Part 2 of the homework defines the batch loss as the **mean**,
`l = (1/m) sum_k 1/2 (h^3_k - y_k)^2`, so this file uses `"reduction": "mean"`
with `"loss": "half_squared"`.  The first sample is the single-sample example's
one; the second was chosen by us.""")
def _hw_batch():
    return _hw([[1.0, 2.0, -1.0, 0.5], [0.5, -1.0, 2.0, 1.0]], [[1.0], [-0.5]], "mean")


@example("softmax_ce_nobias", "SOFTMAX",
         "3-layer sigmoid / softmax network with cross-entropy",
         """`yhat = softmax(W3 sigma(W2 sigma(W1 x)))` with column vectors (layout
`out_in`), no biases, `L = -sum_i y_i log yhat_i` with one-hot y.  The notes
leave the sizes open; **we chose d = 3, d1 = 4, d2 = 3, k = 3 and the weights,
x and y** (multiples of 0.1, mixed signs).  The notes' derivation treats the
softmax Jacobian as diagonal (yhat_l (1 - yhat_l)); the true gradient at the
logits is `yhat - y`.""")
def _softmax_ce():
    return {
        "inputs": 3,
        "layers": [
            {"units": 4, "activation": "sigmoid", "bias": False,
             "W": [[0.2, -0.3, 0.5], [0.1, 0.4, -0.2], [-0.5, 0.2, 0.3], [0.3, 0.1, 0.1]]},
            {"units": 3, "activation": "sigmoid", "bias": False,
             "W": [[0.4, -0.6, 0.2, 0.1], [-0.3, 0.5, 0.4, -0.2], [0.6, 0.1, -0.4, 0.3]]},
            {"units": 3, "activation": "softmax", "bias": False,
             "W": [[0.5, -0.4, 0.3], [-0.2, 0.6, 0.1], [0.3, 0.2, -0.5]]},
        ],
        "loss": "cross_entropy",
        "reduction": "sum",
        "data": {"x": [[1.0, -2.0, 0.5]], "y": [[0.0, 1.0, 0.0]]},
    }


@example("sigmoid_bce_mean", "BCE",
         "3-layer sigmoid network with biases, BCE averaged over m samples",
         """`a1 = sigma(w1 x + b1)`, `a2 = sigma(w2 a1 + b2)`, `a3 = sigma(w3 a2 + b3)` with
column vectors (layout `out_in`): the notes' shapes are w2 (2,3) ("connects 3
neurons to 2 neurons") and w3 (1,2), so the hidden layers have 3 and 2 units
and the output 1; w1 is (3,n) with the input size n left open -- **we chose
n = 2** (so no weight matrix is square and a transposition cannot go
unnoticed).  Loss: binary cross-entropy averaged over m = 3 samples
(`J = (1/m) sum_i L_i`, reduction `mean`).  **Weights, biases and data were
chosen by us.**""")
def _sig_bce():
    return {
        "inputs": 2,
        "weight_layout": "out_in",
        "layers": [
            {"units": 3, "activation": "sigmoid",
             "W": [[0.4, -0.6], [0.3, 0.8], [-0.5, 0.2]], "b": [0.1, -0.2, 0.3]},
            {"units": 2, "activation": "sigmoid",
             "W": [[0.7, -0.3, 0.5], [-0.4, 0.6, 0.2]], "b": [0.05, -0.1]},
            {"units": 1, "activation": "sigmoid", "W": [[1.2, -0.9]], "b": [0.3]},
        ],
        "loss": "bce",
        "reduction": "mean",
        "data": {"x": [[1.0, 2.0], [-1.5, 0.5], [0.5, -1.0]], "y": [[1.0], [0.0], [1.0]]},
    }


# --------------------------------------------------------------------------
# Markdown helpers
# --------------------------------------------------------------------------

def g6(v):
    if v is None:
        return "null"
    if v == 0:
        return "0"
    return f"{v:.6g}"


def mat_table(M, row_label, col_label):
    rows = len(M)
    cols = len(M[0])
    out = ["| | " + " | ".join(f"{col_label} {j + 1}" for j in range(cols)) + " |",
           "|---" * (cols + 1) + "|"]
    for i in range(rows):
        out.append(f"| **{row_label} {i + 1}** | " + " | ".join(g6(v) for v in M[i]) + " |")
    return "\n".join(out)


def vec(v):
    return "[" + ", ".join(g6(x) for x in v) + "]"


def mat(M):
    return "[" + ", ".join(vec(r) for r in M) + "]"


def layer_section(model, exp):
    layout = gg.layout_of(model)
    out = []
    for li, (layer, e) in enumerate(zip(model["layers"], exp["layers"])):
        n = li + 1
        units = f"{layer['units']} {layer['activation']} unit" + ("s" if layer["units"] > 1 else "")
        bias = "" if gg.has_bias(layer) else ", no bias"
        out.append(f"**Layer {n}** ({units}{bias})\n")
        out.append(f"z{n} (rows = samples):\n\n" + mat_table(e["z"], "sample", "unit") + "\n")
        out.append(f"a{n}:\n\n" + mat_table(e["a"], "sample", "unit") + "\n")
        out.append(f"dL/da{n}:\n\n" + mat_table(e["dL_da"], "sample", "unit") + "\n")
        out.append(f"dL/dz{n}:\n\n" + mat_table(e["dL_dz"], "sample", "unit") + "\n")
        if layout == "out_in":
            t = mat_table(e["dL_dW"], "unit", "input")
            shape = f"units x fan_in = {len(e['dL_dW'])} x {len(e['dL_dW'][0])}"
        else:
            t = mat_table(e["dL_dW"], "input", "unit")
            shape = f"fan_in x units = {len(e['dL_dW'])} x {len(e['dL_dW'][0])}"
        out.append(f"dL/dW{n} ({shape}, same layout as W{n}):\n\n" + t + "\n")
        if e["dL_db"] is None:
            out.append(f"dL/db{n}: no bias\n")
        else:
            out.append(f"dL/db{n} = {vec(e['dL_db'])}\n")
    out.append("dL/dx:\n\n" + mat_table(exp["dL_dx"], "sample", "input") + "\n")
    return "\n".join(out)


def q12_slips(exp):
    L1, L2 = exp["layers"]
    z1 = np.array(L1["z"])
    a1 = np.array(L1["a"])
    yh = np.array(exp["output"])[:, 0]
    y = np.array([8.0, 11.0, 10.0])
    per = (yh - y) ** 2
    dyh = np.array(L2["dL_da"])[:, 0]
    dW1 = np.array(L1["dL_dW"])
    db1 = np.array(L1["dL_db"])
    dW2 = np.array(L2["dL_dW"])[0]
    db2 = L2["dL_db"][0]
    # the hand computation's 3x3 dL/dW in bias-trick form: rows = hidden unit,
    # columns = [bias, x1, x2]
    trick = np.column_stack([db1, dW1])
    s = []
    s.append(f"""- **Pre-activations.** The written-out sums for the third sample use x = (2, 3)
  instead of (2, 2) (e.g. `1*0.01 + 2*0.02 + 3*0.03`, which is 0.14, not the
  0.11 written next to it); the results written down happen to be the right
  ones.  True z1 (rows = samples, columns = hidden units):
  {mat(z1.tolist())}.""")
    s.append(f"""- **Hidden activations.** `Z3 = logistic([0.10, 0.08, 0.09])` is labelled with the
  wrong arguments (unit 3's pre-activations are 0.07, 0.08, 0.10; the values
  0.51749, 0.51999, 0.52498 written are right for those), and the assembled Z
  matrix stacks *hidden units* as rows, then uses it as if its rows were
  *samples* in `yhat = Z* v` (its third row does not even match Z3).
  True a1 (rows = samples): {mat(a1.tolist())}.""")
    s.append(f"""- **Output.** Because of the transposed Z the assignment gets yhat = [0.0574, 0.0570,
  0.0569] (and 0.0571 for the third in a later copy).  True yhat =
  {vec(yh.tolist())}.""")
    s.append(f"""- **Loss.** The per-sample losses 63.0841, 119.7482, 98.9643 do not even equal the
  squares written next to them ((8 - 0.0574)^2 = 63.0849), they sum to 281.797,
  not the 287.694 stated, and the later line labels the loss `yhat`.  True
  per-sample losses {vec(per.tolist())}, **L = {g6(exp['loss'])}**.""")
    s.append(f"""- **dL/dyhat has the wrong sign.** It is 2(yhat - y), which is negative here; the
  assignment writes [15.885, 21.886, 19.886] (the values of 2(y - yhat)).  True
  dL/dyhat = {vec(dyh.tolist())}.""")
    s.append(f"""- **dL/dv (output weights, bias first).** Written: [57.657, 29.971, 30.249,
  30.254] -- wrong sign, and built from the transposed Z.  True: dL/db2 =
  {g6(db2)}, dL/dW2 = {vec(dW2.tolist())}.""")
    s.append(f"""- **dL/dW (hidden weights).** The assignment multiplies everything by the single number
  57.6568 (the sum of its dL/dyhat entries, i.e. it sums over samples *before*
  multiplying by each sample's own sigma'(z) x), drops the sign, pairs sample
  j's sigma'(z) with feature j of sample 1 (`Z_1j (1 - Z_1j) X*_1j`) instead of
  the whole input row of sample j, and writes 0.03 for v4 = 0.04 in one line,
  arriving at
  [[3.46, 3.46, 6.92], [1.15, 1.73, 2.88], [1.73, 2.31, 4.04]].  It also writes
  the logistic derivative as `WX(1 - WX)` of the pre-activation rather than
  sigma(z)(1 - sigma(z)) (its numbers 0.2495 etc. are the correct
  sigma'(z) values, though).  True gradient in the same bias-trick form (rows =
  hidden units w1, w2, w3; columns = [bias, x1, x2]):
  {mat(trick.tolist())}.""")
    return "\n".join(s)


def _with(model, li, key, value):
    """A copy of model with layers[li][key] replaced."""
    m = json.loads(json.dumps(model))
    m["layers"][li][key] = value
    return m


BCE_ETA = 0.5   # our choice: the notes give no learning rate


def bce_slips(model, exp):
    """The untitled notes on a sigmoid network with BCE (w1, w2, w3 with column vectors)."""
    L1, L2, L3 = exp["layers"]
    w3 = np.array(model["layers"][2]["W"])
    g3 = np.array(L3["dL_dW"])
    notes_w3 = w3 + g3                  # w3 - (1/m) sum (y - a3) a2^T = w3 + dJ/dw3
    true_w3 = w3 - BCE_ETA * g3
    J = exp["loss"]
    J_notes = gg.compute(_with(model, 2, "W", notes_w3.tolist()))["loss"]
    J_true = gg.compute(_with(model, 2, "W", true_w3.tolist()))["loss"]
    assert J_notes > J > J_true, (J_notes, J, J_true)
    s = []
    s.append(f"""- **Update (1) goes uphill and has no learning rate.** The notes derive
  dJ/dw^(3) = -(1/m) sum_i (y^(i) - a^(3)) a^(2)T and then write
  `w^(3) := w^(3) - (1/m) sum_i (y^(i) - a^(3)) a^(2)T`, which is w^(3) + dJ/dw^(3): the
  step has the wrong sign and no eta.  The update is
  `w^(3) := w^(3) - eta dJ/dw^(3) = w^(3) + eta (1/m) sum_i (y^(i) - a^(3)) a^(2)T`.  Here
  dJ/dw^(3) = dL/dW3 = {vec(g3[0].tolist())}; the notes' line gives w^(3) =
  {vec(notes_w3[0].tolist())}, which raises J from {g6(J)} to {g6(J_notes)} (w^(3) alone
  changed), while the true step with eta = {BCE_ETA} (our choice) gives
  {vec(true_w3[0].tolist())} and lowers J to {g6(J_true)}.
  `backprop step examples/sigmoid_bce_mean.json --lr {BCE_ETA}` shows this step for every
  layer at once ([docs/step.md](step.md)), and `--compare` names the wrong sign.""")
    s.append(f"""- **Update (2) is labelled w^(3) but updates w^(2).** Its right-hand side
  `(a^(3) - y) w^(3)T * a^(2)(1 - a^(2)) a^(1)T` has the shape (2,1)(1,3) = (2,3) of w^(2)
  ("connects 3 neurons to 2 neurons") and is dJ/dw^(2) once summed with 1/m; it should
  read `w^(2) := w^(2) - eta (1/m) sum_i ...` (the sign is right here, the eta is missing
  again).  True dJ/dw^(2) = dL/dW2 = {mat(L2["dL_dW"])}.""")
    db1 = np.array(L1["dL_db"])
    s.append(f"""- **x^T is missing from dL/dw^(1) and from update (3).** The last line of dL/dw^(1),
  `w^(2)T * a^(1)(1 - a^(1)) * w^(3)T * a^(2)(1 - a^(2)) (a^(3) - y)`, is the column
  dL/dz^(1) of one sample, (3,1), while w^(1) is (3,n): the chain ends with
  dz^(1)/dw^(1), which contributes the outer product with x^T, (3,1)(1,n).  Update (3)
  copies the slip.  True dJ/dw^(1) = (1/m) sum_i dL/dz^(1) x^T = dL/dW1 =
  {mat(L1["dL_dW"])}; without x^T the sum is (1/m) sum_i dL/dz^(1) =
  {vec(db1.tolist())}, which is dJ/db^(1).""")
    return "\n".join(s)


def softmax_slips(model, exp):
    """The untitled notes on a 3-layer softmax network, second attempt at dL/dW2."""
    L1, L2, L3 = exp["layers"]
    d, d1, d2 = model["inputs"], model["layers"][0]["units"], model["layers"][1]["units"]
    assert (d, d1, d2) == (3, 4, 3)
    return f"""- **The second attempt at dL/dW_{{2,ij}} uses layer 1 where layer 2 belongs.**  Its last
  two lines write the second-layer unit a^[2]_l = sigma(W_{{2,l.}} a^[1]) as `sigma(W_{{1,l.}} x)`,
  the formula of a *first*-layer unit (in which W2 does not even appear), and
  differentiate it to `sigma(W_{{1,l.}} x)(1 - sigma(W_{{1,l.}} x)) x_i`: the derivative of a
  first-layer unit and an *input* x_i.  W2 enters only z^[2] = W2 a^[1], so
  dz^[2]_l/dW_{{2,ij}} = 1[l = i] a^[1]_j: the factors that belong there are
  sigma'(z^[2]_i) = a^[2]_i (1 - a^[2]_i) and the first-layer activation a^[1]_j.  (The
  shapes show it: W2 is d2 x d1 = {d2} x {d1} here, so its column index j runs over the
  {d1} units of layer 1, which x_i, with {d} entries, cannot index.)  The same lines also
  name the second-layer activation yhat_l (`W_{{3,ml}} yhat_l (1 - yhat_l)`, where
  a^[2]_l (1 - a^[2]_l) is meant) and put -y_m / yhat_m, which is dL/dyhat_m, where
  dL/dz^[3]_m = yhat_m - y_m belongs.  True: dL/dW_{{2,ij}} = g^[2z]_i a^[1]_j with
  g^[2z]_i = a^[2]_i (1 - a^[2]_i) sum_m W_{{3,mi}} (yhat_m - y_m): g^[2z] =
  {vec(L2["dL_dz"][0])}, a^[1] = {vec(L1["a"][0])}, dL/dW2 = {mat(L2["dL_dW"])}."""


def notes_slips(model, exp):
    """"Back Propagation": dL/da^[1]_2 with row 3 of W^[2]."""
    L1, L2, L3 = exp["layers"]
    W2 = np.array(model["layers"][1]["W"])     # in_out: 3 x 2, row r = the weights out of unit r of layer 1
    g2z = np.array(L2["dL_dz"][0])
    wrong = float(g2z @ W2[2])
    right = float(g2z @ W2[1])
    assert abs(right - L1["dL_da"][0][1]) < 1e-12
    return f"""- **dL/da^[1]_2 uses row 3 of W^[2] instead of row 2.**  In the block for the second
  neuron the notes write `dL/da^[1]_2 = g^[2z] . [W^[2]_{{3,1}}; W^[2]_{{3,2}}]`; a^[1]_2 reaches
  z^[2]_1 and z^[2]_2 through W^[2]_{{2,1}} and W^[2]_{{2,2}}, row 2 (as the summary
  g^[1a] = g^[2z] (W^[2])^T, written right, says).  With the values above (layout
  `in_out`, W^[2] = {mat(W2.tolist())}, g^[2z] = {vec(g2z.tolist())}):
  dL/da^[1]_2 = g^[2z] . row 2 = **{g6(right)}**, while the notes' row 3 gives {g6(wrong)},
  which is dL/da^[1]_3."""


def hw_single_slips(model, exp):
    """HW Backprop part 1 (single sample)."""
    L1, L2, L3 = exp["layers"]
    x = np.array(model["data"]["x"][0])
    W2 = np.array(model["layers"][1]["W"])
    W3 = np.array(model["layers"][2]["W"])[0]
    h1 = np.array(L1["a"][0])
    z2 = np.array(L2["z"][0])
    delta = L3["dL_da"][0][0]
    assert np.all(z2 > 0) and np.sum(np.array(L1["z"][0]) < 0) == 1
    inactive = int(np.argmin(L1["z"][0]))
    # 1.10: delta W3_1i 1[z2_1i >= 0] h1_1i, the same for every j
    w110 = np.array([[delta * W3[i] * (z2[i] >= 0) * h1[i]] * len(h1) for i in range(2)])
    # 1.11: entry (1,3) written with unit 2
    w111 = delta * W3[1] * (z2[1] >= 0) * h1[2]
    # 1.14: [W3_11 1[z2_11 >= 0], W3_11 1[z2_11 >= 0]] W2_.j
    w114 = delta * W3[0] * (z2[0] >= 0) * (W2[0] + W2[1])
    # 1.16: the ReLU factor of layer 1 dropped: dL/dh1_i x_j instead of dL/dz1_i x_j
    w116 = np.outer(np.array(L1["dL_da"][0]), x)
    return f"""- **dL/dW^1 drops the ReLU factor of layer 1** (question 16).
  `dl/dW^1_{{i,j}} = delta sum_q W^3_{{1,q}} (z^2_{{1,q}} >= 0) W^2_{{q,i}} h^0_{{1,j}}` misses
  dh^1_{{1,i}}/dz^1_{{1,i}} = 1[z^1_{{1,i}} > 0]: "we can reuse that result" from question 7
  would bring it, as (z^1_{{1,i}} >= 0).  Here unit {inactive + 1} of layer 1 is inactive
  (z^1 = {vec(L1["z"][0])}), so row {inactive + 1} of the true dL/dW^1 is 0:
  dL/dW1 = {mat(L1["dL_dW"])}; the formula without the factor gives row {inactive + 1} =
  {vec(w116[inactive].tolist())} (the whole matrix is dL/dh^1 x^T = {mat(w116.tolist())}).
- **Question 10**, last line: `delta W^3_{{1,i}} (z^2_{{1,i}} >= 0) h^1_{{1,i}}` ends with h^1_{{1,i}}
  where h^1_{{1,j}} belongs (W^2_{{i,j}} multiplies input j of unit i); written so, every entry
  of row i would be the same, {mat(w110.tolist())}, against the true dL/dW2 =
  {mat(L2["dL_dW"])}.  (Its note "=0 if q != i, see #10" points to itself; the zero
  comes from questions 8 and 9.)
- **Question 11**: entry (1,3) of the matrix is written `W^3_{{1,2}} (z^2_{{1,2}} >= 0) h^1_{{1,3}}`,
  with unit 2 of layer 2 in row 1; it is `W^3_{{1,1}} (z^2_{{1,1}} >= 0) h^1_{{1,3}}`:
  times delta, {g6(L2["dL_dW"][0][2])}, not {g6(w111)}.  (The factored form on the next line is right.)
- **Question 14**: the first line writes dh^3_{{1,j}}/dh^1_{{1,j}} for dh^3_{{1,1}}/dh^1_{{1,j}} (there
  is one output), and the row vector `[W^3_{{1,1}} (z^2_{{1,1}} >= 0)  W^3_{{1,1}} (z^2_{{1,1}} >= 0)]`
  repeats unit 1: its second entry is `W^3_{{1,2}} (z^2_{{1,2}} >= 0)`.  As written it gives
  dl/dh^1 = {vec(w114.tolist())}; the true dL/dh^1 = dL/da1 = {vec(L1["dL_da"][0])}.
- **Question 15**, scalar version: the third entry sums over q with (z^2_{{1,2}} >= 0) where
  (z^2_{{1,q}} >= 0) belongs.  Both units of layer 2 are active here
  (z^2 = {vec(z2.tolist())}), so the value, {g6(L1["dL_da"][0][2])}, happens to agree."""


def hw_batch_slips(model, exp):
    """HW Backprop part 2 (batch of m = 2)."""
    L1, L2, L3 = exp["layers"]
    W3 = np.array(model["layers"][2]["W"])[0]
    delta = np.array(L3["dL_da"])[:, 0]
    m = len(delta)
    assert m == 2
    dh2_notes = np.outer(delta, [W3[0], W3[0]])
    return f"""- **Question 1** (of part 2): delta is written `[(h^3_{{1,1}} - y_1)/m; (h^3_{{1,1}} - y_1)/m]`,
  sample 1 twice; its second entry is (h^3_{{2,1}} - y_2)/m.  True delta = dL/dh^3 =
  {vec(delta.tolist())} (the notes' form gives {vec([float(delta[0])] * 2)}).
- **Question 5**: the matrix's entry (1,2) is written dl/dh^2_{{2,1}} for dl/dh^2_{{1,2}}, and the
  factorisation `[delta_1; delta_2] [W^3_{{1,1}}  W^3_{{1,1}}]` repeats W^3_{{1,1}} where
  W^3_{{1,2}} belongs: it gives {mat(dh2_notes.tolist())}, while the true
  dL/dh^2 = delta W^3 = dL/da2 = {mat(L2["dL_da"])}."""


SLIPS = {
    "sigmoid_bce_mean": ("Where the untitled course notes on a sigmoid network with BCE slip", bce_slips),
    "softmax_ce_nobias": ("Where the untitled course notes on a 3-layer softmax network slip", softmax_slips),
    "backprop_notes_4321": ('Where "Back Propagation" slips', notes_slips),
    "hw_backprop_relu_single": ('Where "CS 1678/2078 HW Backprop" slips in part 1', hw_single_slips),
    "hw_backprop_relu_batch": ('Where "CS 1678/2078 HW Backprop" slips in part 2', hw_batch_slips),
}


def q12_summary(exp):
    L1, L2 = exp["layers"]
    dW1 = np.array(L1["dL_dW"])
    db1 = np.array(L1["dL_db"])
    return {
        "loss": exp["loss"],
        "yhat": [r[0] for r in exp["output"]],
        "dL_dW1": dW1.tolist(),
        "dL_db1": db1.tolist(),
        "dL_dW2": L2["dL_dW"],
        "dL_db2": L2["dL_db"],
    }


def main():
    os.makedirs(EX_DIR, exist_ok=True)
    stats = gg.Stats()
    doc = ["# Worked examples", "",
           "Each example is a model file in `examples/` built from one network in the course",
           "notes (homework write-ups: \"CS577 Assignment 2\", \"Back Propagation\",",
           "\"CS 1678/2078 HW Backprop\" and two untitled ones, on a 3-layer softmax network",
           "and on a sigmoid network with BCE).  The values below are the",
           "true ones, computed in float64 with PyTorch autograd by",
           "`tests/golden/gen_examples.py` and checked there against an independent",
           "NumPy backward pass and central finite differences; they are what",
           "`backprop grad examples/NAME.json --json` prints (the full-precision object is",
           "in `examples/NAME.expected.json`).  Numbers are rounded to 6 significant digits.",
           "Where the notes give no numbers, the numbers were chosen by us, as stated.",
           "",
           "Conventions: `out_in` layout means W is units x fan_in and z = a W^T + b;",
           "`in_out` means W is fan_in x units and z = a W + b.  a, z and the gradients",
           "with respect to them have one row per sample.  For the last layer of a",
           "`bce` / `cross_entropy` model, dL/da is the derivative of the loss as written",
           "(-y/yhat + (1-y)/(1-yhat), resp. -y/yhat, times 1/m for `mean`), where a term",
           "whose target factor is exactly 0 (y = 0 or y = 1 in bce, y_j = 0 in",
           "cross-entropy) vanishes and contributes 0 even at yhat == 0 or 1; only an entry",
           "that is still infinite (yhat == 0 or 1 with a non-vanishing term) is `null`.",
           "All other gradients come from the fused, numerically stable form",
           "(dL/dz = yhat - y, times 1/m for `mean`).",
           "",
           "Regenerate with `/usr/bin/python3 tests/golden/gen_examples.py`.", ""]
    doc.append("| file | course notes | network | loss | reduction | m |")
    doc.append("|---|---|---|---|---|---|")
    for ex in EXAMPLES:
        m = ex["model"]
        net = "-".join(str(n) for n in [m["inputs"]] + [l["units"] for l in m["layers"]])
        acts = "/".join(l["activation"] for l in m["layers"])
        doc.append(f"| `examples/{ex['name']}.json` | {NOTES[ex['notes']][0]} | {net} {acts} | "
                   f"{m['loss']} | {m['reduction']} | {len(m['data']['x'])} |")
    doc.append("")
    results = {}
    for ex in EXAMPLES:
        model = ex["model"]
        exp = gg.compute(model)
        gg.verify(model, exp, stats)
        # no ReLU pre-activation may sit exactly on the kink in the examples
        for layer, e in zip(model["layers"], exp["layers"]):
            if layer["activation"] == "relu":
                assert np.min(np.abs(np.array(e["z"]))) > 1e-6, ex["name"]
        if ex["name"].startswith("hw_backprop_relu"):
            assert np.any(np.array(exp["layers"][0]["z"]) < 0), "want an inactive ReLU"
        gg.write_json(os.path.join(EX_DIR, ex["name"] + ".json"), model)
        gg.write_json(os.path.join(EX_DIR, ex["name"] + ".expected.json"), exp)
        results[ex["name"]] = exp

        doc.append(f"## `{ex['name']}` -- {ex['title']}")
        doc.append("")
        doc.append(f"From {NOTES[ex['notes']][1]}.")
        doc.append("")
        doc.append(ex["text"])
        doc.append("")
        doc.append(f"Model file: [`examples/{ex['name']}.json`](../examples/{ex['name']}.json); "
                   f"expected output: [`examples/{ex['name']}.expected.json`]"
                   f"(../examples/{ex['name']}.expected.json).")
        doc.append("")
        doc.append(f"**Loss = {g6(exp['loss'])}**")
        doc.append("")
        doc.append("Output (yhat):\n\n" + mat_table(exp["output"], "sample", "output") + "\n")
        doc.append(layer_section(model, exp))
        if ex["name"] == "q12":
            doc.append("### Where the hand computation in CS577 Assignment 2 slips")
            doc.append("")
            doc.append(q12_slips(exp))
            doc.append("")
        if ex["name"] in SLIPS:
            title, fn = SLIPS[ex["name"]]
            doc.append("### " + title)
            doc.append("")
            doc.append(fn(model, exp))
            doc.append("")
    with open(DOC, "w") as f:
        f.write("\n".join(doc).rstrip() + "\n")
    print(f"{len(EXAMPLES)} examples; FD entries checked {stats.fd_checked}, "
          f"worst FD rel err {stats.fd_worst:.2e}")
    print(json.dumps(q12_summary(results["q12"]), indent=1))


if __name__ == "__main__":
    main()
