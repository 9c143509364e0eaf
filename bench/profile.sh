#!/usr/bin/env bash
# bench/profile.sh - where backprop's MLP training step spends its time.
#
#   bench/profile.sh [--build DIR] [--coretype Haswell|unset] [--batch B] [--epochs E]
#
# Runs bench's bp_mlp (built by bench/run.sh into DIR/bench) under
# `perf record -e cpu-clock` (a software clock: these VMs expose no hardware
# counters), one thread, and splits the samples into: the sgemm compute
# kernel, OpenBLAS packing (*copy*), other OpenBLAS, backprop's elementwise
# ops (fwd_*/bwd_*), the trainer's own loop (optimizer update, finiteness
# checks, accuracy count: inlined into bp_trainer_run), memcpy/memset and
# the rest.  Only samples between the start and end of bp_trainer_run count
# (perf records CLOCK_MONOTONIC timestamps; bp_mlp prints the window), so
# loading the data and evaluating are left out.  Needs `perf` (Debian:
# linux-perf).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
CT=unset
B=128
E=5
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$(cd "$2" && pwd); shift ;;
    --coretype) CT=$2; shift ;;
    --batch) B=$2; shift ;;
    --epochs) E=$2; shift ;;
    *) echo "profile.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v perf >/dev/null || { echo "profile.sh: needs perf (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$BUILD/bench/bp_mlp" ] || { echo "profile.sh: run bench/run.sh first (no $BUILD/bench/bp_mlp)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if [ "$CT" = unset ]; then CTENV=(env -u OPENBLAS_CORETYPE); else CTENV=(env OPENBLAS_CORETYPE="$CT"); fi
"${CTENV[@]}" OPENBLAS_NUM_THREADS=1 perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F 4000 -o "$TMP/perf.data" \
  "$BUILD/bench/bp_mlp" --epochs "$E" --batch "$B" > "$TMP/out.json" 2>/dev/null
WIN=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.6f,%.6f" % (r["t_train_start"], r["t_train_end"]))' "$TMP/out.json")
perf report -i "$TMP/perf.data" --time "$WIN" --no-children --sort dso,symbol --stdio 2>/dev/null > "$TMP/report.txt"
/usr/bin/python3 - "$TMP/report.txt" "$TMP/out.json" "$CT" "$B" "$E" <<'EOF'
import json, re, sys
rep, out, ct, b, e = sys.argv[1:]
r = json.load(open(out))
cats = {}
order = ["sgemm compute kernel", "sgemm packing (copy)", "other OpenBLAS", "backprop elementwise ops (fwd_*/bwd_*)",
         "trainer loop (update, finiteness checks, accuracy)", "memcpy / memset", "kernel / other"]
detail = {}
for line in open(rep):
    m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
    if "openblas" in dso:
        c = ("sgemm compute kernel" if re.search(r"gemm_kernel|small_kernel", sym)
             else "sgemm packing (copy)" if "copy" in sym else "other OpenBLAS")
    elif sym.startswith(("kernel_avx512", "kernel_avx2", "kernel_ref")):
        c = "sgemm compute kernel"
    elif re.match(r"(bp_sgemm|sgemm\.|transpose8|rows_to_columns|pack_[ab])", sym):
        c = "sgemm packing (copy)"
    elif re.match(r"(fwd|bwd)_", sym):
        c = "backprop elementwise ops (fwd_*/bwd_*)"
    elif (sym in ("bp_trainer_run", "bp_count_correct", "bp_predicted_class", "bp_optim_step", "bp_max_abs",
                  "bp_optim_weight_decay", "bp_net_step_rows", "update")
          or sym.startswith(("update", "max_abs"))):
        c = "trainer loop (update, finiteness checks, accuracy)"
    elif re.search(r"mem(move|cpy|set)", sym):
        c = "memcpy / memset"
    else:
        c = "kernel / other"
    cats[c] = cats.get(c, 0) + pct
    detail.setdefault(c, []).append((pct, sym))
rest = sum(cats.values())
print("profile: bp_mlp batch %s, 1 thread, %s epochs, OPENBLAS_CORETYPE=%s, kernels %s, %.0f samples/s"
      % (b, e, ct, r["openblas_corename"], r["samples_per_s"]))
print("shares of the cpu-clock samples taken inside bp_trainer_run's %d epochs:" % len(r["epoch_seconds"]))
print("| part | share | biggest symbols |")
print("|---|---:|---|")
for c in order:
    if c not in cats:
        continue
    top = ", ".join("%s %.1f" % (s, 100 * p / rest) for p, s in sorted(detail[c], reverse=True)[:3])
    print("| %s | %.1f%% | %s |" % (c, 100 * cats[c] / rest, top))
EOF
