#!/usr/bin/env bash
# cli_train.sh - `backprop train` end to end: XOR, a regression CSV with a
# header (standardised, MSE from eval), the metrics log and plot, Ctrl-C then
# --resume giving the same model file as an uninterrupted run, divergence,
# and bad input.
# Run from the repository root: bash tests/cli_train.sh /path/to/backprop
set -u
. "$(dirname "$0")/testlib.sh"

# ---- XOR: 2-4-1, sigmoid output, binary cross-entropy
printf '0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$T/xor.csv"
run xor train --arch 2-4-1 --hidden tanh --output sigmoid --loss bce --regression --no-standardize \
    --data "$T/xor.csv" --epochs 1500 --batch 4 --lr 0.05 --optimizer adam --init xavier --seed 2 \
    --save "$T/xor.safetensors" --quiet
expect_rc xor 0
printf '0,0\n0,1\n1,0\n1,1\n' >"$T/xorx.csv"
run xorp predict "$T/xor.safetensors" --data "$T/xorx.csv" --no-labels --outputs
expect_rc xorp 0
check "xor outputs round to 0 1 1 0" \
    [ "$(tail -n +2 "$T/xorp.out" | awk '{printf "%d", ($1 >= 0.5)}')" = "0110" ]

# ---- regression with a header: y = 3 a - 2 b + 0.5 c + 1, standardised inputs
awk 'BEGIN { print "a,b,c,y"; s = 7;
             for (i = 0; i < 300; i++) { s = (s * 1103515245 + 12345) % 2147483648; a = s / 2147483648 * 10;
                                         s = (s * 1103515245 + 12345) % 2147483648; b = s / 2147483648 * 100;
                                         s = (s * 1103515245 + 12345) % 2147483648; c = s / 2147483648 - 0.5;
                                         printf "%.6f,%.6f,%.6f,%.6f\n", a, b, c, 3*a - 2*b + 0.5*c + 1 } }' >"$T/reg.csv"
run reg train --arch 3-1 --loss squared --regression --data "$T/reg.csv" --epochs 300 --batch 300 \
    --lr 0.3 --save "$T/reg.safetensors" --log "$T/reg_log.csv" --plot "$T/reg.svg"
expect_rc reg 0
check "one line per epoch when stdout is not a terminal" [ "$(grep -c '^epoch ' "$T/reg.out")" = 300 ]
check "log header" [ "$(head -1 "$T/reg_log.csv")" = "epoch,train_loss,train_acc,val_loss,val_acc,seconds" ]
check "log has 300 rows" [ "$(wc -l <"$T/reg_log.csv")" = 301 ]
check "regression log leaves accuracy empty" grep -qE '^300,[^,]+,,,,' "$T/reg_log.csv"
check "plot is SVG" grep -q '<svg' "$T/reg.svg"
run regeval eval "$T/reg.safetensors" --data "$T/reg.csv" --regression --json
expect_rc regeval 0
mse=$(sed -n 's/.*"mse": \([-0-9.e]*\).*/\1/p' "$T/regeval.out")
check "the model fits the plane (mse $mse < 1e-4)" awk -v m="$mse" 'BEGIN { exit !(m != "" && m < 1e-4) }'

# ---- Ctrl-C then --resume ends with the same model as an uninterrupted run
awk 'BEGIN { s = 11;
             for (i = 0; i < 3000; i++) { line = ""; t = 0;
                 for (j = 0; j < 16; j++) { s = (s * 1103515245 + 12345) % 2147483648; v = s / 2147483648 - 0.5;
                                            line = line sprintf("%.5f,", v); t += v * (j % 3 - 1) }
                 print line (t > 0.3 ? 2 : (t < -0.3 ? 0 : 1)) } }' >"$T/cls.csv"
ARGS=(train --arch 16-64-64-3 --data "$T/cls.csv" --epochs 300 --batch 4 --lr 0.02 --optimizer momentum
      --val 0.2 --seed 5 --quiet)
run full "${ARGS[@]}" --save "$T/full.safetensors"
expect_rc full 0
interrupted=0
for delay in 0.3 0.6 1.2; do
    rm -f "$T/part.safetensors" "$T/part.ckpt"
    "$BP" "${ARGS[@]}" --save "$T/part.safetensors" --checkpoint "$T/part.ckpt" >"$T/int.out" 2>"$T/int.err" &
    pid=$!
    sleep "$delay"
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    if [ "$rc" = 130 ]; then interrupted=1; break; fi
done
check "Ctrl-C interrupts training (exit 130)" [ "$interrupted" = 1 ]
if [ "$interrupted" = 1 ]; then
    check "checkpoint written" [ -s "$T/part.ckpt" ]
    check "no model written by the interrupted run" [ ! -e "$T/part.safetensors" ]
    check "the message says how to resume" grep -q -- "--resume" "$T/int.err"
    run resume "${ARGS[@]}" --save "$T/part.safetensors" --resume "$T/part.ckpt"
    expect_rc resume 0
    check "resumed model is bit-identical to the uninterrupted one" cmp -s "$T/full.safetensors" "$T/part.safetensors"
    # --resume alone: the network and the options come from the checkpoint, the data options are given again
    run resume_bare train --resume "$T/part.ckpt" --data "$T/cls.csv" --val 0.2 --quiet --save "$T/bare.safetensors"
    expect_rc resume_bare 0
    # the run took relu'(0) = 0: resuming it with the other convention is another run
    run resume_relu1 train --resume "$T/part.ckpt" --data "$T/cls.csv" --val 0.2 --quiet --save "$T/r1.safetensors" \
        --relu-grad-at-zero 1
    expect_refused resume_relu1 "the checkpoint is of another run" "relu'(0) = 1: resume with the same"
    check "resumed with --resume alone: the same model" cmp -s "$T/full.safetensors" "$T/bare.safetensors"
    run resume_nodata train --resume "$T/part.ckpt" --data "$T/cls.csv" --quiet --save "$T/bare2.safetensors"
    expect_refused resume_nodata "the checkpoint was made with 2400 training samples, this data has 3000"
    cp "$T/part.ckpt" "$T/own.ckpt"
    run resume_own "${ARGS[@]}" --save "$T/own.safetensors" --resume "$T/own.ckpt" --checkpoint "$T/own.ckpt"
    expect_rc resume_own 0
    check "the run's own checkpoint is removed once the run is complete" [ ! -e "$T/own.ckpt" ]
fi
# early stopping says which epoch's weights it kept
run early train --arch 16-64-64-3 --data "$T/cls.csv" --epochs 40 --batch 16 --lr 0.05 --val 0.3 --patience 2 \
    --seed 3 --save "$T/early.safetensors"
expect_rc early 0
check "early stopping names the epoch kept" grep -q "^kept the weights of epoch [0-9]*, the best validation loss" \
    "$T/early.out"

# ---- --relu-grad-at-zero: rows of zeros meet zero biases, so z = 0 exactly in the first layer
awk 'BEGIN { for (i = 0; i < 40; i++) { if (i % 2) print "0,0,1"; else printf "%.3f,%.3f,%d\n", i / 40, 1 - i / 40, i % 3 } }' \
    >"$T/zeros.csv"
ZARGS=(train --arch 2-8-1 --regression --no-standardize --init xavier --data "$T/zeros.csv" --epochs 3 --batch 40
       --lr 0.5 --seed 2 --quiet)
run relu0 "${ZARGS[@]}" --save "$T/relu0.safetensors"
expect_rc relu0 0
run relu1 "${ZARGS[@]}" --save "$T/relu1.safetensors" --relu-grad-at-zero 1
expect_rc relu1 0
if cmp -s "$T/relu0.safetensors" "$T/relu1.safetensors"; then bad "relu'(0) = 1 trains another model here"; else ok; fi
run relu1v train --arch 2-8-1 --regression --data "$T/zeros.csv" --epochs 1 --relu-grad-at-zero 1 --save "$T/relu1v.safetensors"
has_text "$T/relu1v.out" "relu'(0) = 1"
refuses relu_bad "--relu-grad-at-zero: expected 0 (as PyTorch) or 1 (z >= 0), got '0.5'" train --arch 2-8-1 \
    --regression --data "$T/zeros.csv" --relu-grad-at-zero 0.5

# ---- divergence: exit 1, names epoch and batch, the last good model is saved
printf '1,1000\n2,2000\n3,3000\n4,4000\n' >"$T/div.csv"
run div train --arch 1-4-1 --regression --no-standardize --data "$T/div.csv" --epochs 50 --batch 2 --lr 100 \
    --save "$T/div.safetensors" --quiet
expect_rc div 1
check "divergence names epoch and batch" grep -q "diverged at epoch [0-9]*, batch [0-9]*" "$T/div.err"
run diveval eval "$T/div.safetensors" --data "$T/div.csv" --regression
expect_rc diveval 0

# ---- bad input: one line, exit 2
run badarch train --arch 784-x-10 --data "$T/cls.csv"
expect_refused badarch "--arch" "784-x-10"
run badopt train --arch 16-3 --data "$T/cls.csv" --optimizer adagrad
expect_refused badopt "adagrad"
run nodata train --arch 16-3
expect_refused nodata "--data"
run wrongwidth train --arch 10-3 --data "$T/cls.csv" --quiet
expect_refused wrongwidth "16 features" "10 inputs"
run wrongout train --arch 16-4 --data "$T/cls.csv" --quiet
expect_refused wrongout "the data has 3 classes, the network 4 outputs" "end --arch with 3"
printf 'not a checkpoint' >"$T/junk.ckpt"
run badresume "${ARGS[@]}" --save "$T/x.safetensors" --resume "$T/junk.ckpt"
expect_refused badresume "junk.ckpt"
if [ -s "$T/part.ckpt" ]; then
    run otherbatch train --arch 16-64-64-3 --data "$T/cls.csv" --epochs 300 --batch 8 --lr 0.02 --optimizer momentum \
        --val 0.2 --seed 5 --quiet --save "$T/y.safetensors" --resume "$T/part.ckpt"
    expect_refused otherbatch "part.ckpt" "another run" "batch 4"
    run otherarch train --arch 16-32-3 --data "$T/cls.csv" --epochs 300 --batch 4 --lr 0.02 --optimizer momentum \
        --val 0.2 --seed 5 --quiet --save "$T/y.safetensors" --resume "$T/part.ckpt"
    expect_refused otherarch "part.ckpt" "another run"
fi
run modelopts train --model examples/q12.json --hidden tanh --data "$T/cls.csv"
expect_refused modelopts "--model" "--hidden"
run noval train --arch 2-4-1 --loss bce --data "$T/xor.csv" --val 0.1 --patience 2
expect_refused noval "--val" "no validation samples"
# class labels 0/1 train one sigmoid output with bce
run xorlabels train --arch 2-4-1 --hidden tanh --loss bce --no-standardize --data "$T/xor.csv" --epochs 1500 \
    --batch 4 --lr 0.05 --optimizer adam --init xavier --seed 2 --save "$T/xl.safetensors" --quiet
expect_rc xorlabels 0
run xorleval eval "$T/xl.safetensors" --data "$T/xor.csv"
expect_rc xorleval 0
has_text "$T/xorleval.out" "accuracy  1.0000"
printf '1,2,0\n3,oops,1\n' >"$T/badnum.csv"
run badcsv train --arch 2-2 --data "$T/badnum.csv"
expect_refused badcsv "badnum.csv:2:3" "oops"
run negval train --arch 16-3 --data "$T/cls.csv" --val 1.5
expect_refused negval "--val"
run savestdout train --arch 16-3 --data "$T/cls.csv" --save -
expect_refused savestdout "--save -: a file name is needed"
run_ok helptrain help train
check "backprop help train = backprop train --help" cmp -s "$T/helptrain.out" <("$BP" train --help)
run_ok explainout explain examples/q12.json --out "$T/q12.txt"
check "explain --out writes the file, nothing on stdout" [ -s "$T/q12.txt" ] && [ ! -s "$T/explainout.out" ]
# ---- on a terminal the progress bar fits its width (a wrapped line cannot be redrawn)
if command -v script >/dev/null; then
    awk 'BEGIN { for (i = 0; i < 300; i++) printf "%d,%d,%d\n", i % 7, i % 5 * 3, i % 2 }' >"$T/bar.csv"
    for cols in 50 80; do
        COLUMNS=$cols script -qfec "$BP train --arch 2-64-64-2 --data $T/bar.csv --epochs 2 --batch 1 --save $T/bar.st" \
            "$T/bar$cols.typescript" >/dev/null 2>&1
        widest=$(tr '\r' '\n' <"$T/bar$cols.typescript" | grep '\[' | sed 's/\x1b\[K//g' | awk '{ print length($0) }' |
                 sort -n | tail -1)
        check "the bar fits $cols columns (widest ${widest:-none})" [ -n "$widest" ] && [ "$widest" -lt "$cols" ]
    done
else
    echo "skip: no script(1), so the progress bar on a terminal is not tested"
fi
# ---- the own matrix kernels give the same bits: a model is the same on every CPU
# (where the own kernels run: not on ARM64, where OpenBLAS does the products)
if "$BP" --version | grep -q 'own micro-kernel'; then
    awk 'BEGIN { for (i = 0; i < 200; i++) { for (j = 0; j < 48; j++) printf "%.3f,", ((i * 31 + j * 17) % 101) / 50 - 1; print i % 3 } }' \
        >"$T/wide.csv"
    for k in ref avx2 avx512; do   # a kernel the CPU lacks is not used: then the best it has
        BP_SGEMM=$k "$BP" train --arch 48-64-32-3 --data "$T/wide.csv" --epochs 2 --batch 50 --quiet --save "$T/k_$k.st" ||
            bad "train with BP_SGEMM=$k"
    done
    check "the same model from the reference, AVX2 and AVX-512 kernels (those this CPU has)" \
        cmp -s "$T/k_ref.st" "$T/k_avx2.st" && cmp -s "$T/k_ref.st" "$T/k_avx512.st"
    # ... and on several threads: each element of a product is one thread's, in the same order
    for t in 2 3; do
        "$BP" train --arch 48-64-32-3 --data "$T/wide.csv" --epochs 2 --batch 50 --threads $t --quiet \
            --save "$T/t_$t.st" || bad "train with --threads $t"
    done
    check "the same model on 1, 2 and 3 threads" cmp -s "$T/k_avx512.st" "$T/t_2.st" && cmp -s "$T/k_avx512.st" "$T/t_3.st"
else
    echo "skip: $("$BP" --version | tail -1): the own kernels' bit-for-bit checks"
fi
finish
