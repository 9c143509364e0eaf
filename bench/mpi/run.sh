#!/usr/bin/env bash
# bench/mpi/run.sh - data-parallel training over MPI: backprop and PyTorch DDP
# side by side, and the allreduce alone (see docs/scaling.md).
#
#   bench/mpi/run.sh [--build DIR] [--repeats R] [--quick]
#
# Builds bp_dp and mpi_allreduce against DIR/libbackprop.a (default: build,
# made with MPI), then for every configuration - network 784-256-128-10 and
# 3072-2048-512-10 x global batch 128 and 1024 x N = 1, 2, 4 processes (4 is
# oversubscribed on 2 vCPUs) - runs backprop (mpirun -np N bench/mpi/bp_dp;
# for N > 1 also with Open MPI's ring allreduce forced, and without the
# binding's progress thread) and PyTorch DDP
# with gloo (bench/mpi/torch_ddp.py), alternating, R times (default 3); then
# the allreduce of 4 B to 32 MiB on 2 and 4 processes.
# One thread per process (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1).
# Writes bench/results/mpi.jsonl (raw) and bench/results/mpi.md (the tables
# and the fitted cost model, bench/mpi/report.py), and prints the latter.
#   --quick: 784-256-128-10 only, one repeat, no allreduce sweep (~1 min).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build
REPEATS=3
QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$(cd "$2" && pwd); shift ;;
    --repeats) REPEATS=$2; shift ;;
    --quick) QUICK=1; REPEATS=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
PY=/usr/bin/python3
OUT=$ROOT/bench/results
BIN=$BUILD/bench
mkdir -p "$OUT" "$BIN"
"$ROOT/scripts/install-deps.sh" python3-torch libopenmpi-dev openmpi-bin
command -v mpicc >/dev/null || { echo "run.sh: no mpicc (libopenmpi-dev)" >&2; exit 2; }
mpicc -O2 -std=c11 -Wall -Wextra -I"$ROOT/include" -o "$BIN/bp_dp" "$ROOT/bench/mpi/bp_dp.c" \
  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free \
  "$BUILD/libbackprop.a" -lopenblas $(pkg-config --libs jansson) -lz -lm -lpthread
mpicc -O2 -std=c11 -Wall -Wextra -o "$BIN/mpi_allreduce" "$ROOT/bench/mpi/allreduce.c"
case "$(nm "$BUILD/libbackprop.a" 2>/dev/null)" in
  *" U MPI_Init_thread"*) ;;
  *) echo "run.sh: $BUILD/libbackprop.a was built without MPI" >&2; exit 2 ;;
esac

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
# OpenBLAS's kernels do all of PyTorch's products: Haswell (AVX2) unless the caller sets another, as these
# machines do. Left to itself, OpenBLAS 0.3.21 takes CPUs newer than it (an Emerald Rapids Xeon) for an
# SSE3 Prescott and PyTorch runs at a fifth of its speed. The report states the setting.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
MPI=(mpirun -q --oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)
JSONL=$OUT/mpi.jsonl.tmp
: >"$JSONL"
{
  echo "{\"tool\": \"machine\", \"cpu\": \"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\","\
       "\"vcpus\": $(getconf _NPROCESSORS_ONLN), \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","\
       "\"mpi\": \"$(mpirun --version | head -1)\", \"coretype\": \"$OPENBLAS_CORETYPE\","\
       "\"date\": \"$(date -u +%FT%TZ)\"}"
} >>"$JSONL"

ARCHS="784-256-128-10 3072-2048-512-10"
[ "$QUICK" = 1 ] && ARCHS="784-256-128-10"
steps_for() {   # ARCH BATCH: steps for a measured epoch of ~1-3 s on one core
  case "$1" in
    784-*) echo $(( 16384 / $2 > 2 ? 16384 / $2 : 2 )) ;;
    *) echo $(( 2048 / $2 > 2 ? 2048 / $2 : 2 )) ;;
  esac
}
for rep in $(seq "$REPEATS"); do
  for arch in $ARCHS; do
    for batch in 128 1024; do
      steps=$(steps_for "$arch" "$batch")
      for np in 1 2 4; do
        echo "repeat $rep: $arch batch $batch, $np process(es), $steps steps" >&2
        "${MPI[@]}" -np "$np" "$BIN/bp_dp" "$arch" "$batch" "$steps" >>"$JSONL"
        "$PY" "$ROOT/bench/mpi/torch_ddp.py" "$arch" "$batch" "$steps" "$np" 2>/dev/null >>"$JSONL"
        if [ "$np" != 1 ]; then   # Open MPI's ring instead of its default (a binomial tree below 4 processes)
          OMPI_MCA_coll_libnbc_iallreduce_algorithm=1 "${MPI[@]}" -x OMPI_MCA_coll_libnbc_iallreduce_algorithm \
            -np "$np" "$BIN/bp_dp" "$arch" "$batch" "$steps" >>"$JSONL"
          # and without the progress thread: MPI moves data only when the step calls it
          BP_MPI_PROGRESS_THREAD=0 "${MPI[@]}" -x BP_MPI_PROGRESS_THREAD -np "$np" "$BIN/bp_dp" "$arch" "$batch" \
            "$steps" >>"$JSONL"
        fi
      done
    done
  done
done
if [ "$QUICK" = 0 ]; then
  for np in 2 4; do
    echo "allreduce sweep, $np processes" >&2
    "${MPI[@]}" -np "$np" "$BIN/mpi_allreduce" >>"$JSONL"
  done
fi
echo "{\"tool\": \"machine\", \"load_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$JSONL"
mv "$JSONL" "$OUT/mpi.jsonl"
"$PY" "$ROOT/bench/mpi/report.py" "$OUT/mpi.jsonl" | tee "$OUT/mpi.md"
