/* core/pool.c - the fork-join pool of the own matrix product (see pool.h).
 *
 * A run publishes its job (fn, arg, nt) and bumps a generation counter;
 * every worker sees the new generation, runs its part if its number is
 * below nt, and counts itself done; the caller runs part 0 meanwhile, then
 * waits for the count. Workers spin on the generation for a while before
 * they sleep, so the products of one training step (microseconds apart)
 * reach running workers. The job's fields are written only between runs,
 * while every worker is waiting for the next generation. */
#define _POSIX_C_SOURCE 200809L
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#elif defined(__aarch64__)
#define RELAX() __asm__ __volatile__("yield")
#else
#define RELAX() ((void)0)
#endif

/* Spins of a worker before it sleeps (about 100-300 us), and of the caller
 * waiting for its workers before it yields the CPU between checks. */
enum { WORKER_SPINS = 4096, CALLER_SPINS = 1024 };

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;   /* one run at a time */
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int nworkers;                 /* started; under run_lock           */
static _Atomic unsigned long gen;    /* bumped once per run               */
static _Atomic int pending;          /* workers not done with this run    */
static _Atomic int sleepers;         /* workers waiting on `wake`         */
static bp_pool_fn job_fn;            /* the run's job: written between    */
static void *job_arg;                /*   runs, read by the workers after  */
static int job_nt;                   /*   they see the new generation     */

typedef struct {
    int id;
    unsigned long seen;
} worker_start;

static worker_start starts[BP_POOL_MAX];

static void *worker(void *p)
{
    const worker_start *ws = p;
    int id = ws->id;
    unsigned long seen = ws->seen;
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load(&gen)) == seen) {
            if (++spins < WORKER_SPINS) { RELAX(); continue; }
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            while (atomic_load(&gen) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
            spins = 0;
        }
        seen = g;
        if (id < job_nt) job_fn(job_arg, id, job_nt);
        atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
    }
    return NULL;
}

/* Every part on the calling thread, in order. */
static void run_serial(int nt, bp_pool_fn fn, void *arg)
{
    for (int t = 0; t < nt; t++) fn(arg, t, nt);
}

void bp_pool_run(int nt, bp_pool_fn fn, void *arg)
{
    if (nt > BP_POOL_MAX) nt = BP_POOL_MAX;
    if (nt <= 1) { run_serial(nt, fn, arg); return; }
    if (pthread_mutex_trylock(&run_lock)) { run_serial(nt, fn, arg); return; }
    while (nworkers < nt - 1) {   /* start the missing workers, numbered from 1 */
        worker_start *s = &starts[nworkers];
        s->id = nworkers + 1;
        s->seen = atomic_load(&gen);
        pthread_attr_t at;
        pthread_t th;
        int ok = pthread_attr_init(&at) == 0;
        ok = ok && pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0 &&
             pthread_attr_setstacksize(&at, 256 * 1024) == 0 && pthread_create(&th, &at, worker, s) == 0;
        pthread_attr_destroy(&at);
        if (!ok) break;
        nworkers++;
    }
    if (nworkers < nt - 1) {   /* no threads to be had: the parts one after the other */
        pthread_mutex_unlock(&run_lock);
        run_serial(nt, fn, arg);
        return;
    }
    job_fn = fn;
    job_arg = arg;
    job_nt = nt;
    atomic_store(&pending, nworkers);
    atomic_fetch_add(&gen, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    fn(arg, 0, nt);
    for (int spins = 0; atomic_load_explicit(&pending, memory_order_acquire) > 0;)
        if (++spins < CALLER_SPINS) RELAX();
        else sched_yield();
    pthread_mutex_unlock(&run_lock);
}

int bp_pool_threads(int nt, double work, double least)
{
    double most = work / least;
    if (most < nt) nt = most >= 2 ? (int)most : 1;
    return nt < 1 ? 1 : nt > BP_POOL_MAX ? BP_POOL_MAX : nt;
}

void bp_pool_part(size_t total, size_t unit, int t, int nt, size_t *lo, size_t *hi)
{
    size_t units = (total + unit - 1) / unit;
    *lo = units * (size_t)t / (size_t)nt * unit;
    *hi = units * (size_t)(t + 1) / (size_t)nt * unit;
    if (*lo > total) *lo = total;
    if (*hi > total) *hi = total;
}
