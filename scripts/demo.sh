#!/usr/bin/env bash
# demo.sh BACKPROP - the main job: train 784-256-128-10 (ReLU, softmax,
# cross-entropy) on Fashion-MNIST, evaluate it on the test split, and end with
# the line "test accuracy: 0.XXXX". Run by `make demo`.
set -euo pipefail
bp=${1:-build/backprop}
out=${DEMO_DIR:-build/demo}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

echo "== backprop demo: Fashion-MNIST, 784-256-128-10, ReLU / softmax / cross-entropy"
echo "   (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, threads: ${THREADS:-1})"
"$bp" train --arch 784-256-128-10 --hidden relu --output softmax --loss cross_entropy \
    --data fashion-mnist --epochs 20 --batch 128 --lr 0.05 --optimizer momentum --schedule cosine \
    --threads "${THREADS:-1}" --seed 1 \
    --save "$out/fashion.safetensors" --log "$out/metrics.csv" --plot "$out/curves.svg"
echo
echo "== evaluation on the 10000 test images"
"$bp" eval "$out/fashion.safetensors" --data fashion-mnist --split test
echo
echo "learning curves: $out/curves.svg, metrics per epoch: $out/metrics.csv"
acc=$("$bp" eval "$out/fashion.safetensors" --data fashion-mnist --split test --json |
      sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
printf 'test accuracy: %.4f\n' "$acc"
