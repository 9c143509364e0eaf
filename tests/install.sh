#!/usr/bin/env bash
# install.sh - a C programmer's first five minutes: install into a temporary
# prefix, then build and run a small program against it with pkg-config and
# with CMake's find_package, once against the shared library and once
# against the static one.
# Run from the repository root: bash tests/install.sh BUILD_DIR
set -u
BUILD=${1:?usage: bash tests/install.sh BUILD_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
CC=${CC:-cc}
# a sanitizer build installs instrumented libraries: the program is built the same way
SAN=
grep -q '^BP_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null && SAN="-fsanitize=address,undefined"

P="$T/prefix"
if ! cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1; then
    bad "cmake --install failed: $(tail -3 "$T/install.log")"
    echo "$pass passed, $fail failed"
    exit 1
fi
PC=$(find "$P" -name backprop.pc | head -1)
[ -n "$PC" ] && ok || bad "no backprop.pc installed"
LIBDIR=$(dirname "$(dirname "$PC")")
for f in "$P/include/backprop.h" "$LIBDIR/libbackprop.a" "$LIBDIR/libbackprop.so" "$P/bin/backprop" \
         "$LIBDIR/cmake/backprop/backpropConfig.cmake"; do
    [ -e "$f" ] && ok || bad "not installed: $f"
done
soname=$(objdump -p "$LIBDIR/libbackprop.so" 2>/dev/null | awk '/SONAME/ { print $2 }')
[ "$soname" = libbackprop.so.0 ] && ok || bad "soname is '$soname', expected libbackprop.so.0"
export PKG_CONFIG_PATH="$(dirname "$PC")"
[ "$(pkg-config --variable=prefix backprop)" -ef "$P" ] && ok ||
    bad "the .pc file's prefix is '$(pkg-config --variable=prefix backprop)', not the install prefix"

# the README's program, near enough: load the CS577 question 12 model, one pass, a gradient
cat >"$T/prog.c" <<'EOF'
#include <backprop.h>
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    bp_model *m = NULL;
    bp_error err;
    double loss;
    if (argc < 2 || bp_model_load(argv[1], BP_F64, &m, &err) || bp_model_pass(m, &loss, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        bp_model_free(m);
        return 1;
    }
    bp_mat db = bp_net_bias_grad(bp_model_net(m), 1);
    printf("%.8f %.6f\n", loss, bp_mat_get(&db, 0, 0));
    bp_model_free(m);
    return 0;
}
EOF
want="281.70005118 -57.657759"
run_prog() { # NAME BINARY: runs on examples/q12.json, must print the true values
    local out
    out=$(LD_LIBRARY_PATH="$LIBDIR" "$2" examples/q12.json 2>&1)
    [ "$out" = "$want" ] && ok || bad "$1: printed '$out', expected '$want'"
}

# pkg-config, shared: the plain --libs links
# shellcheck disable=SC2046
if $CC $SAN -o "$T/prog_shared" "$T/prog.c" $(pkg-config --cflags --libs backprop) 2>"$T/cc.err"; then
    run_prog "pkg-config, shared" "$T/prog_shared"
    ldd "$T/prog_shared" | grep -q 'libbackprop.so.0' && ok || bad "pkg-config --libs did not link the shared library"
else
    bad "pkg-config --libs: the link failed: $(head -3 "$T/cc.err")"
fi
# pkg-config, static: the archive and --static's private libraries
# shellcheck disable=SC2046
if $CC $SAN -o "$T/prog_static" "$T/prog.c" $(pkg-config --cflags backprop) "$LIBDIR/libbackprop.a" \
       $(pkg-config --static --libs backprop | sed 's/-lbackprop//') 2>"$T/cc.err"; then
    run_prog "pkg-config, static" "$T/prog_static"
    ldd "$T/prog_static" | grep -q 'libbackprop' && bad "the static program needs libbackprop.so" || ok
else
    bad "pkg-config --static: the link failed: $(head -3 "$T/cc.err")"
fi

# CMake: find_package(backprop), both targets
for target in backprop backprop_static; do
    d="$T/cmake_$target"
    mkdir -p "$d"
    cp "$T/prog.c" "$d/"
    cat >"$d/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(prog C)
find_package(backprop 0.1 REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE backprop::$target m)
EOF
    if cmake -S "$d" -B "$d/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_FLAGS="$SAN" -DCMAKE_EXE_LINKER_FLAGS="$SAN" \
            >"$d/log" 2>&1 && cmake --build "$d/build" >>"$d/log" 2>&1; then
        run_prog "find_package, backprop::$target" "$d/build/prog"
    else
        bad "find_package with backprop::$target failed: $(grep -m3 -i 'error' "$d/log")"
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
