/* core/runtime.c - the matrix products' thread count (OpenBLAS's pool), whether
 * OpenBLAS can run at all under the process's memory limit, and the clock. */
#define _POSIX_C_SOURCE 200809L
#include "core/runtime.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* What OpenBLAS maps for each thread the first time it runs on it: a 128 MB
 * work buffer and a stack (measured: about 131 MB of address space each),
 * with some room to spare. Without that room OpenBLAS retries the mapping
 * forever, so a process under `ulimit -v` would never end. */
#define BLAS_ROOM_PER_THREAD (160UL << 20)

/* 1: OpenBLAS has room for the current thread count (or has run with it);
 * 0: not known yet; -1: no room, the products take the reference kernels. */
static _Atomic int blas_state;
/* The thread count of the products (0: not asked yet, then OpenBLAS's own):
 * kept here so that a training step asks no library call for it. */
static _Atomic int nthreads;

/* Bytes of address space this process may still map, or -1 for no limit. */
static long long room_left(void)
{
    struct rlimit as, data;
    long long limit = -1;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) limit = (long long)as.rlim_cur;
    if (getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY &&
        (limit < 0 || (long long)data.rlim_cur < limit))
        limit = (long long)data.rlim_cur;
    if (limit < 0) return -1;
    long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lld", &pages) != 1) pages = 0;
        fclose(f);
    }
    long long used = pages * sysconf(_SC_PAGESIZE);
    return limit > used ? limit - used : 0;
}

int bp_blas_ok(void)
{
    int s = atomic_load_explicit(&blas_state, memory_order_relaxed);
    if (s) return s > 0;
    long long room = room_left();
    s = room < 0 || room >= (long long)BLAS_ROOM_PER_THREAD * bp_threads() ? 1 : -1;
    atomic_store_explicit(&blas_state, s, memory_order_relaxed);
    return s > 0;
}

void bp_set_threads(int n)
{
    if (n < 1) n = 1;
    long long room = room_left();
    if (room >= 0 && n > 1 && room < (long long)BLAS_ROOM_PER_THREAD * n) {   /* as many as fit */
        n = (int)(room / (long long)BLAS_ROOM_PER_THREAD);
        if (n < 1) n = 1;
    }
    openblas_set_num_threads(n);
    atomic_store_explicit(&nthreads, openblas_get_num_threads(), memory_order_relaxed);
    atomic_store_explicit(&blas_state, 0, memory_order_relaxed);
}

int bp_threads(void)
{
    int n = atomic_load_explicit(&nthreads, memory_order_relaxed);
    if (n > 0) return n;
    n = openblas_get_num_threads();
    atomic_store_explicit(&nthreads, n, memory_order_relaxed);
    return n;
}

double bp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
