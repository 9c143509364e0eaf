#!/usr/bin/python3
"""Generate the golden fixtures for `backprop step MODEL --json`.

Run by hand from the repository root (needs PyTorch, float64 throughout):

    /usr/bin/python3 tests/golden/gen_steps.py

Writes tests/golden/steps/NAME.steps.json for a selection of the golden
networks (tests/golden/cases/) and the examples (examples/): for each, runs of
full-batch steps with torch.optim (SGD, SGD with momentum, SGD with Nesterov
momentum, Adam), each run with its settings and the object `backprop step
--json` must print for them:

    {"model": "tests/golden/cases/case_000.json",
     "runs": [{"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "betas": [0.9, 0.999],
               "eps": 1e-08, "steps": 3, "tol": 0, "stopped": false,
               "expected": {"steps": [{"loss", "layers": [{"W", "b"}], "loss_after",
                                       "delta_loss"}]}}]}

A run with tol > 0 stops after the first step whose |loss_after - loss| < tol
(the stop rule of "CS577 Assignment 2"); its tol is chosen here so that the
rule first holds at a step in the middle of the run, far from the boundary
(a factor of 1.5 on either side), and "stopped" says it did.

Every run is checked before anything is written: the torch.optim parameters
after every step must agree (1e-12 relative) with the update rules written out
by hand in NumPy, on gradients from gen_golden.py's hand-written NumPy backward
pass (np_backprop), not from autograd.
"""

import copy
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_golden as gg  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(HERE, "steps")
F64 = torch.float64

# The golden cases used: every fifth random network and every hand-built edge case.
CASES = [f"tests/golden/cases/case_{i:03d}.json" for i in list(range(0, 72, 5)) + list(range(72, 80))]
EXAMPLES = ["examples/q12.json", "examples/sigmoid_bce_mean.json", "examples/backprop_notes_4321.json",
            "examples/hw_backprop_relu_single.json", "examples/hw_backprop_relu_batch.json",
            "examples/softmax_ce_nobias.json"]

# (optimizer, lr, momentum, betas, eps, steps)
RUNS = [
    ("sgd", 0.1, 0.9, (0.9, 0.999), 1e-8, 3),
    ("momentum", 0.1, 0.9, (0.9, 0.999), 1e-8, 3),
    ("nesterov", 0.05, 0.8, (0.9, 0.999), 1e-8, 3),
    ("adam", 0.01, 0.9, (0.9, 0.999), 1e-8, 3),
    ("adam", 0.05, 0.9, (0.8, 0.99), 1e-6, 3),
]


# --------------------------------------------------------------------------
# The loss as a function of the parameters (PyTorch, float64)
# --------------------------------------------------------------------------

def torch_loss(model, Ws, bs, X, Y):
    """The model's reduced loss at parameters Ws, bs (the formulas of
    gen_golden.compute: fused stable BCE and cross-entropy)."""
    layout = gg.layout_of(model)
    layers = model["layers"]
    loss_name = model["loss"]
    a = X
    loss = None
    for li, layer in enumerate(layers):
        last = li == len(layers) - 1
        z = a @ Ws[li].t() if layout == "out_in" else a @ Ws[li]
        if bs[li] is not None:
            z = z + bs[li]
        if last and loss_name == "bce":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="sum")
        elif last and loss_name == "cross_entropy":
            loss = -(Y * torch.log_softmax(z, dim=1)).sum()
        else:
            a = gg._act(layer["activation"], z)
    if loss is None:
        d = a - Y
        loss = (d * d).sum()
        if loss_name == "half_squared":
            loss = 0.5 * loss
    if model["reduction"] == "mean":
        loss = loss / X.shape[0]
    return loss


def make_optimizer(name, params, lr, mu, betas, eps):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=mu)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=mu, nesterov=True)
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)


def torch_run(model, name, lr, mu, betas, eps, steps, tol):
    """Up to `steps` steps; returns the step records and whether the stop rule fired."""
    X = torch.tensor(model["data"]["x"], dtype=F64)
    Y = torch.tensor(model["data"]["y"], dtype=F64)
    Ws = [torch.tensor(l["W"], dtype=F64, requires_grad=True) for l in model["layers"]]
    bs = [torch.tensor(l["b"], dtype=F64, requires_grad=True) if gg.has_bias(l) else None for l in model["layers"]]
    params = Ws + [b for b in bs if b is not None]
    opt = make_optimizer(name, params, lr, mu, betas, eps)
    out, stopped = [], False
    for t in range(steps):
        opt.zero_grad()
        loss = torch_loss(model, Ws, bs, X, Y)
        loss.backward()
        opt.step()
        with torch.no_grad():
            after = torch_loss(model, Ws, bs, X, Y).item()
        rec = {
            "loss": loss.item(),
            "layers": [{"W": W.detach().tolist(), "b": b.detach().tolist() if b is not None else None}
                       for W, b in zip(Ws, bs)],
            "loss_after": after,
            "delta_loss": after - loss.item(),
        }
        assert all(math.isfinite(v) for v in (rec["loss"], after)), rec
        out.append(rec)
        if tol > 0 and abs(after - loss.item()) < tol:
            stopped = True
            break
    return out, stopped


# --------------------------------------------------------------------------
# The independent check: the update rules by hand on NumPy gradients
# --------------------------------------------------------------------------

def numpy_run(model, name, lr, mu, betas, eps, steps):
    m = copy.deepcopy(model)
    Ws = [np.array(l["W"], dtype=np.float64) for l in m["layers"]]
    bs = [np.array(l["b"], dtype=np.float64) if gg.has_bias(l) else None for l in m["layers"]]
    state = {}
    out = []
    for t in range(1, steps + 1):
        for li, l in enumerate(m["layers"]):
            l["W"] = Ws[li].tolist()
            if bs[li] is not None:
                l["b"] = bs[li].tolist()
        grads, _ = gg.np_backprop(m)
        new = []
        for li in range(len(Ws)):
            for key, p, g in (("W", Ws[li], grads[li]["dL_dW"]), ("b", bs[li], grads[li]["dL_db"])):
                if p is None:
                    continue
                k = (li, key)
                if name == "sgd":
                    p = p - lr * g
                elif name in ("momentum", "nesterov"):
                    v = g.copy() if t == 1 else mu * state[k] + g      # the buffer starts as the first gradient
                    state[k] = v
                    p = p - lr * (v if name == "momentum" else g + mu * v)
                else:
                    m1, m2 = state.get(k, (np.zeros_like(p), np.zeros_like(p)))
                    m1 = betas[0] * m1 + (1 - betas[0]) * g
                    m2 = betas[1] * m2 + (1 - betas[1]) * g * g
                    state[k] = (m1, m2)
                    mh = m1 / (1 - betas[0] ** t)
                    vh = m2 / (1 - betas[1] ** t)
                    p = p - lr * mh / (np.sqrt(vh) + eps)
                new.append((li, key, p))
        for li, key, p in new:
            if key == "W":
                Ws[li] = p
            else:
                bs[li] = p
        out.append([(Ws[li].copy(), None if bs[li] is None else bs[li].copy()) for li in range(len(Ws))])
    return out


def close(a, b, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    err = np.abs(a - b) <= 1e-12 * np.maximum(np.abs(a), np.abs(b)) + 1e-15
    assert bool(np.all(err)), (what, a.tolist(), b.tolist())


def check(model, recs, name, lr, mu, betas, eps, where):
    ref = numpy_run(model, name, lr, mu, betas, eps, len(recs))
    for t, (rec, layers) in enumerate(zip(recs, ref)):
        for li, (L, (W, b)) in enumerate(zip(rec["layers"], layers)):
            close(L["W"], W, (where, name, t, li, "W"))
            if b is not None:
                close(L["b"], b, (where, name, t, li, "b"))
        if t + 1 < len(recs):
            assert recs[t + 1]["loss"] == rec["loss_after"], (where, t)


# --------------------------------------------------------------------------
# Stop-rule runs
# --------------------------------------------------------------------------

def stop_tol(model, name, lr, mu, betas, eps, cap, at):
    """A tol with which the rule first holds at step `at` (1-based), with a
    margin of 1.5 on either side, or None."""
    try:
        recs, _ = torch_run(model, name, lr, mu, betas, eps, cap, 0)
    except AssertionError:   # diverged: no stop-rule run for this model
        return None
    d = [abs(r["delta_loss"]) for r in recs]
    if len(d) < at or at < 2:
        return None
    before = min(d[:at - 1])
    if not (d[at - 1] * 1.5 * 1.5 < before):
        return None
    return math.sqrt(d[at - 1] * before)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for path in CASES + EXAMPLES:
        with open(os.path.join(ROOT, path)) as f:
            model = json.load(f)
        runs = []
        for name, lr, mu, betas, eps, steps in RUNS:
            recs, stopped = torch_run(model, name, lr, mu, betas, eps, steps, 0)
            check(model, recs, name, lr, mu, betas, eps, path)
            runs.append({"optimizer": name, "lr": lr, "momentum": mu, "betas": list(betas), "eps": eps,
                         "steps": steps, "tol": 0, "stopped": stopped, "expected": {"steps": recs}})
        # the stop rule: plain gradient descent and momentum, stopping at step 3 of at most 8
        for name, lr, mu in (("sgd", 0.1, 0.9), ("momentum", 0.05, 0.5)):
            tol = stop_tol(model, name, lr, mu, (0.9, 0.999), 1e-8, 8, 3)
            if tol is None:
                continue
            recs, stopped = torch_run(model, name, lr, mu, (0.9, 0.999), 1e-8, 8, tol)
            assert stopped and len(recs) == 3, (path, name, len(recs))
            check(model, recs, name, lr, mu, (0.9, 0.999), 1e-8, path)
            runs.append({"optimizer": name, "lr": lr, "momentum": mu, "betas": [0.9, 0.999], "eps": 1e-8,
                         "steps": 8, "tol": tol, "stopped": True, "expected": {"steps": recs}})
        name = os.path.splitext(os.path.basename(path))[0]
        gg.write_json(os.path.join(OUT_DIR, name + ".steps.json"), {"model": path, "runs": runs})
        total += len(runs)
    print(f"{len(CASES) + len(EXAMPLES)} models, {total} runs written to {os.path.relpath(OUT_DIR, ROOT)}")


if __name__ == "__main__":
    main()
