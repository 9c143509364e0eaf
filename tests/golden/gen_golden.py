#!/usr/bin/python3
"""Generate the golden fixtures for `backprop grad FILE --json`.

Run by hand from the repository root (needs PyTorch, float64 throughout):

    /usr/bin/python3 tests/golden/gen_golden.py

Writes tests/golden/cases/case_NNN.json (a model file) and
tests/golden/cases/case_NNN.expected.json (the object `backprop grad --json`
must print) for a fixed-seed set of random networks plus hand-built edge cases.

Every expected file is checked three ways before it is written:
  1. PyTorch autograd (the values written),
  2. an independent NumPy forward/backward pass written out by hand,
  3. a central finite difference (5-point stencil) of a NumPy forward pass, for
     every W, b, x entry and every z and hidden a entry (entries whose stencil
     would cross a ReLU kink are skipped; the hand-written pass covers them),
     plus the last layer's dL/da against the loss *as written*.
Any disagreement aborts the run.

The functions compute(), verify() and dumps() are reused by gen_examples.py.
"""

import json
import math
import os
import random
import sys

import numpy as np
import torch

F64 = torch.float64
HIDDEN_ACTS = ["sigmoid", "relu", "tanh", "linear"]
OUTPUT_ACTS = ["sigmoid", "relu", "tanh", "linear", "softmax"]

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 577


# --------------------------------------------------------------------------
# Model helpers
# --------------------------------------------------------------------------

def layout_of(model):
    return model.get("weight_layout", "out_in")


def has_bias(layer):
    """A separate b (not the bias trick)."""
    return layer.get("bias", True) is True


def is_trick(layer):
    """"bias": "trick": the bias is W's first column (out_in) or row (in_out), the input gets a leading 1."""
    return layer.get("bias") == "trick"


def check_model(model):
    """Structural sanity of a model dict (the same rules the C tool enforces)."""
    layout = layout_of(model)
    assert layout in ("out_in", "in_out"), layout
    fan_in = model["inputs"]
    layers = model["layers"]
    assert len(layers) >= 1
    for li, layer in enumerate(layers):
        n = layer["units"]
        W = layer["W"]
        k = fan_in + is_trick(layer)
        if layout == "out_in":
            assert len(W) == n and all(len(r) == k for r in W), (li, "W shape")
        else:
            assert len(W) == k and all(len(r) == n for r in W), (li, "W shape")
        if has_bias(layer):
            assert len(layer["b"]) == n, (li, "b shape")
        else:
            assert "b" not in layer, (li, "b given with bias false")
        act = layer["activation"]
        if li < len(layers) - 1:
            assert act in HIDDEN_ACTS, act
        else:
            assert act in OUTPUT_ACTS, act
        fan_in = n
    loss = model["loss"]
    out_act = layers[-1]["activation"]
    assert loss in ("squared", "half_squared", "bce", "cross_entropy"), loss
    if loss == "bce":
        assert out_act == "sigmoid"
    if loss == "cross_entropy":
        assert out_act == "softmax"
    assert model["reduction"] in ("sum", "mean")
    x, y = model["data"]["x"], model["data"]["y"]
    assert len(x) == len(y) >= 1
    assert all(len(r) == model["inputs"] for r in x)
    assert all(len(r) == layers[-1]["units"] for r in y)
    if loss == "cross_entropy":
        for r in y:
            assert all(v >= 0 for v in r) and abs(sum(r) - 1.0) < 1e-12, r
    if loss == "bce":
        for r in y:
            assert all(0 <= v <= 1 for v in r), r


# --------------------------------------------------------------------------
# Reference computation (PyTorch autograd, float64)
# --------------------------------------------------------------------------

def _act(name, z, relu_at_zero=0):
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "relu":
        # torch.relu's derivative at 0 is 0; torch.clamp(z, min=0) passes the
        # gradient where z >= 0, so its derivative at 0 is 1
        return torch.clamp(z, min=0) if relu_at_zero else torch.relu(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "linear":
        return z
    if name == "softmax":
        return torch.softmax(z, dim=1)
    raise ValueError(name)


def _finite_or_none(t):
    out = []
    for row in t.tolist():
        out.append([v if math.isfinite(v) else None for v in row])
    return out


def last_dL_da(loss_name, yh, Y, m):
    """dL/dyhat of the loss *as written*, float64, for the last layer of a bce /
    cross_entropy model (m = batch size for reduction mean, None for sum).

    A term whose target factor is exactly 0 vanishes identically (for every
    yhat), so it contributes 0 to the derivative, also where yhat is 0 or 1:
      bce: -[y log yhat + (1-y) log(1-yhat)]
           -> (y != 0 ? -y/yhat : 0) + (y != 1 ? (1-y)/(1-yhat) : 0)
      cross_entropy: -sum_j y_j log yhat_j -> y_j != 0 ? -y_j/yhat_j : 0
    then divided by m for mean.  What is left non-finite (yhat == 0 or 1 with a
    non-vanishing term) is written as null.  The vanishing terms are written
    as -0.0, which is what the literal formula gives wherever it is finite,
    so those entries are unchanged from the literal evaluation.

    Cross-checked against PyTorch autograd of the literal loss
    -sum[y log yhat + ...] w.r.t. yhat: wherever autograd is finite the two
    must agree to 1e-12 relative (autograd gives NaN from 0 * inf exactly at the
    entries this function handles analytically)."""
    with torch.no_grad():
        if loss_name == "bce":
            t1 = torch.where(Y == 0, torch.full_like(yh, -0.0), -(Y / yh))
            t2 = torch.where(Y == 1, torch.zeros_like(yh), (1 - Y) / (1 - yh))
            da = t1 + t2
        else:
            da = torch.where(Y == 0, torch.full_like(yh, -0.0), -Y / yh)
        if m is not None:
            da = da / m

    # internal cross-check against autograd of the literal formula
    q = yh.clone().requires_grad_(True)
    if loss_name == "bce":
        lit = -(Y * torch.log(q) + (1 - Y) * torch.log(1 - q)).sum()
    else:
        lit = -(Y * torch.log(q)).sum()
    if m is not None:
        lit = lit / m
    lit.backward()
    ag = q.grad.detach()
    ok = torch.isfinite(ag)
    assert bool(torch.all(torch.isfinite(da)[ok])), (da, ag)
    diff = (da - ag).abs()[ok]
    big = torch.maximum(da.abs(), ag.abs())[ok]
    assert bool(torch.all(diff <= 1e-12 * big)), (da, ag)
    # non-finite only where a non-vanishing term meets yhat == 0 or 1
    bad = ~torch.isfinite(da)
    if loss_name == "bce":
        allowed = ((yh == 1) & (Y != 1)) | ((yh == 0) & (Y != 0))
    else:
        allowed = (yh == 0) & (Y != 0)
    assert bool(torch.all(allowed[bad])), (da, yh, Y)
    return da


def compute(model, relu_at_zero=0):
    """Return the expected `grad --json` object for a model dict (relu'(0) =
    relu_at_zero, 0 being PyTorch's own)."""
    check_model(model)
    layout = layout_of(model)
    layers = model["layers"]
    X = torch.tensor(model["data"]["x"], dtype=F64)
    Y = torch.tensor(model["data"]["y"], dtype=F64)
    m = X.shape[0]
    loss_name = model["loss"]
    mean = model["reduction"] == "mean"

    x = X.clone().requires_grad_(True)
    a = x
    Ws, bs, zs, acts = [], [], [], []
    loss = None
    for li, layer in enumerate(layers):
        last = li == len(layers) - 1
        W = torch.tensor(layer["W"], dtype=F64, requires_grad=True)
        inp = torch.cat([torch.ones(m, 1, dtype=F64), a], dim=1) if is_trick(layer) else a
        z = inp @ W.t() if layout == "out_in" else inp @ W
        b = None
        if has_bias(layer):
            b = torch.tensor(layer["b"], dtype=F64, requires_grad=True)
            z = z + b
        z.retain_grad()
        Ws.append(W)
        bs.append(b)
        zs.append(z)
        if last and loss_name == "bce":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, Y, reduction="sum")
            a = torch.sigmoid(z).detach()
        elif last and loss_name == "cross_entropy":
            loss = -(Y * torch.log_softmax(z, dim=1)).sum()
            a = torch.softmax(z, dim=1).detach()
        else:
            a = _act(layer["activation"], z, relu_at_zero)
            if a.requires_grad:
                a.retain_grad()
        acts.append(a)
    if loss is None:
        d = acts[-1] - Y
        loss = (d * d).sum()
        if loss_name == "half_squared":
            loss = 0.5 * loss
    if mean:
        loss = loss / m
    loss.backward()

    out_layers = []
    for li, layer in enumerate(layers):
        last = li == len(layers) - 1
        z, a, W, b = zs[li], acts[li], Ws[li], bs[li]
        if last and loss_name in ("bce", "cross_entropy"):
            da = last_dL_da(loss_name, a.detach(), Y, m if mean else None)
            dL_da = _finite_or_none(da)
        else:
            dL_da = a.grad.tolist()
        out_layers.append({
            "z": z.detach().tolist(),
            "a": a.detach().tolist(),
            "dL_da": dL_da,
            "dL_dz": z.grad.tolist(),
            "dL_dW": W.grad.tolist(),
            "dL_db": b.grad.tolist() if b is not None else None,
        })
    return {
        "loss": loss.item(),
        "output": acts[-1].detach().tolist(),
        "layers": out_layers,
        "dL_dx": x.grad.tolist(),
    }


# --------------------------------------------------------------------------
# Independent NumPy checks
# --------------------------------------------------------------------------

def _np_act(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    if name == "linear":
        return z.copy()
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def _arrays(model):
    return {
        "x": np.array(model["data"]["x"], dtype=np.float64),
        "y": np.array(model["data"]["y"], dtype=np.float64),
        "W": [np.array(l["W"], dtype=np.float64) for l in model["layers"]],
        "b": [np.array(l["b"], dtype=np.float64) if has_bias(l) else None
              for l in model["layers"]],
    }


def np_loss(model, arr, hook=None):
    """Stable-formulation loss in NumPy.  hook = (kind, layer, i, j, eps) adds
    eps to z or a (kind 'z' / 'a') of that layer.  Also returns the ReLU masks
    so that a finite difference crossing a kink can be recognised."""
    layout = layout_of(model)
    layers = model["layers"]
    m = arr["x"].shape[0]
    y = arr["y"]
    a = arr["x"]
    masks = []
    loss = None
    for li, layer in enumerate(layers):
        last = li == len(layers) - 1
        W, b = arr["W"][li], arr["b"][li]
        inp = np.hstack([np.ones((m, 1)), a]) if is_trick(layer) else a
        z = inp @ W.T if layout == "out_in" else inp @ W
        if b is not None:
            z = z + b
        if hook and hook[0] == "z" and hook[1] == li:
            z = z.copy()
            z[hook[2], hook[3]] += hook[4]
        if layer["activation"] == "relu":
            masks.append(z > 0)
        if last and model["loss"] == "bce":
            loss = np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
            break
        if last and model["loss"] == "cross_entropy":
            zm = z - z.max(axis=1, keepdims=True)
            lsm = zm - np.log(np.exp(zm).sum(axis=1, keepdims=True))
            loss = -np.sum(y * lsm)
            break
        a = _np_act(layer["activation"], z)
        if hook and hook[0] == "a" and hook[1] == li:
            a = a.copy()
            a[hook[2], hook[3]] += hook[4]
    if loss is None:
        d = a - y
        loss = np.sum(d * d)
        if model["loss"] == "half_squared":
            loss *= 0.5
    if model["reduction"] == "mean":
        loss /= m
    return loss, masks


def np_backprop(model, relu_at_zero=0):
    """Hand-written backward pass (ReLU derivative 0 at z <= 0, like PyTorch;
    with relu_at_zero, 1 at z >= 0)."""
    arr = _arrays(model)
    layout = layout_of(model)
    layers = model["layers"]
    m = arr["x"].shape[0]
    y = arr["y"]
    scale = 1.0 / m if model["reduction"] == "mean" else 1.0
    a_list, z_list = [arr["x"]], []
    a = arr["x"]
    for li, layer in enumerate(layers):
        W, b = arr["W"][li], arr["b"][li]
        z = a @ W.T if layout == "out_in" else a @ W
        if b is not None:
            z = z + b
        a = _np_act(layer["activation"], z)
        z_list.append(z)
        a_list.append(a)
    yh = a_list[-1]
    loss_name = model["loss"]
    out_act = layers[-1]["activation"]
    if loss_name in ("bce", "cross_entropy"):
        if loss_name == "bce":
            dz = (yh - y) * scale
        else:
            dz = (yh * y.sum(axis=1, keepdims=True) - y) * scale
        da = None
    else:
        da = (2.0 if loss_name == "squared" else 1.0) * (yh - y) * scale
        dz = None
    grads = [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        layer = layers[li]
        act = layer["activation"]
        z, a = z_list[li], a_list[li + 1]
        if dz is None:
            if act == "sigmoid":
                dz = da * a * (1 - a)
            elif act == "tanh":
                dz = da * (1 - a * a)
            elif act == "relu":
                dz = da * ((z >= 0) if relu_at_zero else (z > 0))
            elif act == "linear":
                dz = da.copy()
            elif act == "softmax":
                dz = a * (da - (da * a).sum(axis=1, keepdims=True))
        a_prev, W = a_list[li], arr["W"][li]
        dW = dz.T @ a_prev if layout == "out_in" else a_prev.T @ dz
        db = dz.sum(axis=0) if arr["b"][li] is not None else None
        grads[li] = {"dL_da": da, "dL_dz": dz, "dL_dW": dW, "dL_db": db}
        da = dz @ W if layout == "out_in" else dz @ W.T
        dz = None
    return grads, da  # da is now dL/dx


def _close(a, b, rtol, floor_frac, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    if a.size == 0:
        return 0.0
    floor = max(1e-300, floor_frac * float(np.max(np.abs(b))))
    err = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    worst = float(np.max(err))
    if STATS is not None:
        # how many entries a comparator *without* an absolute floor would reject
        pure = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
        STATS.np_pure_fail += int(np.sum(pure > 1e-9))
        STATS.np_entries += a.size
        STATS.np_atol_fail += int(np.sum(np.abs(a - b) > 1e-9 * np.abs(b) + 1e-12))
        mx = float(np.max(np.abs(b)))
        if mx > 0:
            STATS.np_abs_worst = max(STATS.np_abs_worst, float(np.max(np.abs(a - b))) / mx)
    assert worst <= rtol, (what, worst, a.tolist(), b.tolist())
    return worst


def _fd(f, x0, h):
    """5-point central stencil; returns (derivative, list of evaluation extras)."""
    vals, extras = [], []
    for k in (-2, -1, 1, 2):
        v, e = f(x0 + k * h)
        vals.append(v)
        extras.append(e)
    d = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return d, extras


def _same_masks(base, others):
    for o in others:
        for mb, mo in zip(base, o):
            if not np.array_equal(mb, mo):
                return False
    return True


class Stats:
    def __init__(self):
        self.fd_checked = 0
        self.fd_skipped = 0
        self.fd_worst = 0.0
        self.np_worst = 0.0
        self.np_pure_fail = 0
        self.np_entries = 0
        self.np_abs_worst = 0.0
        self.np_atol_fail = 0


STATS = None  # set by main() to collect comparator statistics


def verify(model, exp, stats=None, rtol_fd=1e-6, relu_at_zero=0):
    """Assert that `exp` (from compute) matches the NumPy backprop and finite
    differences.  Raises AssertionError on any disagreement."""
    if stats is None:
        stats = Stats()
    json.dumps(exp, allow_nan=False)  # no NaN/inf may reach the file
    layers = model["layers"]
    L = len(layers)
    arr = _arrays(model)

    # 1. hand-written NumPy backward pass
    grads, dx = np_backprop(model, relu_at_zero)
    w = _close(exp["dL_dx"], dx, 1e-9, 1e-4, "np dL_dx")
    stats.np_worst = max(stats.np_worst, w)
    for li in range(L):
        g, e = grads[li], exp["layers"][li]
        for key in ("dL_dz", "dL_dW", "dL_db"):
            if g[key] is None:
                assert e[key] is None, (li, key)
                continue
            w = _close(e[key], g[key], 1e-9, 1e-4, ("np", li, key))
            stats.np_worst = max(stats.np_worst, w)
        if g["dL_da"] is not None:
            w = _close(e["dL_da"], g["dL_da"], 1e-9, 1e-4, ("np", li, "dL_da"))
            stats.np_worst = max(stats.np_worst, w)

    base_loss, base_masks = np_loss(model, arr)
    _close([exp["loss"]], [base_loss], 1e-12, 0, "loss")
    assert math.isfinite(exp["loss"])

    # 2. finite differences
    def check_entry(what, analytic, f, x0):
        # Steps 1e-3, 1e-4, 1e-5 (times max(1, |x0|)); use the estimate from the
        # pair of consecutive steps that agree best (chosen without looking at
        # the analytic value).  Needed for steep cases such as |z| ~ 800 logits.
        scale = max(1.0, abs(x0))
        ds = []
        for h in (1e-3 * scale, 1e-4 * scale, 1e-5 * scale):
            d, extras = _fd(f, x0, h)
            if not _same_masks(base_masks, extras):
                stats.fd_skipped += 1
                return None
            ds.append(d)
        k = min(range(len(ds) - 1), key=lambda k: abs(ds[k] - ds[k + 1]))
        stats.fd_checked += 1
        return ds[k + 1], (1e-3, 1e-4, 1e-5)[k + 1] * scale

    def check_array(what, analytic, get_f, shape, values):
        fds, ans, hs = [], [], []
        for idx in np.ndindex(*shape):
            f = get_f(idx)
            r = check_entry(what, None, f, values[idx])
            if r is None:
                continue
            fds.append(r[0])
            hs.append(r[1])
            ans.append(np.asarray(analytic, dtype=np.float64)[idx])
        if not fds:
            return
        ans = np.array(ans)
        fds = np.array(fds)
        # allowance for the stencil's round-off: ~ eps * |loss| / h
        fds_round = 50 * 2.2e-16 * (1.0 + abs(base_loss)) / np.array(hs)
        fds_abs = np.abs(fds - ans)
        fds = np.where(fds_abs <= fds_round, ans, fds)
        # relative error, with a floor for entries that are tiny compared with the
        # largest entry of the array
        floor = max(1e-300, 1e-3 * float(np.max(np.abs(np.asarray(analytic, dtype=np.float64)))))
        err = np.abs(fds - ans) / np.maximum(np.maximum(np.abs(fds), np.abs(ans)), floor)
        worst = float(np.max(err))
        assert worst < rtol_fd, (what, worst, fds.tolist(), ans.tolist())
        stats.fd_worst = max(stats.fd_worst, worst)

    def param_f(kind, li, idx):
        def f(v):
            a2 = {"x": arr["x"].copy(), "y": arr["y"],
                  "W": [w.copy() for w in arr["W"]],
                  "b": [None if b is None else b.copy() for b in arr["b"]]}
            if kind == "x":
                a2["x"][idx] = v
            else:
                a2[kind][li][idx] = v
            return np_loss(model, a2)
        return f

    check_array("dL_dx", exp["dL_dx"], lambda idx: param_f("x", None, idx),
                arr["x"].shape, arr["x"])
    for li in range(L):
        e = exp["layers"][li]
        check_array(("dL_dW", li), e["dL_dW"], lambda idx, li=li: param_f("W", li, idx),
                    arr["W"][li].shape, arr["W"][li])
        if arr["b"][li] is not None:
            check_array(("dL_db", li), e["dL_db"], lambda idx, li=li: param_f("b", li, idx),
                        arr["b"][li].shape, arr["b"][li])
        z = np.array(e["z"])
        check_array(("dL_dz", li), e["dL_dz"],
                    lambda idx, li=li, z=z: (lambda v: np_loss(model, arr, ("z", li, idx[0], idx[1], v - z[idx]))),
                    z.shape, z)
        last = li == L - 1
        if not last or model["loss"] in ("squared", "half_squared"):
            a = np.array(e["a"])
            check_array(("dL_da", li), e["dL_da"],
                        lambda idx, li=li, a=a: (lambda v: np_loss(model, arr, ("a", li, idx[0], idx[1], v - a[idx]))),
                        a.shape, a)

    # last layer dL/da of the loss as written, where finite
    if model["loss"] in ("bce", "cross_entropy"):
        yh = np.array(exp["output"])
        y = arr["y"]
        m = y.shape[0]
        sc = 1.0 / m if model["reduction"] == "mean" else 1.0
        da = exp["layers"][-1]["dL_da"]
        for i in range(yh.shape[0]):
            for j in range(yh.shape[1]):
                p = yh[i, j]
                t = y[i, j]
                if da[i][j] is None:
                    if model["loss"] == "bce":
                        assert (p == 1.0 and t != 1.0) or (p == 0.0 and t != 0.0), (i, j, p, t)
                    else:
                        assert p == 0.0 and t != 0.0, (i, j, p, t)
                    continue
                if model["loss"] == "bce":
                    # the loss as written, a vanishing term (y == 0 or 1) left
                    # out, so that it extends across yhat == 0 / 1 where the
                    # remaining term is finite
                    if p == 0.0 or p == 1.0:
                        assert t == (1.0 if p == 1.0 else 0.0), (i, j, p, t)
                        h = 1e-4
                    else:
                        h = 1e-4 * min(p, 1 - p)

                    def f(q, t=t):
                        v = 0.0
                        if t != 0.0:
                            v -= t * math.log(q)
                        if t != 1.0:
                            v -= (1 - t) * math.log1p(-q)
                        return (v * sc, [])
                else:
                    if p == 0.0:
                        assert t == 0.0 and da[i][j] == 0.0, (i, j, p, t, da[i][j])
                        continue
                    h = 1e-4 * p

                    def f(q, t=t):
                        return (-t * math.log(q) * sc if t != 0 else 0.0, [])
                d, _ = _fd(f, p, h)
                err = abs(d - da[i][j]) / max(abs(d), abs(da[i][j]), 1e-8)
                assert err < rtol_fd, ("last dL_da", i, j, d, da[i][j])
                stats.fd_checked += 1
                stats.fd_worst = max(stats.fd_worst, err)
    return stats


# --------------------------------------------------------------------------
# JSON output: full precision (repr), vectors on one line
# --------------------------------------------------------------------------

def _scalar(v):
    if v is None or isinstance(v, (bool, str)):
        return json.dumps(v)
    if isinstance(v, int):
        return str(v)
    assert math.isfinite(v), v
    return json.dumps(float(v))


def dumps(obj, ind=0):
    pad = "  " * (ind + 1)
    end = "  " * ind
    if isinstance(obj, dict):
        items = [pad + json.dumps(k) + ": " + dumps(v, ind + 1) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (list, dict)) for v in obj):
            return "[" + ", ".join(_scalar(v) for v in obj) + "]"
        return "[\n" + ",\n".join(pad + dumps(v, ind + 1) for v in obj) + "\n" + end + "]"
    return _scalar(obj)


def write_json(path, obj):
    text = dumps(obj) + "\n"
    assert json.loads(text) == json.loads(json.dumps(obj, allow_nan=False))
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------
# Case generation
# --------------------------------------------------------------------------

OUT_COMBOS = [
    ("sigmoid", "squared", None), ("sigmoid", "half_squared", None), ("sigmoid", "bce", None),
    ("relu", "squared", None), ("relu", "half_squared", None),
    ("tanh", "squared", None), ("tanh", "half_squared", None),
    ("linear", "squared", None), ("linear", "half_squared", None),
    ("softmax", "squared", None), ("softmax", "half_squared", None),
    ("softmax", "cross_entropy", "onehot"), ("softmax", "cross_entropy", "soft"),
]


def _dyadic_probs(rng, k):
    """A probability row with entries that are multiples of 1/16 summing exactly to 1."""
    while True:
        cuts = sorted(rng.randint(0, 16) for _ in range(k - 1))
        parts = [b - a for a, b in zip([0] + cuts, cuts + [16])]
        if sum(1 for p in parts if p > 0) >= 2:
            return [p / 16 for p in parts]


def _targets(rng, out_act, loss, ytype, m, k):
    if loss == "cross_entropy" or out_act == "softmax":
        if ytype == "soft" or (ytype is None and rng.random() < 0.5):
            return [_dyadic_probs(rng, k) if k > 1 else [1.0] for _ in range(m)]
        rows = []
        for _ in range(m):
            r = [0.0] * k
            r[rng.randrange(k)] = 1.0
            rows.append(r)
        return rows
    if loss == "bce":
        return [[float(rng.randint(0, 1)) for _ in range(k)] for _ in range(m)]
    if out_act == "sigmoid":
        return [[rng.uniform(0, 1) for _ in range(k)] for _ in range(m)]
    if out_act == "tanh":
        return [[rng.uniform(-1, 1) for _ in range(k)] for _ in range(m)]
    if out_act == "relu":
        return [[rng.uniform(0, 2) for _ in range(k)] for _ in range(m)]
    return [[rng.gauss(0, 2) for _ in range(k)] for _ in range(m)]


def random_case(rng, out_act, loss, ytype, reduction, layout):
    depth = rng.randint(1, 4)
    n_in = rng.randint(1, 5)
    m = rng.randint(1, 5)
    if out_act == "softmax":
        k = rng.randint(2, 5)
    elif loss == "bce":
        k = rng.randint(1, 3)
    else:
        k = rng.randint(1, 5)
    units = [rng.randint(1, 5) for _ in range(depth - 1)] + [k]
    acts = [rng.choice(HIDDEN_ACTS) for _ in range(depth - 1)] + [out_act]
    model = {"inputs": n_in}
    if layout == "in_out" or rng.random() < 0.5:
        model["weight_layout"] = layout
    layers = []
    fan_in = n_in
    for n, act in zip(units, acts):
        if rng.random() < 0.5:
            W = [[rng.uniform(-1.5, 1.5) for _ in range(fan_in)] for _ in range(n)]
        else:
            W = [[max(-2.5, min(2.5, rng.gauss(0, 0.9))) for _ in range(fan_in)] for _ in range(n)]
        if layout == "in_out":
            W = [list(r) for r in zip(*W)]
        layer = {"units": n, "activation": act}
        bias = rng.random() < 0.65
        if bias:
            if rng.random() < 0.5:
                layer["bias"] = True
        else:
            layer["bias"] = False
        layer["W"] = W
        if bias:
            layer["b"] = [rng.uniform(-1, 1) for _ in range(n)]
        layers.append(layer)
        fan_in = n
    model["layers"] = layers
    model["loss"] = loss
    model["reduction"] = reduction
    x = [[rng.uniform(-2, 2) for _ in range(n_in)] for _ in range(m)]
    model["data"] = {"x": x, "y": _targets(rng, out_act, loss, ytype, m, k)}
    return model


def edge_cases():
    """Hand-built cases; each returns (note, model)."""
    cases = []

    # ReLU kink: z exactly 0 in the first hidden layer (integer data, zero bias).
    cases.append(("relu z == 0 exactly in hidden layer 1 (out_in, zero bias)", {
        "inputs": 2,
        "layers": [
            {"units": 3, "activation": "relu", "W": [[2, -1], [1, 1], [-1, 2]], "b": [0, 0, 0]},
            {"units": 2, "activation": "tanh", "bias": False, "W": [[0.5, -0.25, 0.75], [-0.5, 1.0, 0.25]]},
            {"units": 1, "activation": "linear", "W": [[1.5, -2.0]], "b": [0.25]},
        ],
        "loss": "squared", "reduction": "sum",
        "data": {"x": [[1, 2], [2, 1], [0, 0]], "y": [[1], [-1], [0.5]]},
    }))

    # ReLU kink in the second hidden layer, in_out layout.
    cases.append(("relu z == 0 exactly in hidden layer 2 (in_out)", {
        "inputs": 3, "weight_layout": "in_out",
        "layers": [
            {"units": 2, "activation": "linear", "bias": False, "W": [[1, 0], [0, 1], [1, -1]]},
            {"units": 3, "activation": "relu", "bias": False, "W": [[1, -2, 3], [2, 1, -1]]},
            {"units": 2, "activation": "sigmoid", "W": [[0.5, -1.0], [1.0, 0.5], [-0.75, 0.25]], "b": [0.1, -0.1]},
        ],
        "loss": "half_squared", "reduction": "mean",
        # h = [x1 + x3, x2 - x3];  z2 = [h1 + 2 h2, -2 h1 + h2, 3 h1 - h2]
        # x = [1, -1, 0] -> h = [1, -1] -> z2 = [-1, -3, 4]
        # x = [1, 0, 1]  -> h = [2, -1] -> z2 = [0, -5, 7]   (z == 0)
        # x = [1, 2, 0]  -> h = [1, 2]  -> z2 = [5, 0, 1]    (z == 0)
        "data": {"x": [[1, -1, 0], [1, 0, 1], [1, 2, 0]], "y": [[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]]},
    }))

    # ReLU output layer with z == 0 exactly.
    cases.append(("relu output with z == 0 exactly", {
        "inputs": 2, "weight_layout": "out_in",
        "layers": [
            {"units": 2, "activation": "relu", "bias": False, "W": [[1, -1], [2, 1]]},
        ],
        "loss": "squared", "reduction": "mean",
        # z = [[0, 3], [-1, 5], [1, 0]] : two exact zeros, one negative
        "data": {"x": [[1, 1], [1, 2], [0.5, -1.5]], "y": [[0.5, 2.0], [1.0, 4.0], [1.5, 0.5]]},
    }))

    # BCE with a saturated sigmoid: yhat == 1.0 exactly in float64.
    cases.append(("bce with saturated sigmoid (z ~ 51, yhat == 1.0): dL_da null where y = 0, -1/m where y = 1; finite dL_dz", {
        "inputs": 2,
        "layers": [
            {"units": 2, "activation": "tanh", "bias": False, "W": [[1.0, 0.0], [0.0, 1.0]]},
            {"units": 2, "activation": "sigmoid", "W": [[30.0, 20.0], [-30.0, 1.0]], "b": [2.0, -5.0]},
        ],
        "loss": "bce", "reduction": "mean",
        "data": {"x": [[3.0, 3.0], [2.5, 3.0], [0.1, 0.2]], "y": [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]},
    }))

    # Cross-entropy with huge logits (|z| ~ 800): finite loss and gradients.
    cases.append(("cross_entropy with |z| ~ 800, one-hot y", {
        "inputs": 2,
        "layers": [
            {"units": 2, "activation": "linear", "bias": False, "W": [[1.0, 0.5], [-0.5, 1.0]]},
            {"units": 3, "activation": "softmax", "W": [[400.0, -100.0], [-300.0, 250.0], [10.0, 20.0]], "b": [0.0, 5.0, -5.0]},
        ],
        "loss": "cross_entropy", "reduction": "sum",
        "data": {"x": [[2.0, 0.0], [0.0, 2.0], [0.001, -0.002]], "y": [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]},
    }))

    cases.append(("cross_entropy with |z| ~ 800, soft y, in_out, mean", {
        "inputs": 3, "weight_layout": "in_out",
        "layers": [
            {"units": 4, "activation": "softmax", "W": [[300.0, -200.0, 100.0, 0.0], [-100.0, 400.0, 50.0, 1.0], [0.0, 0.0, 0.0, 2.0]], "b": [0.0, 0.0, 10.0, -10.0]},
        ],
        "loss": "cross_entropy", "reduction": "mean",
        "data": {"x": [[2.0, 1.0, 0.5], [-1.0, 2.0, 0.0]], "y": [[0.25, 0.5, 0.125, 0.125], [0.5, 0.0, 0.25, 0.25]]},
    }))

    # Softmax over a single unit: output is constantly 1, all gradients zero.
    cases.append(("softmax over a single unit with squared loss", {
        "inputs": 3,
        "layers": [
            {"units": 2, "activation": "sigmoid", "W": [[0.5, -1.0, 0.25], [1.5, 0.5, -0.5]], "b": [0.1, 0.2]},
            {"units": 1, "activation": "softmax", "W": [[0.75, -1.25]], "b": [0.3]},
        ],
        "loss": "squared", "reduction": "sum",
        "data": {"x": [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], "y": [[0.5], [1.0]]},
    }))

    # BCE with soft (non-binary) targets.
    cases.append(("bce with soft targets y in (0, 1)", {
        "inputs": 3,
        "layers": [
            {"units": 3, "activation": "relu", "W": [[0.8, -0.6, 0.4], [-1.2, 0.3, 0.9], [0.5, 0.5, -0.7]], "b": [0.1, 0.0, -0.2]},
            {"units": 2, "activation": "sigmoid", "bias": False, "W": [[1.1, -0.9, 0.6], [-0.4, 1.3, 0.8]]},
        ],
        "loss": "bce", "reduction": "sum",
        "data": {"x": [[1.0, -0.5, 2.0], [0.3, 0.8, -1.1], [-0.7, 1.5, 0.2], [2.0, 0.0, 1.0]],
                 "y": [[0.25, 0.75], [0.5, 0.5], [0.9, 0.1], [0.0, 1.0]]},
    }))
    return cases


def build_all():
    rng = random.Random(SEED)
    cases = []
    for out_act, loss, ytype in OUT_COMBOS:
        for reduction in ("sum", "mean"):
            for layout in ("out_in", "in_out"):
                cases.append(("random", random_case(rng, out_act, loss, ytype, reduction, layout)))
    while len(cases) < 72:
        out_act, loss, ytype = rng.choice(OUT_COMBOS)
        cases.append(("random", random_case(rng, out_act, loss, ytype,
                                             rng.choice(["sum", "mean"]),
                                             rng.choice(["out_in", "in_out"]))))
    cases.extend(edge_cases())
    return cases


def edge_assertions(note, model, exp):
    """Check that each edge case really exercises what its note says."""
    zs = [np.array(l["z"]) for l in exp["layers"]]
    if note.startswith("relu z == 0") or note.startswith("relu output"):
        hit = any(np.any((z == 0.0)) and model["layers"][i]["activation"] == "relu"
                  for i, z in enumerate(zs))
        assert hit, note
    if note.startswith("bce with saturated"):
        out = np.array(exp["output"])
        assert np.any(out == 1.0), out
        y = np.array(model["data"]["y"])
        da = exp["layers"][-1]["dL_da"]
        # yhat == 1.0 with y = 0: 1/(1 - yhat) is infinite -> null
        assert any(da[i][j] is None and y[i, j] == 0.0
                   for i in range(len(da)) for j in range(len(da[i])))
        # yhat == 1.0 with y = 1: the (1-y) term vanishes -> -1/yhat = -1 (/ m)
        m = len(da)
        assert any(out[i, j] == 1.0 and y[i, j] == 1.0 and da[i][j] == -1.0 / m
                   for i in range(m) for j in range(len(da[i])))
        assert np.max(np.abs(zs[-1])) > 36.8
    if "|z| ~ 800" in note:
        assert np.max(np.abs(zs[-1])) > 500, zs[-1]
        out = np.array(exp["output"])
        y = np.array(model["data"]["y"])
        da = exp["layers"][-1]["dL_da"]
        assert np.any(out == 0.0)
        # yhat == 0 exactly: 0 where y == 0 (the term vanishes), null where y > 0
        for i, j in zip(*np.nonzero(out == 0.0)):
            assert (da[i][j] == 0.0) if y[i, j] == 0.0 else (da[i][j] is None), (i, j)
        assert math.isfinite(exp["loss"])
    if note.startswith("softmax over a single"):
        assert np.all(np.array(exp["output"]) == 1.0)


def describe(model):
    L = model["layers"]
    return {
        "layout": layout_of(model),
        "loss": model["loss"],
        "reduction": model["reduction"],
        "out": L[-1]["activation"],
        "hidden": [l["activation"] for l in L[:-1]],
        "bias": [has_bias(l) for l in L],
        "m": len(model["data"]["x"]),
        "depth": len(L),
        "inputs": model["inputs"],
        "widths": [l["units"] for l in L],
    }


def coverage(descs):
    from collections import Counter
    c = {}
    c["hidden activation (layers)"] = Counter(a for d in descs for a in d["hidden"])
    c["output activation x loss"] = Counter(f'{d["out"]}+{d["loss"]}' for d in descs)
    c["reduction"] = Counter(d["reduction"] for d in descs)
    c["weight_layout"] = Counter(d["layout"] for d in descs)
    c["bias per layer"] = Counter("on" if b else "off" for d in descs for b in d["bias"])
    c["bias mix in case"] = Counter(
        "all on" if all(d["bias"]) else "all off" if not any(d["bias"]) else "mixed" for d in descs)
    c["batch size m"] = Counter(d["m"] for d in descs)
    c["depth"] = Counter(d["depth"] for d in descs)
    c["inputs"] = Counter(d["inputs"] for d in descs)
    c["layer width"] = Counter(w for d in descs for w in d["widths"])
    return c


def main():
    out_dir = os.path.join(HERE, "cases")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):
        if f.startswith("case_") and f.endswith(".json"):
            os.remove(os.path.join(out_dir, f))
    global STATS
    stats = Stats()
    STATS = stats
    descs = []
    index = []
    ce_soft = 0
    for i, (note, model) in enumerate(build_all()):
        exp = compute(model)
        verify(model, exp, stats)
        if note != "random":
            edge_assertions(note, model, exp)
        name = f"case_{i:03d}"
        write_json(os.path.join(out_dir, name + ".json"), model)
        write_json(os.path.join(out_dir, name + ".expected.json"), exp)
        d = describe(model)
        descs.append(d)
        if model["loss"] == "cross_entropy" and any(max(r) < 1.0 for r in model["data"]["y"]):
            ce_soft += 1
        index.append((name, note, d))
    for name, note, d in index:
        if note != "random":
            print(f"{name}: {note}")
    print(f"{len(index)} cases; finite-difference entries checked {stats.fd_checked}, "
          f"skipped at ReLU kinks {stats.fd_skipped}; worst FD rel err {stats.fd_worst:.2e}; "
          f"worst NumPy-vs-torch rel err {stats.np_worst:.2e} (floor 1e-4*max|array|); "
          f"entries differing by > 1e-9 relative with no floor: {stats.np_pure_fail}/{stats.np_entries}; "
          f"worst |diff|/max|array| {stats.np_abs_worst:.2e}; "
          f"entries failing |diff| <= 1e-9*|exp| + 1e-12: {stats.np_atol_fail}")
    for k, v in coverage(descs).items():
        print(f"{k}: " + ", ".join(f"{a}={b}" for a, b in sorted(v.items(), key=lambda t: str(t[0]))))
    print(f"cross_entropy cases with soft (non one-hot) y rows: {ce_soft}")
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"total fixture size {size} bytes")


if __name__ == "__main__":
    main()
