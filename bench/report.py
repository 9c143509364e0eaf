#!/usr/bin/python3
"""Turn the JSON lines of a bench/run.sh run into the Markdown report.

  report.py RESULTS.jsonl > latest.md

Every line is one JSON object; run.sh tags the MLP lines with "section"
("main", "growth", "threads"), "coretype" (the value OPENBLAS_CORETYPE had
for that run, or "(unset)"), "rep" and "kind" ("throughput" or "accuracy").
Each MLP line carries its network ("arch"), "dtype", "flops_per_sample" and,
for backprop, the matrix-product "kernel" that ran.  See bench/README.md for
what the numbers mean.
"""
import json
import sys

MB = 1e6
ISA_OF_KERNEL = {"avx512": "avx512", "avx2": "avx2"}


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    env = next((r for r in rows if r.get("tool") == "env"), {})
    peak = next((r for r in rows if r.get("tool") == "peak" and "section" not in r), {})
    best_isa = peak.get("isa", "avx512")

    def isa_peak(isa, dtype="f32"):
        """One core's peak GFLOP/s with `isa` (avx512, avx2), or the best ISA's."""
        sfx = "_f64_gflops" if dtype == "f64" else "_gflops"
        v = peak.get(isa + sfx) if isa in ("avx512", "avx2") else None
        return v or peak.get("peak" + ("_f64_gflops" if dtype == "f64" else "_gflops")) or float("nan")

    def run_isa(r):
        """The vector ISA of a run's matrix products: backprop's own kernel, or OpenBLAS's core type."""
        if r["tool"] == "backprop" and r.get("kernel") in ISA_OF_KERNEL:
            return ISA_OF_KERNEL[r["kernel"]]
        core = r.get("openblas_corename", "")
        return "avx2" if core.lower() in ("haswell", "zen") else best_isa

    def pct(r, rate=None):
        """Matrix-product FLOP/s of run r, in % of its threads' cores' peak for its ISA and dtype."""
        rate = r["samples_per_s"] if rate is None else rate
        return 100 * rate * r["flops_per_sample"] / (isa_peak(run_isa(r), r.get("dtype", "f32")) * 1e9 * r["threads"])

    def label(r):
        return "backprop (%s)" % r.get("kernel", "?") if r["tool"] == "backprop" else "PyTorch"

    out = []
    p = out.append
    p("## Environment\n")
    for k, lab in [("date", "date"), ("git", "git commit"), ("cpu", "CPU"), ("cpu_family_model", "family/model"),
                   ("nproc", "vCPUs"), ("kernel", "kernel"), ("gcc", "gcc"), ("openblas", "OpenBLAS package"),
                   ("torch", "PyTorch"), ("python", "Python"), ("openblas_l2_size", "OPENBLAS_L2_SIZE"),
                   ("mode", "mode"), ("repeats", "repeats per tool and configuration"),
                   ("epochs", "epochs per throughput run")]:
        if k in env:
            p("- %s: %s" % (lab, env[k]))
    p("- vector ISA of this CPU: %s" % best_isa)
    p("- one core's peak (bench/peak): FP32 AVX-512 %.1f, AVX2 %.1f GFLOP/s; FP64 AVX-512 %.1f, AVX2 %.1f GFLOP/s; "
      "FP32 on %d threads at once %.1f GFLOP/s"
      % (peak.get("avx512_gflops", 0), peak.get("avx2_gflops", 0), peak.get("avx512_f64_gflops", 0),
         peak.get("avx2_f64_gflops", 0), peak.get("peak2_threads", 2), peak.get("peak2_gflops", 0)))
    p("- % of peak: matrix-product FLOP/s (2 per multiply-add: forward and dW of every layer, dX of every layer "
      "but the first) over threads x one core's peak for the ISA that did the products (backprop's kernel; "
      "OpenBLAS's core type: Haswell = AVX2, Cooperlake/SkylakeX = AVX-512) and the dtype")
    p("")

    mlp = [r for r in rows if r.get("kind") == "throughput"]

    def section(name):
        return [r for r in mlp if r.get("section", "main") == name]

    def best(rs, key="samples_per_s"):
        return max((r for r in rs), key=lambda r: r.get(key) or 0) if rs else None

    # ---- main ---------------------------------------------------------
    main_rows = section("main")
    if main_rows:
        p("## MLP 784-256-128-10, f32, SGD momentum 0.9, Fashion-MNIST, one thread\n")
        p("samples/s: best over repeats of each run's median epoch (epochs after the first); ratio = backprop / "
          "PyTorch in the same configuration; the runs alternate the tools. On an AVX-512 CPU backprop also runs "
          "with its AVX2 kernel (BP_SGEMM=avx2), the kernel of AVX2-only CPUs, against this core's AVX2 peak.\n")
        for key, title in [("samples_per_s", None), ("samples_per_s_window", "fastest window of 20 batches")]:
            if title:
                p("### The same runs, %s\n" % title)
                p("These machines slow down by 10-20% for seconds at a time (other tenants). Both tools also report "
                  "the best rate over any 20 consecutive full batches after the first epoch: the speed of the code "
                  "when nothing interferes. Best over repeats.\n")
            p("| OPENBLAS_CORETYPE | OpenBLAS kernels | batch | backprop kernel | backprop samples/s | PyTorch samples/s "
              "| ratio | backprop % peak | PyTorch % peak |" + (" allocs/step | peak RSS MB backprop (excess) / PyTorch "
                                                                "| test acc backprop / PyTorch |" if not title else ""))
            p("|---|---|---:|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if not title else ""))
            configs = []
            for r in main_rows:
                c = (r["coretype"], r["batch"])
                if c not in configs:
                    configs.append(c)
            for c in configs:
                rs = [r for r in main_rows if (r["coretype"], r["batch"]) == c]
                th = best([r for r in rs if r["tool"] == "pytorch"], key)
                kernels = []
                for r in rs:
                    if r["tool"] == "backprop" and r.get("kernel") not in kernels:
                        kernels.append(r.get("kernel"))
                for k in kernels:
                    bp = best([r for r in rs if r["tool"] == "backprop" and r.get("kernel") == k], key)
                    if not bp or not th or not bp.get(key) or not th.get(key):
                        continue
                    row = "| %s | %s / %s | %d | %s | %s | %s | **%.2fx** | %.0f%% | %.0f%% |" % (
                        c[0], bp.get("openblas_corename", "?"), th.get("openblas_corename", "?"), c[1], k,
                        fmt_int(bp[key]), fmt_int(th[key]), bp[key] / th[key], pct(bp, bp[key]), pct(th, th[key]))
                    if not title:
                        tp = max(r["rss_train_peak_kb"] for r in rs if r["tool"] == "backprop") * 1024
                        bound = bp["dataset_bytes"] + 3 * bp["param_bytes"] + bp["batch_act_bytes"]
                        al = bp.get("allocs_per_step")
                        row += " %s | %.0f (+%.1f) / %.0f | %.3f / %.3f |" % (
                            "%.2f" % al if al is not None else "n/a", bp["rss_peak_kb"] * 1024 / MB,
                            (tp - bound) / MB if tp > 0 else float("nan"), th["rss_peak_kb"] * 1024 / MB,
                            bp["test_acc"], th["test_acc"])
                    p(row)
            p("")
        p("OpenBLAS kernels: openblas_get_corename() in each process (backprop / PyTorch; backprop's own kernel does "
          "the large f32 products, OpenBLAS the rest). RSS: ru_maxrss of the whole process; (excess) = backprop's "
          "peak RSS during training minus (dataset + 3 x parameters + one batch of activations). Test accuracy after "
          "the run's epochs.\n")

    # ---- growth -------------------------------------------------------
    g_rows = section("growth")
    if g_rows:
        p("## How the cost grows: wider and deeper networks, f64\n")
        p("Batch 128, one thread. The 784-input networks with synthetic data have 20,000 samples, 3072-input ones "
          "6,000 (CIFAR-sized inputs; dense products run at the same speed on any values); f64 runs on "
          "Fashion-MNIST, against the FP64 peak. Both tools train the same network on data of the same shape.\n")
        p("| network | dtype | data | OPENBLAS_CORETYPE | MFLOP/sample | backprop kernel | backprop samples/s "
          "| PyTorch samples/s | ratio | backprop % peak | PyTorch % peak | window ratio |")
        p("|---|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
        configs = []
        for r in g_rows:
            c = (r["arch"], r["dtype"], r["coretype"])
            if c not in configs:
                configs.append(c)
        for c in configs:
            rs = [r for r in g_rows if (r["arch"], r["dtype"], r["coretype"]) == c]
            bp = best([r for r in rs if r["tool"] == "backprop"])
            th = best([r for r in rs if r["tool"] == "pytorch"])
            if not bp or not th:
                continue
            wb = best([r for r in rs if r["tool"] == "backprop"], "samples_per_s_window")
            wt = best([r for r in rs if r["tool"] == "pytorch"], "samples_per_s_window")
            wr = "%.2fx" % (wb["samples_per_s_window"] / wt["samples_per_s_window"]) \
                if wb and wt and wt.get("samples_per_s_window") else "n/a"
            p("| %s | %s | %s | %s | %.1f | %s | %s | %s | **%.2fx** | %.0f%% | %.0f%% | %s |" % (
                c[0], c[1], bp.get("data", "?"), c[2], bp["flops_per_sample"] / 1e6, bp.get("kernel", "?"),
                fmt_int(bp["samples_per_s"]), fmt_int(th["samples_per_s"]), bp["samples_per_s"] / th["samples_per_s"],
                pct(bp), pct(th), wr))
        p("")

    # ---- threads ------------------------------------------------------
    t_rows = section("threads")
    if t_rows:
        pk = [r for r in rows if r.get("tool") == "peak" and r.get("section") in ("threads", "threads_after")]
        p("## Two threads\n")
        p("784-256-128-10 f32; in each repeat backprop on 1 then 2 threads, then PyTorch on 1 then 2. speed-up = "
          "2 threads / 1 thread (best of repeats each). The FP32 peak on two threads at once, measured just before "
          "and after the section: %s GFLOP/s, i.e. %s one core's peak (%.1f GFLOP/s at the start of the run); "
          "2.0x means the second vCPU was free.\n" % (
              " and ".join("%.1f" % r["peak2_gflops"] for r in pk),
              " and ".join("%.2fx" % (r["peak2_gflops"] / peak["peak_gflops"]) for r in pk if peak.get("peak_gflops")),
              peak.get("peak_gflops", 0)))
        p("| OPENBLAS_CORETYPE | batch | backprop 1 thread | backprop 2 threads | backprop speed-up | PyTorch 1 thread "
          "| PyTorch 2 threads | PyTorch speed-up | 2-thread ratio | backprop 2-thread % of 2 cores' peak |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        configs = []
        for r in t_rows:
            c = (r["coretype"], r["batch"])
            if c not in configs:
                configs.append(c)
        for c in configs:
            rs = [r for r in t_rows if (r["coretype"], r["batch"]) == c]
            g = {(tool, t): best([r for r in rs if r["tool"] == tool and r["threads"] == t])
                 for tool in ("backprop", "pytorch") for t in (1, 2)}
            if not all(g.values()):
                continue
            v = {k: r["samples_per_s"] for k, r in g.items()}
            p("| %s | %d | %s | %s | **%.2fx** | %s | %s | %.2fx | %.2fx | %.0f%% |" % (
                c[0], c[1], fmt_int(v["backprop", 1]), fmt_int(v["backprop", 2]), v["backprop", 2] / v["backprop", 1],
                fmt_int(v["pytorch", 1]), fmt_int(v["pytorch", 2]), v["pytorch", 2] / v["pytorch", 1],
                v["backprop", 2] / v["pytorch", 2], pct(g["backprop", 2])))
        p("")
    inter = [r for r in rows if r.get("tool") == "bp_threads"]
    if inter:
        p("Inside one run (`bench/bp_threads`: backprop alternates 1 and 2 threads every %d batches, epochs 2 on; "
          "batch times at the 25th percentile), OPENBLAS_CORETYPE=Haswell:\n" % inter[0]["block"])
        p("| batch | batches timed (1 / 2 threads) | 1 thread | 2 threads | **speed-up** |")
        p("|---:|---:|---:|---:|---:|")
        for r in inter:
            one, two = r["runs"][0], r["runs"][1]
            p("| %d | %d / %d | %s | %s | **%.2fx** |" % (r["batch"], one["batches"], two["batches"],
                                                      fmt_int(one["samples_per_s"]), fmt_int(two["samples_per_s"]),
                                                      two["vs_first"]))
        p("")

    acc = [r for r in rows if r.get("kind") == "accuracy"]
    if acc:
        p("## Accuracy: the same recipe, %d epochs, batch %d, 1 thread, lr %g, OPENBLAS_CORETYPE %s\n"
          % (acc[0]["epochs"], acc[0]["batch"], acc[0]["lr"], acc[0]["coretype"]))
        p("| tool | test accuracy | test loss | final train loss | samples/s (median epoch) |")
        p("|---|---:|---:|---:|---:|")
        for r in acc:
            p("| %s | %.4f | %.4f | %.4f | %s |" % (label(r), r["test_acc"], r["test_loss"], r["train_loss"],
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
        p("| dtype | backprop ns/step | hand-written floor ns/step | backprop / floor | PyTorch ns/step "
          "| backprop allocs/step |")
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
