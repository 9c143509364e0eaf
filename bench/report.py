#!/usr/bin/python3
"""Turn the JSON lines of a bench/run.sh run into the Markdown report.

  report.py RESULTS.jsonl > latest.md

Every line is one JSON object; run.sh tags the MLP lines with "coretype" (the
value OPENBLAS_CORETYPE had for that run, or "(unset)"), "rep" and "kind"
("throughput" or "accuracy").  See bench/README.md for what the numbers mean.
"""
import json
import statistics
import sys

# Matrix-product FLOPs per sample of 784-256-128-10 (see bench/README.md):
# forward 2*(784*256 + 256*128 + 128*10), dW the same, dX of layers 2 and 3
# only (the first layer's dX is not computed by either tool).
LAYERS = [(784, 256), (256, 128), (128, 10)]
FWD = sum(2 * i * o for i, o in LAYERS)
FLOP_PER_SAMPLE = FWD + FWD + sum(2 * i * o for i, o in LAYERS[1:])
MB = 1e6


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def runs(mlp, key, tool):
    """The throughput runs of one tool in one configuration (coretype, batch, threads)."""
    return [r for r in mlp if (r["coretype"], r["batch"], r["threads"]) == key and r["tool"] == tool]


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    env = next((r for r in rows if r.get("tool") == "env"), {})
    peak = next((r for r in rows if r.get("tool") == "peak"), {})
    peak_gf = peak.get("peak_gflops") or float("nan")

    def pct_peak(rate, threads):
        """Matrix-product FLOP/s at `rate` samples/s, in % of `threads` cores' peak."""
        return 100 * rate * FLOP_PER_SAMPLE / (peak_gf * 1e9 * threads)
    out = []
    p = out.append
    p("## Environment\n")
    for k, label in [("date", "date"), ("git", "git commit"), ("cpu", "CPU"), ("cpu_family_model", "family/model"),
                     ("nproc", "vCPUs"), ("kernel", "kernel"), ("gcc", "gcc"), ("openblas", "OpenBLAS package"),
                     ("torch", "PyTorch"), ("python", "Python"), ("openblas_l2_size", "OPENBLAS_L2_SIZE"),
                     ("mode", "mode"), ("repeats", "repeats per tool and configuration"),
                     ("epochs", "epochs per throughput run")]:
        if k in env:
            p("- %s: %s" % (label, env[k]))
    p("- one core's FP32 peak (bench/peak): AVX-512 FMA %.1f GFLOP/s, AVX2 FMA %.1f GFLOP/s; "
      "%% of peak below uses %.1f GFLOP/s per thread" % (peak.get("avx512_gflops", 0), peak.get("avx2_gflops", 0),
                                                         peak_gf))
    p("- matrix-product FLOPs per sample: %s (forward %s + dW %s + dX of layers 2-3 %s); %.1f GFLOP per epoch"
      % (fmt_int(FLOP_PER_SAMPLE), fmt_int(FWD), fmt_int(FWD), fmt_int(FLOP_PER_SAMPLE - 2 * FWD),
         FLOP_PER_SAMPLE * 60000 / 1e9))
    p("")

    mlp = [r for r in rows if r.get("kind") == "throughput"]
    configs = []
    for r in mlp:
        key = (r["coretype"], r["batch"], r["threads"])
        if key not in configs:
            configs.append(key)
    p("## MLP 784-256-128-10, f32, SGD momentum 0.9, Fashion-MNIST training throughput\n")
    p("samples/s: best over repeats of each run's median epoch (epochs after the first); "
      "ratio = backprop / PyTorch; runs alternate backprop, PyTorch, backprop, PyTorch, ...\n")
    p("| OPENBLAS_CORETYPE | kernels | batch | threads | backprop samples/s | PyTorch samples/s | ratio "
      "| backprop % peak | PyTorch % peak | backprop allocs/step | backprop peak RSS MB (excess) | PyTorch peak RSS MB "
      "| test acc backprop / PyTorch |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in configs:
        ct, b, t = key
        bp, th = runs(mlp, key, "backprop"), runs(mlp, key, "pytorch")
        if not bp or not th:
            continue
        sb = max(r["samples_per_s"] for r in bp)
        st = max(r["samples_per_s"] for r in th)
        allocs = [r["allocs_per_step"] for r in bp if r.get("allocs_per_step") is not None]
        al = "%.2f" % max(allocs) if allocs else "n/a"
        rb = max(r["rss_peak_kb"] for r in bp) * 1024
        # excess of the training-time peak over the bound's terms
        tp = max(r["rss_train_peak_kb"] for r in bp) * 1024
        bound = bp[0]["dataset_bytes"] + 3 * bp[0]["param_bytes"] + bp[0]["batch_act_bytes"]
        rt = max(r["rss_peak_kb"] for r in th) * 1024
        kern = "%s / %s" % (bp[0].get("openblas_corename", "?"), th[0].get("openblas_corename", "?"))
        p("| %s | %s | %d | %d | %s | %s | **%.2fx** | %.0f%% | %.0f%% | %s | %.0f (+%.1f) | %.0f | %.3f / %.3f |"
          % (ct, kern, b, t, fmt_int(sb), fmt_int(st), sb / st, pct_peak(sb, t), pct_peak(st, t), al, rb / MB,
             (tp - bound) / MB if tp > 0 else float("nan"), rt / MB, bp[0]["test_acc"], th[0]["test_acc"]))
    p("")
    p("kernels: openblas_get_corename() in each process (backprop / PyTorch). "
      "% peak: matrix-product FLOP/s over (threads x one core's peak). "
      "RSS: ru_maxrss of the whole process; (excess) = backprop's peak RSS during training minus "
      "(dataset + 3 x parameters + one batch of activations), i.e. the bound's \"small constant\". "
      "Test accuracy after the throughput run's epochs (first repeat). Two-thread figures: the second vCPU is "
      "unreliable on these machines; reported, not targeted.")
    p("")
    if configs and all("samples_per_s_window" in r for r in mlp):
        p("### The same runs, fastest window of 20 consecutive batches\n")
        p("These machines slow down by 10-20% for seconds at a time (other tenants), which moves the epoch "
          "figures above by that much from run to run. Both tools also report the best rate over any 20 "
          "consecutive full batches after the first epoch (per-batch clock readings): the speed of the code "
          "when nothing interferes. Best over repeats.\n")
        p("| OPENBLAS_CORETYPE | batch | threads | backprop samples/s | PyTorch samples/s | ratio | backprop % peak "
          "| PyTorch % peak |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|")
        for key in configs:
            ct, b, t = key
            bp, th = runs(mlp, key, "backprop"), runs(mlp, key, "pytorch")
            if not bp or not th:
                continue
            wb = max(r["samples_per_s_window"] for r in bp)
            wt = max(r["samples_per_s_window"] for r in th)
            if not wb or not wt:
                continue
            p("| %s | %d | %d | %s | %s | **%.2fx** | %.0f%% | %.0f%% |"
              % (ct, b, t, fmt_int(wb), fmt_int(wt), wb / wt, pct_peak(wb, t), pct_peak(wt, t)))
        p("")
    if configs:
        b0 = [r for r in mlp if r["tool"] == "backprop"][0]
        p("RSS bound terms: dataset (train + test, x, y, labels) %.1f MB, parameters %.2f MB (x3 = %.2f MB), "
          "one batch of activations at batch 128 %.2f MB."
          % (b0["dataset_bytes"] / MB, b0["param_bytes"] / MB, 3 * b0["param_bytes"] / MB,
             128 * (784 + 2 * (256 + 128 + 10)) * 4 / MB))
        p("")

    acc = [r for r in rows if r.get("kind") == "accuracy"]
    if acc:
        p("## Accuracy: the same recipe, %d epochs, batch %d, 1 thread, lr %g, OPENBLAS_CORETYPE %s\n"
          % (acc[0]["epochs"], acc[0]["batch"], acc[0]["lr"], acc[0]["coretype"]))
        p("| tool | test accuracy | test loss | final train loss | samples/s (median epoch) |")
        p("|---|---:|---:|---:|---:|")
        for r in acc:
            p("| %s | %.4f | %.4f | %.4f | %s |" % (r["tool"], r["test_acc"], r["test_loss"], r["train_loss"],
                                                  fmt_int(r["samples_per_s"])))
        bp = [r for r in acc if r["tool"] == "backprop"]
        th = [r for r in acc if r["tool"] == "pytorch"]
        if bp and th:
            p("\ndifference: %+.2f points (backprop - PyTorch)" % (100 * (bp[0]["test_acc"] - th[0]["test_acc"])))
        p("")
    else:
        p("## Accuracy\n\nskipped in --quick mode (see the test accuracy after the throughput epochs above).\n")

    tiny = [r for r in rows if r.get("bench") == "tiny"]
    if tiny:
        p("## Tiny network: 4-3-2-1 sigmoid, BCE, batch 1, one SGD step\n")
        p("| dtype | backprop ns/step | hand-written floor ns/step | backprop / floor | PyTorch ns/step | backprop allocs/step |")
        p("|---|---:|---:|---:|---:|---:|")
        for dt in ("f64", "f32"):
            b = [r for r in tiny if r["tool"] == "backprop" and r["dtype"] == dt]
            f = [r for r in tiny if r["tool"] == "floor" and r["dtype"] == dt]
            t = [r for r in tiny if r["tool"] == "pytorch" and r["dtype"] == dt]
            floor = "n/a"
            if f:
                floor = "%.1f%s" % (f[0]["ns_per_step"], "" if f[0].get("same_bits") else " (bits differ!)")
            ratio = "%.2fx" % (b[0]["ns_per_step"] / f[0]["ns_per_step"]) if b and f and f[0]["ns_per_step"] else "n/a"
            p("| %s | %s | %s | %s | %s | %s |" % (
                dt, "%.1f" % b[0]["ns_per_step"] if b else "n/a", floor, ratio,
                "%.0f" % t[0]["ns_per_step"] if t else "n/a", "%.2f" % b[0]["allocs_per_step"] if b else "n/a"))
        p("\nmedian of repeats; backprop through bp_net_train_step, PyTorch through zero_grad, forward, "
          "BCEWithLogitsLoss, backward, SGD step. The floor (in bench/bp_tiny.c) is the same step written out by "
          "hand for these sizes, with the same bits as backprop's; its time is the serial chain of exact exp, "
          "division and dot products on this machine.\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
