#!/usr/bin/env bash
# cli_mpi.sh - `mpirun -np N backprop train` (data-parallel training over MPI)
# with 2 and 3 processes: the replicas hold the same parameters after every
# step (--check-replicas compares a CRC-32 of them over the processes), f64
# equals one process to 1e-12, repeated runs give the same bits, process 0
# alone prints and writes, Ctrl-C and a killed process leave a checkpoint that
# resumes to the uninterrupted model (with the same N only), --shard on CSV and
# IDX data, bad input shown once. MPIRUN (set by CMake) names mpirun; without
# one the test is skipped, and with a tool built without MPI it checks the
# message that says how to enable it.
. "$(dirname "$0")/testlib.sh"
MPIRUN=${MPIRUN:-$(command -v mpirun || true)}
if [ -z "$MPIRUN" ] || [ ! -x "$MPIRUN" ]; then
    echo "skip: no mpirun (install openmpi-bin)"
    finish
    exit
fi
MPI=("$MPIRUN" -q --oversubscribe)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)
# A sanitizer build: ASan and UBSan watch the processes under mpirun, LeakSanitizer does not: Open MPI's
# plugins, unloaded at MPI_Finalize, leave allocations it can neither free nor name (test_dist checks the
# trainer's data-parallel paths for leaks without MPI).
if nm "$BP" 2>/dev/null | grep -q __asan_init; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
# drop_teardown NAME: out of NAME's stderr, what mpirun's event library may print as it tears down
# ("[warn] Epoll MOD(1) on fd 26 failed. ...", seen once): not the tool's
drop_teardown() { sed -i '/^\[warn\] /d' "$T/$1.err"; }
# mpi_run NAME NP ARGS...: `mpirun -np NP backprop ARGS...`, output as run_cmd
mpi_run() { local n=$1 np=$2; shift 2; run_cmd "$n" "${MPI[@]}" -np "$np" "$BP" "$@"; drop_teardown "$n"; }
# one_line NAME TEXT: stderr is exactly one "backprop: " line containing TEXT
one_line() {
    if [ "$(wc -l <"$T/$1.err")" = 1 ] && grep -q '^backprop: ' "$T/$1.err" && grep -qF -- "$2" "$T/$1.err"; then ok
    else bad "$1: stderr is not one 'backprop: ...$2...' line: $(head -c 600 "$T/$1.err")"; fi
}
# the numbers of a model as JSON, one per line
numbers() { "$BP" convert "$1" "$T/numbers.json" >/dev/null && grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$T/numbers.json"; }
# close MODEL_A MODEL_B: every number equal to 1e-12 relative (and as many)
close() {
    numbers "$1" >"$T/a.txt"
    numbers "$2" >"$T/b.txt"
    if paste "$T/a.txt" "$T/b.txt" | awk 'function abs(x) { return x < 0 ? -x : x }
            NF != 2 || abs($1 - $2) > 1e-12 * (abs($1) > 1e-3 ? abs($1) : 1e-3) { bad = 1 }
            END { exit bad || NR < 50 }'; then ok; else bad "$1 and $2 differ by more than 1e-12 (relative)"; fi
}
# wait_for FILE PID: until FILE exists (or PID ended)
wait_for() { while [ ! -e "$1" ] && kill -0 "$2" 2>/dev/null; do sleep 0.05; done; }

# 301 rows, 4 features, 3 classes (labels in no period of the processes)
awk 'BEGIN { srand(7); print "a,b,c,d,label"
             for (i = 0; i < 301; i++) { k = int(rand() * 3)
                 printf "%.4f,%.4f,%.4f,%.4f,%d\n", k + rand(), 2 * k - rand(), rand() * k, rand(), k } }' >"$T/d.csv"
COMMON=(--data "$T/d.csv" --arch 4-24-3 --lr 0.05 --optimizer momentum --weight-decay 1e-4 --val 0.2)

mpi_run probe 2 train "${COMMON[@]}" --epochs 1 --save "$T/probe.safetensors" --quiet
if grep -q "built without MPI" "$T/probe.err"; then
    expect_rc probe 2
    one_line probe "started by mpirun as 2 processes, but this backprop was built without MPI: install Open MPI"
    echo "this backprop has no MPI: checked its message only"
    finish
    exit
fi
expect_clean probe

# ---- one model on 2 and 3 processes: replicas equal after every step, f64 equal to one process
run_ok one train "${COMMON[@]}" --dtype f64 --epochs 3 --batch 10 --save "$T/one.safetensors" --quiet
for np in 2 3; do
    mpi_run f64_$np $np train "${COMMON[@]}" --dtype f64 --epochs 3 --batch 10 --save "$T/f64_$np.safetensors" \
        --log "$T/f64_$np.csv" --plot "$T/f64_$np.svg" --check-replicas
    expect_clean f64_$np
    # 241 training rows, batches of 10: 25 steps an epoch
    has_text "$T/f64_$np.out" "replicas: the $np processes held the same parameters after each of the 75 steps"
    has_text "$T/f64_$np.out" "data-parallel on $np processes (MPI): each computes its share of every batch"
    [ "$(grep -c '^training ' "$T/f64_$np.out")" = 1 ] && [ "$(grep -c '^epoch ' "$T/f64_$np.out")" = 3 ] && ok ||
        bad "f64_$np: process 0 alone prints: $(head -c 300 "$T/f64_$np.out")"
    close "$T/one.safetensors" "$T/f64_$np.safetensors"
    [ -s "$T/f64_$np.csv" ] && [ -s "$T/f64_$np.svg" ] && ok || bad "f64_$np: no --log or --plot"
    [ ! -e "$T/f64_$np.safetensors.ckpt" ] && ok || bad "f64_$np: the run's checkpoint is left after it completed"
done
# a network with the bias trick (trained through the graph, not the fused step): the same
cat >"$T/trick.json" <<'EOF2'
{"inputs": 4, "weight_layout": "out_in", "init": "xavier", "seed": 3,
 "layers": [{"units": 8, "activation": "tanh", "bias": "trick"}, {"units": 3, "activation": "softmax", "bias": true}],
 "loss": "cross_entropy", "reduction": "mean"}
EOF2
run_ok trick_1 train --model "$T/trick.json" --data "$T/d.csv" --dtype f64 --epochs 2 --batch 10 --save "$T/trick_1.safetensors" --quiet
mpi_run trick_2 2 train --model "$T/trick.json" --data "$T/d.csv" --dtype f64 --epochs 2 --batch 10 \
    --save "$T/trick_2.safetensors" --check-replicas --quiet
expect_clean trick_2
close "$T/trick_1.safetensors" "$T/trick_2.safetensors"
# the same bits in every run with the same N (f32, Adam, a partial last batch)
for i in 1 2; do
    mpi_run rep$i 3 train "${COMMON[@]}" --epochs 2 --batch 16 --optimizer adam --save "$T/rep$i.safetensors" --quiet
    expect_clean rep$i
done
cmp -s "$T/rep1.safetensors" "$T/rep2.safetensors" && ok || bad "two runs on 3 processes differ"

# ---- Ctrl-C: mpirun sends SIGTERM to the processes; they stop together, process 0 saves the checkpoint
# long enough to outlast the two seconds mpirun waits between Ctrl-C and SIGTERM (a checkpoint an
# epoch): 1000 epochs take about 7 s on a quiet machine, whose run of 150 ended before the SIGTERM
LONG=("${COMMON[@]}" --epochs 1000 --batch 4)
mpi_run whole 3 train "${LONG[@]}" --save "$T/whole.safetensors" --quiet
expect_clean whole
# (a job started with & in a script ignores SIGINT unless told otherwise)
env --default-signal=INT "${MPI[@]}" -np 3 "$BP" train "${LONG[@]}" --save "$T/int.safetensors" --quiet \
    >"$T/int.out" 2>"$T/int.err" &
pid=$!
wait_for "$T/int.safetensors.ckpt" $pid
kill -INT $pid
wait $pid
rc=$?
drop_teardown int
[ "$rc" != 0 ] && ok || bad "interrupted: exit 0"
one_line int "; checkpoint saved to $T/int.safetensors.ckpt (continue with mpirun -np 3 backprop train --resume"
mpi_run resume_2 2 train --resume "$T/int.safetensors.ckpt" --data "$T/d.csv" --val 0.2 --save "$T/int.safetensors"
expect_rc resume_2 2
one_line resume_2 "the checkpoint was made by 3 processes, this run has 2: resume with the same number (mpirun -np 3)"
mpi_run resume_3 3 train --resume "$T/int.safetensors.ckpt" --data "$T/d.csv" --val 0.2 --save "$T/int.safetensors" --quiet
expect_clean resume_3
cmp -s "$T/whole.safetensors" "$T/int.safetensors" && ok || bad "interrupted and resumed on 3 processes: not the uninterrupted model"

# ---- a process killed: the others stop, process 0 says where the last checkpoint is, which resumes
"${MPI[@]}" -np 3 "$BP" train "${LONG[@]}" --save "$T/kill.safetensors" --quiet >"$T/kill.out" 2>"$T/kill.err" &
pid=$!
wait_for "$T/kill.safetensors.ckpt" $pid
sleep 0.2
# the process of rank 2 (by its environment, not by the order of pids, which may wrap around): not process 0,
# which is the one that reports
victim=
for c in $(ps -o pid= --ppid $pid); do
    tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=2' && victim=$c
done
[ -n "$victim" ] && kill -KILL $victim || bad "a process killed: no process of rank 2 among mpirun's children"
wait $pid
rc=$?
drop_teardown kill
[ "$rc" != 0 ] && ok || bad "a process killed: exit 0"
one_line kill "the run stopped: interrupted, or one of its 3 processes ended; the"
has_text "$T/kill.err" "$T/kill.safetensors.ckpt (after epoch"
mpi_run kill_resume 3 train --resume "$T/kill.safetensors.ckpt" --data "$T/d.csv" --val 0.2 --save "$T/kill.safetensors" --quiet
expect_clean kill_resume
cmp -s "$T/whole.safetensors" "$T/kill.safetensors" && ok || bad "resumed after a killed process: not the uninterrupted model"

# ---- --shard: each process reads its own rows; the scaler is fitted over all of them
run_ok shard_1 train --data "$T/d.csv" --arch 4-24-3 --epochs 1 --save "$T/shard_1.json" --quiet
for np in 2 3; do
    for i in 1 2; do
        mpi_run shard_${np}_$i $np train "${COMMON[@]}" --shard --epochs 2 --save "$T/shard_${np}_$i.json" --check-replicas
        expect_clean shard_${np}_$i
    done
    has_text "$T/shard_${np}_1.out" "on 241 samples (+ validation)"   # each process holds a fraction; the sum is shown
    has_text "$T/shard_${np}_1.out" "each trains on its own rows (--shard)"
    has_text "$T/shard_${np}_1.out" "replicas: the $np processes held the same parameters after each of the 16 steps"
    cmp -s "$T/shard_${np}_1.json" "$T/shard_${np}_2.json" && ok || bad "--shard on $np processes: two runs differ"
done
# the standardisation of all rows, as one process fits it (float32: 1e-6)
mpi_run shard_all 3 train --data "$T/d.csv" --arch 4-24-3 --shard --epochs 1 --save "$T/shard_all.json" --quiet
scaler() { tr -d ' \n' <"$1" | grep -oE '"(mean|std)":\[[^]]*\]' | grep -oE -- '-?[0-9.]+(e-?[0-9]+)?'; }
if [ "$(scaler "$T/shard_1.json" | wc -l)" = 8 ] &&
   paste <(scaler "$T/shard_1.json") <(scaler "$T/shard_all.json") |
   awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * ($1 < 0 ? -$1 : $1) + 1e-7) bad = 1 } END { exit bad }'; then ok
else bad "--shard: the scaler is not the one of all rows: $(scaler "$T/shard_all.json" | tr '\n' ' ')"; fi
# IDX images by share: 7 images of 2 x 2 pixels, labels 0..2
bytes() { local b; for b in "$@"; do printf "\\$(printf '%03o' "$b")"; done; }
{ bytes 0 0 8 3 0 0 0 7 0 0 0 2 0 0 0 2; for i in 0 1 2 3 4 5 6; do bytes $((i * 30)) 16 $((i * 20 + 40)) 255; done; } >"$T/img.idx"
bytes 0 0 8 1 0 0 0 7 0 1 2 0 1 2 0 >"$T/lab.idx"
mpi_run idx 3 train --data "$T/img.idx" --labels "$T/lab.idx" --arch 4-6-10 --shard --epochs 2 --batch 3 \
    --save "$T/idx.safetensors" --check-replicas
expect_clean idx
has_text "$T/idx.out" "on 7 samples"
{ bytes 0 0 8 3 0 0 0 2 0 0 0 2 0 0 0 2; bytes 1 2 3 4 5 6 7 8; } >"$T/two.idx"
bytes 0 0 8 1 0 0 0 2 0 1 >"$T/two_lab.idx"
mpi_run idx_few 3 train --data "$T/two.idx" --labels "$T/two_lab.idx" --arch 4-6-10 --shard --save "$T/few.safetensors"
expect_rc idx_few 2
one_line idx_few "process 2: $T/two.idx: 2 images for 3 processes: each needs one at least (use at most 2)"

# ---- bad input: one message (the same on every process, or the first process's that failed), exit 2
printf 'a,b,c,d,label\n1,2,3,4,0\n1,2,3,4,1\n1,x,3,4,2\n' >"$T/bad.csv"
mpi_run bad 3 train --data "$T/bad.csv" --arch 4-8-3 --save "$T/bad.safetensors"
expect_rc bad 2
one_line bad "$T/bad.csv:4:3: field 2: expected a number, got 'x'"
mpi_run stdin 2 train --data - --arch 4-8-3 --save "$T/x.safetensors"
expect_rc stdin 2
one_line stdin "--data -: under mpirun only process 0 reads standard input: give the data as a file"
refuses shard_alone "--shard: needs the processes of a data-parallel run: mpirun -np N backprop train" \
    train "${COMMON[@]}" --shard --save "$T/x.safetensors"
refuses check_alone "--check-replicas: needs the processes of a data-parallel run" \
    train "${COMMON[@]}" --check-replicas --save "$T/x.safetensors"
mpi_run eval_2 2 eval "$T/one.safetensors" --data "$T/d.csv"
expect_rc eval_2 2
one_line eval_2 "eval: started by mpirun as 2 processes: only train runs on several processes (data-parallel)"
mpi_run help 2 train --help
expect_clean help
[ "$(grep -c '^usage: backprop train' "$T/help.out")" = 1 ] && grep -q -- '--shard' "$T/help.out" && ok ||
    bad "train --help under mpirun: printed $(grep -c '^usage' "$T/help.out") times"

finish
