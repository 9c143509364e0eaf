#!/usr/bin/python3
"""PyTorch's side of the benchmark: the same recipe as bench/bp_mlp.c and bench/bp_tiny.c.

  torch_mlp.py mlp  [--epochs E] [--batch B] [--threads T] [--lr LR] [--seed S]
                    [--arch I-H1-...-K] [--dtype f32|f64] [--synthetic N]
  torch_mlp.py tiny [--dtype f64|f32] [--iters N] [--repeats R]

mlp: default 784-256-128-10 (ReLU hidden layers, logits -> F.cross_entropy, mean), He init
(kaiming_normal_, fan_in, gain sqrt(2): N(0, 2/fan_in), biases zero: the same
distribution as backprop's "he" init; not nn.Linear's default), SGD momentum
0.9 (PyTorch's v = mu v + g; p -= lr v, the same form as backprop's), a new
shuffle every epoch, the last partial batch kept.  Data: the same gz IDX files
as bp_dataset_named (BACKPROP_DATA_DIR or /usr/share/datasets), x = bytes/255
in float32.  Only the training passes of each epoch are timed (shuffle and
batch gather included, as in backprop's trainer; evaluation excluded).
--arch with I other than 784, or --synthetic N: N samples (default 10000) of
synthetic data, x uniform in [0, 1) and labels uniform over K classes, and
a test split of N/10 (as bp_mlp.c; the values differ, the speed does not).
--dtype: f32 (default for mlp) or f64 (default for tiny).

tiny: 4-3-2-1 sigmoid network, sigmoid + binary cross-entropy fused
(BCEWithLogitsLoss, like backprop's fused sigmoid_bce), batch 1, plain SGD:
one step = zero_grad, forward, loss, backward, optimizer step.

The number of threads: the caller must export OPENBLAS_NUM_THREADS (and
OMP_NUM_THREADS) before Python starts; torch.set_num_threads does not size
OpenBLAS's pool.  We call torch.set_num_threads(T) as well for PyTorch's own
OpenMP loops.  Output: one JSON line.
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def status_kb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def openblas_info():
    """Core name and config of the OpenBLAS that torch loaded (same soname, same instance)."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode(), lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        return "unknown", "unknown"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_fmnist(split):
    base = os.path.join(os.environ.get("BACKPROP_DATA_DIR", "/usr/share/datasets"), "fashion-mnist")
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(base, pre + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(base, pre + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0))
    y = torch.from_numpy(y.astype(np.int64))
    return x, y


def synthetic(n, features, k, seed, dt):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, features, generator=g, dtype=dt), torch.randint(0, k, (n,), generator=g)


def mlp(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rss_start = status_kb("VmRSS")
    sizes = [int(v) for v in args.arch.split("-")]
    dt = torch.float64 if args.dtype == "f64" else torch.float32
    nsynth = args.synthetic or (10000 if sizes[0] != 784 else 0)
    if nsynth:
        xtr, ytr = synthetic(nsynth, sizes[0], sizes[-1], args.seed, dt)
        xte, yte = synthetic(max(nsynth // 10, 1), sizes[0], sizes[-1], args.seed + 1, dt)
    else:
        xtr, ytr = load_fmnist("train")
        xte, yte = load_fmnist("test")
        xtr, xte = xtr.to(dt), xte.to(dt)
    n = xtr.shape[0]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers).to(dt)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    rss_loaded = status_kb("VmRSS")
    rss_load_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_reset = reset_hwm()
    gen = torch.Generator().manual_seed(args.seed)
    secs, losses, tb = [], [], []
    t_train_start = time.clock_gettime(time.CLOCK_MONOTONIC)
    for ep in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        tot = 0.0
        for s in range(0, n, args.batch):
            idx = perm[s:s + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += loss.item() * xb.shape[0]
            if ep >= 1:
                tb.append((time.perf_counter(), xb.shape[0] == args.batch))
        secs.append(time.perf_counter() - t0)
        losses.append(tot / n)
    t_train_end = time.clock_gettime(time.CLOCK_MONOTONIC)
    rss_train_peak = status_kb("VmHWM") if hwm_reset else -1
    with torch.no_grad():
        correct, tl = 0, 0.0
        for s in range(0, xte.shape[0], 1000):
            out = model(xte[s:s + 1000])
            tl += F.cross_entropy(out, yte[s:s + 1000], reduction="sum").item()
            correct += (out.argmax(1) == yte[s:s + 1000]).sum().item()
    later = secs[1:] if len(secs) > 1 else secs
    # the best rate over WINDOW consecutive full batches after epoch 1 (as bp_mlp.c)
    window, wbest = 20, 0.0
    for i in range(len(tb) - window):
        if all(full for _, full in tb[i + 1:i + window + 1]):
            wbest = max(wbest, window * args.batch / (tb[i + window][0] - tb[i][0]))
    med = statistics.median(later)
    nparams = sum(p.numel() for p in model.parameters())
    corename, config = openblas_info()
    print(json.dumps({
        "tool": "pytorch", "arch": args.arch, "dtype": args.dtype, "data": "synthetic" if nsynth else "fashion-mnist",
        "flops_per_sample": sum(4 * sizes[i] * sizes[i + 1] + (2 * sizes[i] * sizes[i + 1] if i else 0)
                                for i in range(len(sizes) - 1)),
        "batch": args.batch, "threads": args.threads, "epochs": args.epochs,
        "lr": args.lr, "seed": args.seed, "n_train": n, "n_test": int(xte.shape[0]),
        "samples_per_s": round(n / med, 1), "samples_per_s_best": round(n / min(later), 1),
        "samples_per_s_window": round(wbest, 1), "epoch_seconds": [round(s, 4) for s in secs], "train_loss": round(losses[-1], 5),
        "test_acc": round(correct / xte.shape[0], 4), "test_loss": round(tl / xte.shape[0], 5),
        "allocs_per_step": None,
        "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "rss_start_kb": rss_start,
        "rss_loaded_kb": rss_loaded, "rss_load_peak_kb": rss_load_peak, "rss_train_peak_kb": rss_train_peak,
        "nparams": nparams, "param_bytes": nparams * (8 if args.dtype == "f64" else 4),
        "t_train_start": round(t_train_start, 6), "t_train_end": round(t_train_end, 6),
        "torch_version": torch.__version__, "torch_num_threads": torch.get_num_threads(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "openblas_num_threads_env": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
        "openblas_corename": corename, "openblas_config": config,
    }))


def tiny(args):
    torch.set_num_threads(1)
    dt = torch.float64 if args.dtype == "f64" else torch.float32
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Sigmoid(), nn.Linear(2, 1)).to(dt)
    lossf = nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    # the same four samples as bench/bp_tiny.c, cycled
    xs = torch.tensor([[0.1, 0.9, 0.3, 0.5], [0.8, 0.2, 0.6, 0.4], [0.3, 0.3, 0.9, 0.1], [0.7, 0.6, 0.2, 0.8]],
                      dtype=dt)
    ys = torch.tensor([[1.0], [0.0], [1.0], [0.0]], dtype=dt)
    samples = [(xs[i:i + 1], ys[i:i + 1]) for i in range(4)]

    def run(k):
        t0 = time.perf_counter()
        for i in range(k):
            x, y = samples[i & 3]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(x), y)
            loss.backward()
            opt.step()
        return time.perf_counter() - t0

    run(1000)  # warm-up
    times = [run(args.iters) / args.iters * 1e9 for _ in range(args.repeats)]
    print(json.dumps({"tool": "pytorch", "bench": "tiny", "dtype": args.dtype, "iters": args.iters,
                      "repeats": args.repeats, "ns_per_step": round(statistics.median(times), 1),
                      "ns_per_step_best": round(min(times), 1), "torch_version": torch.__version__}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["mlp", "tiny"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dtype", choices=["f64", "f32"], default=None)
    ap.add_argument("--arch", default="784-256-128-10")
    ap.add_argument("--synthetic", type=int, default=0)
    ap.add_argument("--iters", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.dtype is None:
        args.dtype = "f32" if args.mode == "mlp" else "f64"
    want = str(args.threads)
    if args.mode == "mlp" and os.environ.get("OPENBLAS_NUM_THREADS") != want:
        print("torch_mlp.py: warning: OPENBLAS_NUM_THREADS is not %s; OpenBLAS's pool is sized by it" % want,
              file=sys.stderr)
    mlp(args) if args.mode == "mlp" else tiny(args)


if __name__ == "__main__":
    main()
