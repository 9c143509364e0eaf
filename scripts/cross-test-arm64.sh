#!/usr/bin/env bash
# cross-test-arm64.sh - build the library, the tool and the tests for ARM64
# (aarch64) and run the test suite under qemu-user, on an x86-64 Debian.
#
#   scripts/cross-test-arm64.sh [--build DIR] [CTEST_ARGS...]
#
# Installs what is missing: Debian's gcc-aarch64-linux-gnu, qemu-user and the
# arm64 development packages of the dependencies (libopenblas-dev:arm64,
# libjansson-dev:arm64, zlib1g-dev:arm64; the arm64 architecture is added to
# dpkg first). Configures DIR (default build-arm64) with
# cmake/aarch64-linux-gnu.cmake, builds with warnings as errors, and runs
# ctest; every test runs the ARM64 binaries through qemu-aarch64 (the C tests
# by CMake's emulator setting, the CLI tests through a wrapper). On ARM64 the
# x86 micro-kernels are left out and OpenBLAS does the matrix products. The
# install test is skipped (it builds with the host's compiler). Takes about
# 10 minutes; not part of `make test`. Exit status: ctest's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-arm64
if [ "${1:-}" = --build ]; then BUILD=$2; shift 2; fi
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  [ "$(id -u)" -eq 0 ] || { echo "cross-test-arm64: as root: dpkg --add-architecture arm64 && apt-get update" >&2; exit 1; }
  dpkg --add-architecture arm64
  apt-get update -qq >/dev/null || true
fi
"$ROOT/scripts/install-deps.sh" gcc-aarch64-linux-gnu qemu-user cmake pkg-config \
  libopenblas-dev:arm64 libjansson-dev:arm64 zlib1g-dev:arm64

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DBP_WERROR=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
echo "cross-test-arm64: $(file -b "$BUILD/backprop" | cut -d, -f1-2)"
echo "cross-test-arm64: $(qemu-aarch64 --version | head -1)"
cd "$BUILD"
# Under this machine's qemu-user no new thread or process starts: pthread_create
# and fork never return, in a ten-line program too (on real ARM64 hardware they
# do). So the tests run with one OpenBLAS thread (its thread server would start
# threads when the library loads) and skip their checks on several threads
# (BP_TEST_MAX_THREADS=1: test_sgemm, test_fused, cli_safety; test_dist, whose
# processes are threads, skips altogether), and the checks of
# `expr --graph svg`, which starts Graphviz's dot (BP_TEST_EMULATED: cli_expr,
# cli_safety).
export OPENBLAS_NUM_THREADS=1 BP_TEST_MAX_THREADS=1 BP_TEST_EMULATED=1
ctest --output-on-failure -j "$(nproc)" "$@"
