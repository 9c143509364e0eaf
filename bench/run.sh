#!/usr/bin/env bash
# bench/run.sh - backprop and PyTorch side by side (see bench/README.md).
#
#   bench/run.sh [--quick] [--build DIR] [--repeats N]
#
# Builds the bench programs against DIR/libbackprop.a (default: build, which
# `make bench` has just built), installs Debian's python3-torch and the
# Fashion-MNIST package if missing, measures the machine's peaks (FP32 and
# FP64 on one core, FP32 on two), then runs, alternating backprop and
# PyTorch in every configuration:
#   main     784-256-128-10 f32 on Fashion-MNIST: OPENBLAS_CORETYPE {Haswell,
#            unset} x batch {32,128,512}, one thread; backprop with the CPU's
#            best kernel, and with the AVX2 kernel too on an AVX-512 CPU
#   growth   784-1024-1024-10 and 3072-2048-512-10 f32 (synthetic data), and
#            784-256-128-10 f64, batch 128, one thread, both core types
#   threads  784-256-128-10 f32, batch {128,512}, one and two threads
# then the 10-epoch accuracy runs and the tiny-network latencies.
# Writes bench/results/latest.jsonl (raw) and bench/results/latest.md (the
# tables, also printed).
#
#   full:    3 epochs per run, 2 repeats per tool; accuracy runs   (~20 min)
#   --quick: batch 128 (main), 512 (threads), Haswell only for growth and
#            threads, 2 epochs, fewer repeats; no accuracy runs    (~4 min)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
QUICK=0
REPEATS=
LR=0.01
SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --build) BUILD=$(cd "$2" && pwd); shift ;;
    --repeats) REPEATS=$2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
PY=/usr/bin/python3
OUT=$ROOT/bench/results
BIN=$BUILD/bench
mkdir -p "$OUT" "$BIN"

# ---- dependencies and the bench programs -------------------------------
"$ROOT/scripts/install-deps.sh" python3-torch dataset-fashion-mnist
if [ ! -f "$BUILD/libbackprop.a" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j 2 >/dev/null
fi
CC=${CC:-gcc}
WRAP="-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free"
# (libbackprop.a built with MPI needs its libraries too)
LIBS="$BUILD/libbackprop.a -lopenblas $(pkg-config --libs jansson) -lz -lm -lpthread $(pkg-config --libs ompi-c 2>/dev/null || true)"
$CC -O2 -std=c11 -Wall -Wextra -o "$BIN/peak" "$ROOT/bench/peak.c" -lpthread
for p in bp_mlp bp_tiny; do
  $CC -O2 -std=c11 -Wall -Wextra -I"$ROOT/include" -o "$BIN/$p" "$ROOT/bench/$p.c" $WRAP $LIBS
done
$CC -O2 -std=c11 -Wall -Wextra -I"$ROOT/include" -o "$BIN/bp_threads" "$ROOT/bench/bp_threads.c" $LIBS

# ---- the environment --------------------------------------------------
JSONL=$OUT/latest.jsonl.tmp
: > "$JSONL"
if [ "$QUICK" = 1 ]; then
  MODE="quick"; EPOCHS=2; BATCHES="128"; REPEATS=${REPEATS:-3}
  G_CORETYPES="Haswell"; G_REPEATS=1; T_BATCHES="512"; T_CORETYPES="Haswell"; T_REPEATS=1
else
  MODE="full"; EPOCHS=3; BATCHES="32 128 512"; REPEATS=${REPEATS:-2}
  G_CORETYPES="Haswell unset"; G_REPEATS=$REPEATS; T_BATCHES="128 512"; T_CORETYPES="Haswell unset"; T_REPEATS=$REPEATS
fi
# The growth section's networks: ARCH:DTYPE:DATA (DATA: samples of synthetic data, or fmnist)
GROWTH="784-1024-1024-10:f32:20000 3072-2048-512-10:f32:6000 784-256-128-10:f64:fmnist"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
fam=$(lscpu | sed -n 's/^CPU family: *//p' | head -1)
mod=$(lscpu | sed -n 's/^Model: *//p' | head -1)
obv=$(dpkg-query -W -f='${Version}' "libopenblas0-pthread:$(dpkg --print-architecture)" 2>/dev/null || echo unknown)
tv=$(OPENBLAS_NUM_THREADS=1 $PY -c 'import torch; print(torch.__version__)' 2>/dev/null || echo missing)
gv=$($CC --version | head -1)
git=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo none)
if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no 2>/dev/null)" ]; then git="$git (+ uncommitted changes)"; fi
$PY - "$cpu" "$fam/$mod" "$(nproc)" "$(uname -r)" "$gv" "$obv" "$tv" "$($PY --version 2>&1)" \
    "${OPENBLAS_L2_SIZE:-(unset)}" "$MODE" "$REPEATS" "$EPOCHS" "$git" "$(date -u '+%Y-%m-%d %H:%M UTC')" >> "$JSONL" <<'EOF'
import json, sys
k = ["cpu", "cpu_family_model", "nproc", "kernel", "gcc", "openblas", "torch", "python", "openblas_l2_size",
     "mode", "repeats", "epochs", "git", "date"]
print(json.dumps(dict(tool="env", **dict(zip(k, sys.argv[1:])))))
EOF

say() { echo "[bench] $*" >&2; }
# tag KEY=VALUE... : insert fields at the start of each JSON line on stdin
tag() {
  local f=""
  for kv in "$@"; do f="$f\"${kv%%=*}\":${kv#*=},"; done
  sed "s/^{/{$f/"
}
# with_coretype CT CMD... : run CMD with OPENBLAS_CORETYPE set to CT, or unset for "unset"
with_coretype() {
  local ct=$1; shift
  if [ "$ct" = unset ]; then env -u OPENBLAS_CORETYPE "$@"; else env OPENBLAS_CORETYPE="$ct" "$@"; fi
}
run_bp() { # coretype threads kernel args...  (kernel: auto, or a BP_SGEMM value)
  local ct=$1 t=$2 k=$3; shift 3
  if [ "$k" = auto ]; then set -- env -u BP_SGEMM "$@"; else set -- env BP_SGEMM="$k" "$@"; fi
  with_coretype "$ct" "$@" OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" "$BIN/bp_mlp" --threads "$t" \
    "${BP_ARGS[@]}"
}
# OMP_WAIT_POLICY=passive: with two threads, PyTorch's OpenMP workers spin
# while OpenBLAS's pthreads run the matrix products, and on 2 vCPUs that cuts
# PyTorch's throughput 4-7x (measured: 11-33k instead of ~100k samples/s).
# Passive waiting is PyTorch's best setting here; it changes nothing at one thread.
run_torch() {
  local ct=$1 t=$2; shift 2
  with_coretype "$ct" OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" OMP_WAIT_POLICY=passive \
    $PY "$ROOT/bench/torch_mlp.py" mlp --threads "$t" "$@"
}
ctname() { if [ "$1" = unset ]; then echo '"(unset)"'; else echo "\"$1\""; fi; }
# one run of each tool: section coretype threads kernel rep args...
pair_bp() {
  local sec=$1 ct=$2 t=$3 k=$4 r=$5; shift 5
  say "$sec: coretype=$ct threads=$t kernel=$k repeat $r: backprop $*"
  BP_ARGS=("$@")
  run_bp "$ct" "$t" "$k" \
    | tag kind='"throughput"' section="\"$sec\"" coretype="$(ctname "$ct")" rep="$r" >> "$JSONL"
  say "  $(tail -1 "$JSONL" | grep -o '"samples_per_s":[0-9.]*')"
}
pair_torch() {
  local sec=$1 ct=$2 t=$3 r=$4; shift 4
  say "$sec: coretype=$ct threads=$t repeat $r: pytorch $*"
  run_torch "$ct" "$t" "$@" | tag kind='"throughput"' section="\"$sec\"" coretype="$(ctname "$ct")" rep="$r" >> "$JSONL"
  say "  $(tail -1 "$JSONL" | grep -o '"samples_per_s": [0-9.]*')"
}

say "mode $MODE: peak"
if [ "$QUICK" = 1 ]; then "$BIN/peak" --quick >> "$JSONL"; else "$BIN/peak" >> "$JSONL"; fi
tail -1 "$JSONL" >&2
# on an AVX-512 CPU the AVX2 kernel runs too (the kernel of AVX2-only CPUs, on this core)
KERNELS="auto"
if grep -q '"isa":"avx512"' "$JSONL"; then KERNELS="auto avx2"; fi

# ---- main: 784-256-128-10 f32, one thread, alternating ----------------------
for b in $BATCHES; do
  for ct in Haswell unset; do
    for r in $(seq 1 "$REPEATS"); do
      for k in $KERNELS; do
        pair_bp main "$ct" 1 "$k" "$r" --epochs "$EPOCHS" --batch "$b" --lr "$LR" --seed "$SEED"
      done
      pair_torch main "$ct" 1 "$r" --epochs "$EPOCHS" --batch "$b" --lr "$LR" --seed "$SEED"
    done
  done
done

# ---- growth: wider and deeper networks, f64 -----------------------------------
for g in $GROWTH; do
  IFS=: read -r arch dt data <<< "$g"
  extra=(--arch "$arch" --dtype "$dt")
  [ "$data" = fmnist ] || extra+=(--synthetic "$data")
  for ct in $G_CORETYPES; do
    for r in $(seq 1 "$G_REPEATS"); do
      pair_bp growth "$ct" 1 auto "$r" --epochs "$EPOCHS" --batch 128 --lr "$LR" --seed "$SEED" "${extra[@]}"
      pair_torch growth "$ct" 1 "$r" --epochs "$EPOCHS" --batch 128 --lr "$LR" --seed "$SEED" "${extra[@]}"
    done
  done
done

# ---- threads: one and two, side by side, with the two-core peak before -------
"$BIN/peak" --quick | tag section='"threads"' >> "$JSONL"
say "two-core peak: $(tail -1 "$JSONL" | grep -o '"peak2_gflops":[0-9.]*')"
for b in $T_BATCHES; do
  for ct in $T_CORETYPES; do
    for r in $(seq 1 "$T_REPEATS"); do
      for t in 1 2; do pair_bp threads "$ct" "$t" auto "$r" --epochs "$EPOCHS" --batch "$b" --lr "$LR" --seed "$SEED"; done
      for t in 1 2; do pair_torch threads "$ct" "$t" "$r" --epochs "$EPOCHS" --batch "$b" --lr "$LR" --seed "$SEED"; done
    done
  done
done
# the same speed-up measured inside one run (bp_threads: 1 and 2 threads
# alternating every 10 batches), which the machine's slow periods cannot skew
for b in $T_BATCHES; do
  say "threads interleaved: batch $b"
  OPENBLAS_CORETYPE=Haswell "$BIN/bp_threads" --batch "$b" --epochs 4 --threads 1,2 \
    | tag section='"threads_interleaved"' coretype='"Haswell"' >> "$JSONL"
done
"$BIN/peak" --quick | tag section='"threads_after"' >> "$JSONL"
say "two-core peak after: $(tail -1 "$JSONL" | grep -o '"peak2_gflops":[0-9.]*')"

# ---- accuracy: 10 epochs, batch 128, one thread ------------------------------
if [ "$QUICK" = 0 ]; then
  say "accuracy runs: 10 epochs, batch 128, 1 thread, OPENBLAS_CORETYPE unset"
  BP_ARGS=(--epochs 10 --batch 128 --lr "$LR" --seed "$SEED")
  run_bp unset 1 auto \
    | tag kind='"accuracy"' coretype='"(unset)"' rep=1 >> "$JSONL"
  run_torch unset 1 --epochs 10 --batch 128 --lr "$LR" --seed "$SEED" \
    | tag kind='"accuracy"' coretype='"(unset)"' rep=1 >> "$JSONL"
fi

# ---- tiny network ---------------------------------------------------------
say "tiny network"
if [ "$QUICK" = 1 ]; then TR=3; TI=2000; else TR=7; TI=5000; fi
env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$BIN/bp_tiny" --repeats "$TR" >> "$JSONL"
for dt in f64 f32; do
  env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    $PY "$ROOT/bench/torch_mlp.py" tiny --dtype "$dt" --iters "$TI" --repeats 3 >> "$JSONL"
done

mv "$JSONL" "$OUT/latest.jsonl"
{
  echo "# backprop vs PyTorch ($MODE run)"
  echo
  echo "command: \`bench/run.sh$([ "$QUICK" = 1 ] && echo " --quick")\` (\`make bench\`)"
  echo
  $PY "$ROOT/bench/report.py" "$OUT/latest.jsonl"
} > "$OUT/latest.md"
cat "$OUT/latest.md"
