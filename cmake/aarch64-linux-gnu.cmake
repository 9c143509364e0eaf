# cmake/aarch64-linux-gnu.cmake - cross-building for ARM64 with Debian's
# gcc-aarch64-linux-gnu and the :arm64 development packages (multiarch), the
# tests run under qemu-user. Used by scripts/cross-test-arm64.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# by its path: the CLI tests also run the tool with PATH=/nonexistent
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu)
# pkg-config finds the arm64 .pc files, not the host's
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
