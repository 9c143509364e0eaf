#!/usr/bin/python3
"""One-vs-rest and one-vs-one of backprop against scikit-learn, on the same splits.

Run by hand from the repository root (needs Debian's python3-sklearn; not used by
the test suite):

    /usr/bin/python3 bench/multiclass_sklearn.py [--backprop build/backprop] [--out bench/results/multiclass.md]

For iris, wine and digits (scikit-learn's bundled copies), a stratified split
(70% train, 30% test, random_state 0) is written to CSV. backprop trains
`--multiclass ovr` and `--multiclass ovo` sets of logistic-regression units
(`--arch F-1`: one sigmoid output, bce, no hidden layer) on the train CSV, its
features standardised on the train split (its default), and `eval` scores the
test CSV (one-vs-rest by the largest score, and by the largest signed distance
of CS577 Assignment 2). scikit-learn fits OneVsRestClassifier and
OneVsOneClassifier around LogisticRegression (lbfgs, max_iter 5000, its default
L2 penalty C = 1) after a StandardScaler fitted on the same train split. Softmax
regression (`--arch F-K`, cross-entropy) is set beside multinomial
LogisticRegression. The table gives the test accuracies.

backprop's runs: full-batch-ish mini-batch SGD with momentum (batch 16, lr 0.1,
momentum 0.9, 200 epochs, weight decay 0.001 as a small L2 penalty like
scikit-learn's), f64, seed 1.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsOneClassifier, OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TRAIN = ["--epochs", "200", "--batch", "16", "--lr", "0.1", "--optimizer", "momentum", "--weight-decay", "0.001",
         "--dtype", "f64", "--seed", "1", "--quiet"]


def write_csv(path, x, y):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"f{i + 1}" for i in range(x.shape[1])] + ["label"])
        for row, label in zip(x, y):
            w.writerow([repr(float(v)) for v in row] + [int(label)])


def backprop_acc(bp, tmp, arch, extra, train, test, rule=None):
    model = os.path.join(tmp, "model.safetensors")
    subprocess.run([bp, "train", "--arch", arch, "--data", train, "--save", model] + extra + TRAIN, check=True)
    cmd = [bp, "eval", model, "--data", test, "--json", "--dtype", "f64"]
    if rule:
        cmd += ["--ovr-rule", rule]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["accuracy"]


def sklearn_acc(clf, xtr, ytr, xte, yte):
    pipe = make_pipeline(StandardScaler(), clf)
    pipe.fit(xtr, ytr)
    return float(np.mean(pipe.predict(xte) == yte))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backprop", default="build/backprop")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, loader in (("iris", load_iris), ("wine", load_wine), ("digits", load_digits)):
            d = loader()
            xtr, xte, ytr, yte = train_test_split(d.data, d.target, test_size=0.3, stratify=d.target, random_state=0)
            train, test = os.path.join(tmp, "train.csv"), os.path.join(tmp, "test.csv")
            write_csv(train, xtr, ytr)
            write_csv(test, xte, yte)
            f, k = d.data.shape[1], len(d.target_names)
            lr = lambda: LogisticRegression(max_iter=5000)
            r = {"data": f"{name} ({len(d.target)} samples, {f} features, {k} classes; train {len(ytr)}, test {len(yte)})"}
            r["bp_ovr"] = backprop_acc(a.backprop, tmp, f"{f}-1", ["--multiclass", "ovr"], train, test)
            r["bp_ovr_dist"] = backprop_acc(a.backprop, tmp, f"{f}-1", ["--multiclass", "ovr"], train, test, "distance")
            r["bp_ovo"] = backprop_acc(a.backprop, tmp, f"{f}-1", ["--multiclass", "ovo"], train, test)
            r["bp_soft"] = backprop_acc(a.backprop, tmp, f"{f}-{k}", [], train, test)
            r["sk_ovr"] = sklearn_acc(OneVsRestClassifier(lr()), xtr, ytr, xte, yte)
            r["sk_ovo"] = sklearn_acc(OneVsOneClassifier(lr()), xtr, ytr, xte, yte)
            r["sk_soft"] = sklearn_acc(LogisticRegression(max_iter=5000), xtr, ytr, xte, yte)
            rows.append(r)
            print(r, file=sys.stderr)
    lines = ["| data | backprop ovr (score) | ovr (distance) | sklearn OneVsRest | backprop ovo | sklearn OneVsOne "
             "| backprop softmax | sklearn multinomial |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['bp_ovr']:.4f} | {r['bp_ovr_dist']:.4f} | {r['sk_ovr']:.4f} | "
                     f"{r['bp_ovo']:.4f} | {r['sk_ovo']:.4f} | {r['bp_soft']:.4f} | {r['sk_soft']:.4f} |")
    text = "Test accuracy (stratified 70/30 split, random_state 0)\n\n" + "\n".join(lines) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
