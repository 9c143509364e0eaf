#!/usr/bin/env bash
# cli_safety.sh - nothing the user had is lost, nothing hangs:
#  - outputs through a symbolic link, to a device or a FIFO, to a name of 248
#    characters; stale temporary files of dead processes removed;
#  - an output that is an input (or another output) refused before any work;
#  - a failed write to standard output (/dev/full) is exit 2, not success;
#  - a full disk (a 64 KiB tmpfs, when the tests run as root) leaves the old
#    file as it was and no temporary file behind; dot's incomplete SVG refused;
#  - under an address-space limit (ulimit -v) every command ends.
# Run from the repository root: bash tests/cli_safety.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$T/xor.csv"
TRAIN=(train --arch 2-3-1 --output sigmoid --loss bce --data "$T/xor.csv" --epochs 3 --quiet)

# ---- devices, links, FIFOs, long names
run_ok devnull "${TRAIN[@]}" --save /dev/null --log /dev/null
check "/dev/null is still a character device" [ -c /dev/null ]
run_ok model "${TRAIN[@]}" --save "$T/target.st"
ln -s target.st "$T/link.st"
run_ok vialink "${TRAIN[@]}" --save "$T/link.st" --seed 7
check "the link is still a link" [ -L "$T/link.st" ]
check "the link's target was written" [ -f "$T/target.st" ] && [ "$(readlink "$T/link.st")" = target.st ]
run_ok fd1 predict "$T/target.st" --data "$T/xor.csv" --out /proc/self/fd/1
check "--out /proc/self/fd/1 prints to stdout" grep -q '^class,probability' "$T/fd1.out"
mkfifo "$T/pipe"
cat "$T/pipe" >"$T/fromfifo" &
reader=$!
run_ok fifo predict "$T/target.st" --data "$T/xor.csv" --out "$T/pipe"
wait "$reader"
check "a FIFO receives the predictions and stays a FIFO" grep -q '^class' "$T/fromfifo" && [ -p "$T/pipe" ]
long=$(printf 'm%.0s' $(seq 1 244)).st
run_ok longname "${TRAIN[@]}" --save "$T/$long"
check "a 248-character output name" [ -f "$T/$long" ]
touch "$T/target.st.tmp.999999" "$T/target.st.tmp.$$"
run_ok stale "${TRAIN[@]}" --save "$T/target.st"
check "the temporary file of a dead process is removed" [ ! -e "$T/target.st.tmp.999999" ]
check "the temporary file of a live process is kept" [ -e "$T/target.st.tmp.$$" ]
rm -f "$T/target.st.tmp.$$"
mkdir "$T/adir"
refuses dirout "is a directory" "${TRAIN[@]}" --save "$T/adir"

# ---- an output that is an input, or another output
sum=$(cksum <"$T/xor.csv")
refuses same_data "--save $T/xor.csv is the same file as --data" "${TRAIN[@]}" --save "$T/xor.csv"
refuses same_log "--log $T/xor.csv is the same file as --data" "${TRAIN[@]}" --save "$T/m2.st" --log "$T/xor.csv"
refuses same_ckpt "--checkpoint $T/xor.csv is the same file as --data" "${TRAIN[@]}" --save "$T/m2.st" \
    --checkpoint "$T/xor.csv"
refuses same_default_ckpt "--checkpoint (by default SAVE.ckpt)" "${TRAIN[@]}" --data "$T/m3.st.ckpt" --save "$T/m3.st"
refuses same_plot "is the same file as --plot" "${TRAIN[@]}" --save "$T/m2.st" --plot "$T/m2.st"
refuses same_link "is the same file as" "${TRAIN[@]}" --save "$T/target.st" --log "$T/link.st"
refuses same_pred "--out $T/target.st is the same file as MODEL" predict "$T/target.st" --data "$T/xor.csv" \
    --out "$T/target.st"
refuses same_conv "is the same file as IN" convert "$T/target.st" "$T/link.st"
check "the inputs are untouched" [ "$(cksum <"$T/xor.csv")" = "$sum" ] && [ ! -e "$T/m2.st" ]

# ---- no garbage accepted
for a in 4-5-3- " 4-5-3" 4-+5-3 4--3 4-5x; do
    refuses "arch_$(echo "$a" | tr -c 'a-z0-9' _)" "--arch: expected sizes like" train --arch "$a" --data "$T/xor.csv"
done
refuses arch_big "size 1000000000 in '2-1000000000-1' is outside 1..100000000" train --arch 2-1000000000-1 \
    --data "$T/xor.csv"
run_ok lr_subnormal "${TRAIN[@]}" --lr 4e-320 --save "$T/tiny.st"
refuses at_twice "'x' is given twice" expr "x*y" --at x=1,y=2,x=3
refuses at_twice2 "'x' is given twice" expr "x*y" --at x=1,y=2 --at x=3
refuses at_underflow "too small for a double" expr "x" --at x=1e-400
run overflow expr "x*1e308*10" --at x=1
check "an overflow is an error (exit $rc)" [ "$rc" = 2 ] && grep -q "overflow at column 1" "$T/overflow.err"
refuses softmax1 "a softmax output of one unit is always 1" train --arch 2-3-1 --output softmax --data "$T/xor.csv"
printf '1,2,1\n3,4,1\n5,6,1\n' >"$T/one.csv"
run oneclass train --arch 2-3-2 --data "$T/one.csv" --epochs 1 --quiet --save "$T/one.st"
check "one class: a warning" grep -q "every sample has the label 1" "$T/oneclass.err"
printf '\xEF\xBB\xBF1,2,0\n3,4,1\n' >"$T/bom.csv"
run_ok bom train --arch 2-3-2 --data "$T/bom.csv" --epochs 1 --save "$T/bom.st"
check "a BOM does not hide the first row" grep -q "on 2 samples" "$T/bom.out"
# a checkpoint resumes only the run it belongs to
CK=(train --arch 2-64-64-2 --data "$T/big.csv" --epochs 20000 --batch 1 --seed 3 --quiet --save "$T/ck.st")
awk 'BEGIN { for (i = 0; i < 200; i++) printf "%d,%d,%d\n", i % 7, i % 5 * 3, i % 2 }' >"$T/big.csv"
"$BP" "${CK[@]}" --checkpoint "$T/ck.ckpt" >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -INT "$pid" 2>/dev/null
wait "$pid"
if [ -f "$T/ck.ckpt" ]; then
    refuses resume_lr "the checkpoint is of another run" "${CK[@]}" --resume "$T/ck.ckpt" --lr 0.5
    refuses resume_std "made on other data" "${CK[@]}" --resume "$T/ck.ckpt" --no-standardize
else
    bad "the training run was not interrupted in time to leave a checkpoint"
fi

# work and memory a small input asks for are bounded (found by fuzzing)
refuses expr_work "steps of work, more than the limit" expr "$(cat tests/fuzz/corpus/fuzz_expr/jacobian-dot-quadratic.txt)" \
    --at y=1
(printf '0,65535\n'; for i in $(seq 5000); do echo 0,0; done) >"$T/onehot.csv"
refuses onehot "one-hot targets of 5001 rows over them would take" train --arch 1-2-3 --data "$T/onehot.csv"

# endless streams end at once (a NUL byte) or at the limit of their kind
refuses zero_data "/dev/zero: byte 0 is NUL: not a text file (a CSV dataset)" train --arch 2-3-2 --data /dev/zero
refuses zero_model "/dev/zero: byte 0 is NUL" grad /dev/zero
refuses zero_x "/dev/zero: byte 0 is NUL" grad examples/q12.json --x /dev/zero
refuses zero_cmp "/dev/zero: byte 0 is NUL" grad examples/q12.json --compare /dev/zero
run_cmd zero_stdin "$BP" train --arch 2-3-2 --data - </dev/zero
expect_refused zero_stdin "stdin: a NUL byte"
refuses zero_st "/dev/zero: byte 0 is NUL" eval /dev/zero --data "$T/xor.csv"

# ---- standard output that cannot be written
for c in "grad examples/q12.json" "grad examples/q12.json --json" "gradcheck examples/q12.json" \
         "expr x*y --at x=1,y=2" "expr x*y --at x=1,y=2 --graph dot" "explain examples/q12.json" "--help"; do
    # shellcheck disable=SC2086
    "$BP" $c >/dev/full 2>"$T/full.err"
    rc=$?
    check "$c > /dev/full: exit 2 ($rc) and a message" [ "$rc" = 2 ] && grep -q 'standard output' "$T/full.err"
done
"$BP" train --arch 2-3-1 --output sigmoid --loss bce --data "$T/xor.csv" --epochs 3 --save "$T/m4.st" \
    >/dev/full 2>"$T/full.err" && rc=0 || rc=$?
check "train's report > /dev/full: exit 2 ($rc)" [ "$rc" = 2 ] && grep -q 'standard output' "$T/full.err"

# ---- a full disk
if [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
    trap 'umount "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
    run_ok small "${TRAIN[@]}" --save "$T/full/keep.st"
    sum=$(cksum <"$T/full/keep.st")
    head -c 60000 /dev/zero >"$T/full/filler"
    run big train --arch 2-64-64-1 --output sigmoid --loss bce --data "$T/xor.csv" --epochs 1 --quiet \
        --save "$T/full/keep.st"
    expect_refused big "keep.st: write failed"
    check "the old model is intact" [ "$(cksum <"$T/full/keep.st")" = "$sum" ]
    check "no temporary file is left" [ -z "$(ls "$T/full" | grep '\.tmp\.')" ]
    if command -v dot >/dev/null && [ -z "${BP_TEST_EMULATED:-}" ]; then   # (see cli_expr.sh)
        rm -f "$T/full/filler"
        run_ok svg expr "x*y + z" --at x=1,y=2,z=3 --graph svg --out "$T/full/g.svg"
        sum=$(cksum <"$T/full/g.svg")
        size=$(stat -c %s "$T/full/g.svg")
        avail=$(df --output=avail -B1 "$T/full" | tail -1)
        head -c $((avail - size / 2)) /dev/zero >"$T/full/filler" 2>/dev/null
        run svgfull expr "x*y + z" --at x=1,y=2,z=3 --graph svg --out "$T/full/g.svg"
        check "svg on a full disk: exit 2 ($rc)" [ "$rc" = 2 ]
        check "the old SVG is intact" [ "$(cksum <"$T/full/g.svg")" = "$sum" ]
    else
        echo "skip: no graphviz dot (or under emulation), so the SVG on a full disk is not tested"
    fi
    umount "$T/full"
else
    echo "skip: a full disk needs root and a tmpfs mount"
fi

# ---- under an address-space limit every command ends (in time, with a message)
limited() { # NAME KB ARGS...: run under ulimit -v KB, at most 120 s
    local n=$1 kb=$2
    shift 2
    (ulimit -v "$kb" && timeout 120 "$BP" "$@") >"$T/$n.out" 2>"$T/$n.err"
    rc=$?
}
if ldd "$BP" 2>/dev/null | grep -q libasan || [ -n "${BP_TEST_EMULATED:-}" ]; then
    echo "skip: the limits are not tested on an AddressSanitizer build or under an emulator (the shadow memory, or" \
         "the emulator's 128 MB code buffer, needs more address space)"
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit
fi
limited lim_help 60000 --help
expect_rc lim_help 0
limited lim_grad 100000 grad examples/q12.json
expect_rc lim_grad 0
awk 'BEGIN { s = 3; for (i = 0; i < 600; i++) { l = ""; for (j = 0; j < 64; j++) { s = (s * 1103515245 + 12345) % 2147483648;
             l = l sprintf("%.3f,", s / 2147483648) } print l (i % 3) } }' >"$T/wide.csv"
for kb in 100000 160000; do
    limited "lim_train_$kb" "$kb" train --arch 64-256-256-3 --data "$T/wide.csv" --epochs 1 --dtype f64 --batch 256 \
        --quiet --save "$T/wide.st"
    check "train under ulimit -v $kb ends (exit $rc)" [ "$rc" = 0 ] || [ "$rc" = 2 ]
done
if [ "${BP_TEST_MAX_THREADS:-2}" -ge 2 ]; then
    limited lim_threads 300000 train --arch 64-256-256-3 --data "$T/wide.csv" --epochs 1 --dtype f64 --batch 256 \
        --quiet --save "$T/wide.st" --threads 2
    check "--threads 2 under ulimit -v 300000 ends (exit $rc)" [ "$rc" = 0 ]
else
    echo "skip: --threads 2 under a memory limit (BP_TEST_MAX_THREADS=$BP_TEST_MAX_THREADS)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
