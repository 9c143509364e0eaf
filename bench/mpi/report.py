#!/usr/bin/python3
"""bench/mpi/report.py - bench/results/mpi.jsonl (bench/mpi/run.sh) as
Markdown: the measured table, the allreduce sweep, a ring-allreduce cost model
fitted to it, and the speed-up it predicts on 2-64 nodes.

    /usr/bin/python3 bench/mpi/report.py bench/results/mpi.jsonl

Cost model (ring allreduce of S bytes on p nodes, as in Patarasuk & Yuan and
NCCL's documentation): 2 (p - 1) steps, each a latency alpha and S / p bytes
at beta seconds per byte:  T(S, p) = 2 (p - 1) alpha + 2 (p - 1) / p * S * beta.
alpha and beta are fitted by least squares (on relative error) to the
measured allreduce times; the compute of a step on one node is fitted as
t(b) = c0 + c1 b to backprop's one-process runs at batch 128 and 1024."""
import json
import math
import statistics
import sys

LINKS = [(10, "10 Gb/s"), (25, "25 Gb/s"), (100, "100 Gb/s")]
NET_ALPHA = 20e-6   # per step of the ring over TCP/Ethernet (assumed; RDMA is ~2 us)
NET_EFF = 0.9       # share of a link's bandwidth an allreduce gets (assumed)
NODES = [1, 2, 4, 8, 16, 32, 64]


def load(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return rows


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fit_ring(points):
    """points: (S bytes, p, seconds). Least squares on T / T_measured = 1: minimise
    sum ((a x_i + b y_i) / t_i - 1)^2 with x = 2 (p - 1), y = 2 (p - 1) / p * S."""
    sxx = sxy = syy = sx = sy = 0.0
    for s, p, t in points:
        x, y = 2 * (p - 1) / t, 2 * (p - 1) / p * s / t
        sxx += x * x; sxy += x * y; syy += y * y; sx += x; sy += y
    det = sxx * syy - sxy * sxy
    if det == 0:
        return float("nan"), float("nan")
    a = (sx * syy - sy * sxy) / det
    b = (sy * sxx - sx * sxy) / det
    return a, b


def ring(s, p, alpha, beta):
    return 0.0 if p == 1 else 2 * (p - 1) * alpha + 2 * (p - 1) / p * s * beta


def main():
    rows = load(sys.argv[1])
    out = []
    machine = {}
    for r in rows:
        if r["tool"] == "machine":
            machine.update(r)
    out.append("# Data-parallel training over MPI: measured\n")
    out.append(f"Machine: {machine.get('cpu', '?')}, {machine.get('vcpus', '?')} vCPUs shared with other work; "
               f"load average before {machine.get('load_before', '?')}, after {machine.get('load_after', '?')}; "
               f"{machine.get('mpi', '?')}; OPENBLAS_CORETYPE={machine.get('coretype', '(not recorded)')}; "
               f"{machine.get('date', '')}. One thread per process; N = 4 runs four "
               "processes on two vCPUs. Medians over the repeats (min-max in brackets).\n")

    runs = {}
    for r in rows:
        if r["tool"] in ("backprop", "pytorch_ddp"):
            tool = r["tool"] + ("_ring" if r.get("iallreduce", "default") == "1" else "") + \
                ("_nothread" if r.get("progress_thread", 1) == 0 else "")
            runs.setdefault((tool, r["arch"], r["batch"], r["np"]), []).append(r)
    archs = sorted({k[1] for k in runs}, key=lambda a: int(a.split("-")[0]))
    out.append("| network | batch | N | backprop samples/s | speed-up | ms/step: compute / allreduce / waiting | "
               "backprop, ring allreduce | backprop, no progress thread | PyTorch DDP samples/s | speed-up | "
               "ms/step: compute / exposed comm |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}
    for arch in archs:
        for batch in (128, 1024):
            for np_ in (1, 2, 4):
                cells = [arch, str(batch), str(np_)]
                for tool in ("backprop", "backprop_ring", "backprop_nothread", "pytorch_ddp"):
                    if tool in ("backprop_ring", "backprop_nothread"):   # one cell: samples/s, speed-up
                        rs = runs.get((tool, arch, batch, np_), [])
                        b = base.get(("backprop", arch, batch))
                        m = med([r["samples_per_s"] for r in rs])
                        cells.append(f"{m:,.0f} ({m / b:.2f}x)" if rs and b else "-")
                        continue
                    rs = runs.get((tool, arch, batch, np_), [])
                    if not rs:
                        cells += ["-", "-", "-"]
                        continue
                    sps = [r["samples_per_s"] for r in rs]
                    m = med(sps)
                    if np_ == 1:
                        base[(tool, arch, batch)] = m
                    b = base.get((tool, arch, batch))
                    steps = rs[0]["steps"]
                    cells.append(f"{m:,.0f} [{min(sps):,.0f}-{max(sps):,.0f}]")
                    cells.append(f"{m / b:.2f}x" if b else "-")
                    if tool == "backprop":
                        comp = med([r["compute_s"] for r in rs]) / steps * 1e3
                        ar = med([r["allreduce_s"] for r in rs]) / steps * 1e3
                        wt = med([(r["wait_s"] + r["small_s"]) for r in rs]) / steps * 1e3
                        cells.append(f"{comp:.1f} / {ar:.2f} / {wt:.2f}")
                    else:
                        comp = med([r["compute_s"] for r in rs]) / steps * 1e3
                        ex = med([r["comm_exposed_s"] for r in rs]) / steps * 1e3
                        cells.append(f"{comp:.1f} / {ex:.2f}")
                out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.append("backprop's split: compute is the step's time outside MPI; allreduce the time inside MPI's start "
               "and progress calls of the layers' gradient sums; waiting the time blocked until they were done, "
               "plus the step's small blocking reduction (loss, counts, stop flag), which also waits for the "
               "slowest process. PyTorch's: compute is an epoch under no_sync() (no communication), exposed comm "
               "the difference to the synchronised epoch (gloo's own threads overlap the rest).\n")

    sweep, sweep_med = {}, {}
    for r in rows:
        if r["tool"] == "mpi_allreduce":   # the fastest of 5 batches: the transport undisturbed
            sweep.setdefault((r["kind"], r["np"]), {})[r["bytes"]] = r.get("min", r["seconds"])
            sweep_med.setdefault((r["kind"], r["np"]), {})[r["bytes"]] = r["seconds"]
    if sweep:
        nps = sorted({k[1] for k in sweep})
        sizes = sorted({b for d in sweep.values() for b in d})
        out.append("## The allreduce alone (in place, float sum; the fastest of 5 batches of repetitions, the "
                   "median in brackets)\n")
        head = "| bytes | " + " | ".join(f"N={p} blocking | N={p} persistent" for p in nps) + " |"
        out.append(head)
        out.append("|---" * (1 + 2 * len(nps)) + "|")
        for s in sizes:
            cells = [f"{s:,}"]
            for p in nps:
                for kind in ("blocking", "persistent"):
                    t = sweep.get((kind, p), {}).get(s)
                    tm = sweep_med.get((kind, p), {}).get(s)
                    cells.append(f"{t * 1e6:,.1f} us ({tm * 1e6:,.0f})" if t is not None else "-")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        pts = [(s, p, t) for (kind, p), d in sweep.items() if kind == "blocking" for s, t in d.items() if s >= 1024]
        alpha, beta = fit_ring(pts)
        out.append(f"Fitted to the blocking sweep's fastest times (1 KiB and up, N = 2 and 4): alpha = {alpha * 1e6:.1f} us per "
                   f"ring step, 1/beta = {1 / beta / 1e9:.2f} GB/s (shared memory between processes on one machine, "
                   "N = 4 oversubscribed).\n")
        out.append("| bytes | N | measured | model |")
        out.append("|---|---|---|---|")
        for (kind, p), d in sorted(sweep.items()):
            if kind != "blocking":
                continue
            for s in sorted(d):
                if s >= 4096 and s in (4096, 262144, 1048576, 4194304, 33554432):
                    out.append(f"| {s:,} | {p} | {d[s] * 1e3:.3f} ms | {ring(s, p, alpha, beta) * 1e3:.3f} ms |")
        out.append("")
        # against the training runs: the gradient's allreduce per step (allreduce + waiting) in the measured runs
        out.append("The same model against the training runs (backprop, the gradients' allreduce of one step: "
                   "time in MPI calls plus waiting, per step):\n")
        out.append("| network | gradient bytes | batch | N | measured ms/step | model ms/step |")
        out.append("|---|---|---|---|---|---|")
        for arch in archs:
            for batch in (128, 1024):
                for np_ in (2, 4):
                    rs = runs.get(("backprop", arch, batch, np_), [])
                    if not rs:
                        continue
                    s = rs[0]["params"] * 4
                    meas = med([(r["allreduce_s"] + r["wait_s"]) / r["steps"] for r in rs])
                    out.append(f"| {arch} | {s:,} | {batch} | {np_} | {meas * 1e3:.2f} | "
                               f"{ring(s, np_, alpha, beta) * 1e3:.2f} |")
        out.append("")

    # predictions
    out.append("## Predicted speed-up on 2-64 nodes\n")
    out.append(f"A node computes like one process here (one core, backprop's own f32 kernel); its step on b rows "
               f"takes c0 + c1 b, fitted to the one-process runs. The network: ring allreduce with alpha = "
               f"{NET_ALPHA * 1e6:.0f} us per step (TCP over Ethernet) and {NET_EFF:.0%} of the link's bandwidth; "
               "no overlap of communication with the backward pass (the worst case: the overlap hides at most "
               "the backward pass, about two thirds of the compute). Speed-up = t(B) / (t(B / p) + T(S, p)) "
               "for a global batch B.\n")
    for arch in archs:
        r1 = {b: runs.get(("backprop", arch, b, 1), []) for b in (128, 1024)}
        if not r1[128] or not r1[1024]:
            continue
        t = {b: med([r["seconds"] / r["steps"] for r in r1[b]]) for b in (128, 1024)}
        c1 = (t[1024] - t[128]) / (1024 - 128)
        c0 = max(t[128] - 128 * c1, 0.0)
        s = r1[128][0]["params"] * 4
        out.append(f"### {arch}: {s / 1e6:.1f} MB of f32 gradients; one node: c0 = {c0 * 1e3:.2f} ms, "
                   f"c1 = {c1 * 1e6:.1f} us per row\n")
        out.append("| batch | link | " + " | ".join(f"p={p}" for p in NODES[1:]) + " |")
        out.append("|---|---|" + "---|" * (len(NODES) - 1))
        for batch in (128, 1024):
            for gbps, name in LINKS:
                beta_net = 8 / (gbps * 1e9 * NET_EFF)
                cells = []
                for p in NODES[1:]:
                    tp = c0 + c1 * batch / p + ring(s, p, NET_ALPHA, beta_net)
                    cells.append(f"{(c0 + c1 * batch) / tp:.2f}")
                out.append(f"| {batch} | {name} | " + " | ".join(cells) + " |")
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
