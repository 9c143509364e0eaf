#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer targets (build-fuzz/, clang) and run them.
#
#   tests/fuzz/run.sh --smoke [TARGET...]      each target a fixed number of runs on its
#                                              corpus (make test); nothing is written to
#                                              the committed corpus
#   tests/fuzz/run.sh --seconds N [TARGET...]  each target N seconds (make fuzz); new inputs
#                                              go to a temp dir, printed at the end
#   tests/fuzz/run.sh --replay [TARGET...]     each input kept under tests/fuzz/found/TARGET/
#                                              once: which still fail?
#
# TARGET is a name like fuzz_csv (default: every tests/fuzz/fuzz_*.c). Exits 1 on
# any crash, leak, timeout, out-of-memory or sanitizer report, naming the input
# that caused it; exits 0 with one "skip: ..." line when clang or the libFuzzer
# runtime is missing.
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_JOBS (targets at once, default
# 2, at most the cores), FUZZ_SMOKE_RUNS (runs per target in --smoke, default 15000),
# FUZZ_TIMEOUT (seconds per input, default 10), FUZZ_RSS_MB (default 2048).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tests/fuzz
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
JOBS=${FUZZ_JOBS:-2}
SMOKE_RUNS=${FUZZ_SMOKE_RUNS:-15000}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_MB=${FUZZ_RSS_MB:-2048}

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mode="" seconds=""
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) mode=smoke ;;
    --replay) mode=replay ;;
    --seconds) [ $# -ge 2 ] || usage; mode=seconds; seconds=$2; shift ;;
    --seconds=*) mode=seconds; seconds=${1#--seconds=} ;;
    -h|--help) usage ;;
    -*) echo "run.sh: unknown option '$1'" >&2; usage ;;
    *) targets+=("$1") ;;
    esac
    shift
done
[ -n "$mode" ] || usage
if [ "$mode" = seconds ] && ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: --seconds needs a whole number of seconds >= 1, got '$seconds'" >&2
    exit 2
fi

# ---- clang and the libFuzzer runtime, or skip --------------------------------------
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "skip: fuzzing needs clang, not found (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
probe=$(mktemp -d "${TMPDIR:-/tmp}/bp-fuzz-probe.XXXXXX")
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    rm -rf "$probe"
    echo "skip: $CC cannot link -fsanitize=fuzzer,address,undefined: the libFuzzer runtime is missing (apt-get install libclang-rt-14-dev)"
    exit 0
fi
rm -rf "$probe"

# ---- build ----------------------------------------------------------------------------
command -v cmake >/dev/null 2>&1 || { echo "run.sh: cmake is missing (make deps)" >&2; exit 1; }
cores=$(nproc 2>/dev/null || echo 1)
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
[ "$JOBS" -le "$cores" ] || JOBS=$cores
blog=$(mktemp "${TMPDIR:-/tmp}/bp-fuzz-build.XXXXXX")
if { [ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$FUZZ" -B "$BUILD" -DCMAKE_C_COMPILER="$CC" >"$blog" 2>&1; } &&
    cmake --build "$BUILD" -j "$cores" >>"$blog" 2>&1; then
    rm -f "$blog"
else
    tail -n 40 "$blog" >&2
    echo "run.sh: building the fuzz targets in $BUILD failed (log: $blog)" >&2
    exit 1
fi

if [ ${#targets[@]} -eq 0 ]; then
    for src in "$FUZZ"/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi
for t in "${targets[@]}"; do
    [ -x "$BUILD/$t" ] || { echo "run.sh: no fuzz target '$t' in $BUILD" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bp-fuzz.XXXXXX")
mkdir -p "$WORK/tmp"
# The targets' temp files go under $WORK/tmp (fuzz_common.h reads TMPDIR), so a
# crashed run leaves nothing in /tmp itself.
export TMPDIR=$WORK/tmp
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A report in a log, whatever the exit code said.
reported() { grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$1"; }

# ---- replay ---------------------------------------------------------------------------
if [ "$mode" = replay ]; then
    fail=0 n=0
    for t in "${targets[@]}"; do
        for f in "$FUZZ/found/$t"/*; do
            [ -f "$f" ] || continue
            n=$((n + 1))
            log=$WORK/replay.log
            if "$BUILD/$t" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" "$f" >"$log" 2>&1 && ! reported "$log"; then
                echo "fixed  $t ${f#$ROOT/}"
            else
                fail=1
                echo "FAILS  $t ${f#$ROOT/}: $(grep -m1 -E 'ERROR:|runtime error:|SUMMARY:' "$log")"
            fi
        done
    done
    rm -rf "$WORK"
    [ $n -gt 0 ] || echo "no inputs under tests/fuzz/found/"
    exit $fail
fi

# ---- smoke / seconds ------------------------------------------------------------------
run_one() { # TARGET: run it, write $WORK/TARGET.rc
    local t=$1 d=$WORK/$t
    mkdir -p "$d/new" "$d/artifacts"
    local args=(-timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -artifact_prefix="$d/artifacts/" -print_final_stats=1)
    [ -f "$FUZZ/$t.dict" ] && args+=(-dict="$FUZZ/$t.dict")
    if [ "$mode" = smoke ]; then args+=(-runs="$SMOKE_RUNS" -seed=1)
    else args+=(-max_total_time="$seconds"); fi
    # The first corpus dir receives the new inputs: a temp dir, never the committed one.
    local corpus=("$d/new")
    [ -d "$FUZZ/corpus/$t" ] && corpus+=("$FUZZ/corpus/$t")
    local rc=0 t0=$SECONDS
    "$BUILD/$t" "${args[@]}" "${corpus[@]}" >"$d/log" 2>&1 || rc=$?
    if [ $rc -eq 0 ] && reported "$d/log"; then rc=1; fi
    echo $((SECONDS - t0)) >"$WORK/$t.time"
    echo $rc >"$WORK/$t.rc"
}

report_one() { # TARGET: one line, and the details of a failure
    local t=$1 d=$WORK/$1 rc
    rc=$(cat "$WORK/$t.rc" 2>/dev/null || echo 1)
    local stats secs
    stats=$(grep -m1 -E '^stat::number_of_executed_units' "$d/log" | awk '{print $2}')
    secs=$(cat "$WORK/$t.time" 2>/dev/null || echo '?')
    local new
    new=$(find "$d/new" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        if [ "$mode" = smoke ]; then printf 'ok    %-18s %s runs, %s s\n' "$t" "${stats:-?}" "$secs"
        else printf 'ok    %-18s %s runs, %s s, %s new inputs in %s\n' "$t" "${stats:-?}" "$secs" "$new" "$d/new"; fi
        return 0
    fi
    printf 'FAIL  %-18s (exit %s after %s s)\n' "$t" "$rc" "$secs"
    grep -m1 -E 'ERROR: |runtime error:|SUMMARY: ' "$d/log" | sed 's/^/      /'
    grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' "$d/log" | grep -vE ' in (fuzzer::|__sanitizer|__asan|__interceptor|__ubsan|__lsan|__libc|_start|main |LLVMFuzzer)' |
        head -n 6 | sed 's/^/      /'
    local a
    for a in "$d"/artifacts/*; do
        [ -f "$a" ] || continue
        case $(basename "$a") in slow-unit-*) continue ;; esac
        echo "      input: $a"
    done
    echo "      log:   $d/log"
    return 1
}

start=$(date +%s)
echo "fuzz: $mode run of ${#targets[@]} targets, $JOBS at a time (work dir $WORK)"
fail=0
running=0
pending=("${targets[@]}")
declare -A pid_of=()
for t in "${pending[@]}"; do
    while [ $running -ge "$JOBS" ]; do
        wait -n 2>/dev/null || true
        running=0
        for p in "${!pid_of[@]}"; do
            if kill -0 "${pid_of[$p]}" 2>/dev/null; then running=$((running + 1))
            else report_one "$p" || fail=1; unset "pid_of[$p]"; fi
        done
    done
    run_one "$t" &
    pid_of[$t]=$!
    running=$((running + 1))
done
for p in "${!pid_of[@]}"; do
    wait "${pid_of[$p]}" 2>/dev/null || true
    report_one "$p" || fail=1
done
end=$(date +%s)
echo "fuzz: $((end - start)) s"
if [ $fail -ne 0 ]; then
    echo "fuzz: FAILED; inputs and logs are kept in $WORK (minimize: build-fuzz/TARGET -minimize_crash=1 -runs=10000 INPUT;"
    echo "      keep the input under tests/fuzz/found/TARGET/, see tests/fuzz/README.md)"
    exit 1
fi
if [ "$mode" = smoke ]; then rm -rf "$WORK"
else echo "fuzz: new inputs are in $WORK/TARGET/new (merge the useful ones: see tests/fuzz/README.md)"; fi
exit 0
