/* core/mpi.c - the MPI binding: a bp_reducer (backprop.h) over Open MPI, and
 * the process group's life (init, rank, agreement on failures, abort,
 * finalize). The only file that includes <mpi.h>; compiled with it when CMake
 * found MPI (BP_HAVE_MPI), else as stubs whose bp_mpi_init says how to enable
 * it. It knows nothing of networks: it sums buffers (core layer); the trainer
 * (nn/train.c) and the fused step (nn/fused.c) call it only through the
 * reducer's function pointers.
 *
 * Gradients: one nonblocking allreduce per layer (the fused step starts a
 * layer's as soon as its backward pass is done), in place, through a
 * persistent request made the first time a layer's block is summed
 * (MPIX_Allreduce_init, Open MPI's extension of MPI 4's MPI_Allreduce_init)
 * and restarted every step, so a step allocates nothing; without the
 * extension, MPI_Iallreduce. Every process receives the same bits (Open MPI's
 * algorithms combine each element once and send the result on), and a run
 * repeated with the same processes takes the same algorithm and order.
 * Small reductions (a step's loss, counts and stop flag; validation numbers)
 * gather every process's values and add them here in rank order, so their
 * bits do not depend on the algorithm at all.
 *
 * MPI moves a nonblocking collective's data only while some MPI call runs.
 * The fused step calls progress() between its products, but the largest
 * products run for milliseconds without one; so, when MPI allows calls from
 * a second thread (MPI_THREAD_SERIALIZED), a progress thread tests the begun
 * sums every 50 us while there are any (and sleeps on a condition variable
 * otherwise). Every MPI call of this file is made under one mutex, so the
 * two threads never call MPI at once. BP_MPI_PROGRESS_THREAD=0 in the
 * environment turns the thread off (for comparisons).
 */
#define _POSIX_C_SOURCE 200809L
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The size and rank an MPI launcher put in the environment, or 0. */
int bp_mpi_launched(int *rank)
{
    static const char *const vars[][2] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"}, {"PMI_SIZE", "PMI_RANK"}};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *s = getenv(vars[i][0]), *r = getenv(vars[i][1]);
        long n = s ? strtol(s, NULL, 10) : 0;
        if (n < 1) continue;
        if (rank) *rank = r ? (int)strtol(r, NULL, 10) : 0;
        return (int)n;
    }
    if (rank) *rank = 0;
    return 0;
}

#ifdef BP_HAVE_MPI
#include <mpi.h>
#include <pthread.h>
#if defined(OPEN_MPI) && OPEN_MPI
#include <mpi-ext.h>
#endif
#if defined(OMPI_HAVE_MPI_EXT_PCOLLREQ) && OMPI_HAVE_MPI_EXT_PCOLLREQ
#define PERSISTENT 1
#define ALLREDUCE_INIT MPIX_Allreduce_init
#elif defined(MPI_VERSION) && MPI_VERSION >= 4
#define PERSISTENT 1
#define ALLREDUCE_INIT MPI_Allreduce_init
#else
#define PERSISTENT 0
#endif

#define SMALL_MAX 64   /* doubles in one small reduction (bp_reducer.allreduce) */

struct bp_mpi {
    int rank, size, finalize;     /* finalize: MPI was initialised here      */
    MPI_Comm comm;                /* a duplicate of MPI_COMM_WORLD           */
    bp_reducer red;
    struct {                      /* one per layer: its persistent request   */
        MPI_Request req;
        void *buf;
        size_t n;
        bp_dtype dt;
    } slot[BP_MAX_LAYERS];
    MPI_Request active[BP_MAX_LAYERS];   /* sums begun and not yet waited for */
    int nactive;
    double *gathered;             /* size x SMALL_MAX doubles                */
    double t_calls, t_wait, t_small;
    long sums;
    pthread_mutex_t mu;           /* held around every MPI call              */
    pthread_cond_t cv;            /* the progress thread waits for sums here */
    pthread_t th;
    int thread_on, quit;
};

int bp_mpi_available(void) { return 1; }

static bp_status mpi_fail(bp_error *err, int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    return bp_err(err, BP_E_IO, "MPI: %s failed: %s", what, text);
}

/* Let the begun sums advance; forget them once all are complete (mu held). */
static void test_all(bp_mpi *m)
{
    int done = 0;
    if (m->nactive) MPI_Testall(m->nactive, m->active, &done, MPI_STATUSES_IGNORE);
    if (done) m->nactive = 0;
}

static void progress(void *ctx)
{
    bp_mpi *m = ctx;
    if (!m->nactive || m->thread_on) return;   /* the thread does it */
    double t0 = MPI_Wtime();
    pthread_mutex_lock(&m->mu);
    test_all(m);
    pthread_mutex_unlock(&m->mu);
    m->t_calls += MPI_Wtime() - t0;
}

/* The progress thread: while sums are under way, test them every 50 us. */
static void *progress_thread(void *arg)
{
    bp_mpi *m = arg;
    struct timespec pause = {0, 50000};
    pthread_mutex_lock(&m->mu);
    while (!m->quit) {
        if (!m->nactive) {
            pthread_cond_wait(&m->cv, &m->mu);
            continue;
        }
        test_all(m);
        pthread_mutex_unlock(&m->mu);
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static bp_status start(void *ctx, int slot, void *buf, size_t n, bp_dtype dt, bp_error *err)
{
    bp_mpi *m = ctx;
    if (slot < 0 || slot >= BP_MAX_LAYERS || n > (size_t)2147483647 || m->nactive == BP_MAX_LAYERS)
        return bp_err(err, BP_E_ARG, "MPI: slot %d of %zu elements cannot be summed", slot, n);
    double t0 = MPI_Wtime();
    MPI_Datatype type = dt == BP_F64 ? MPI_DOUBLE : MPI_FLOAT;
    int rc;
    pthread_mutex_lock(&m->mu);
#if PERSISTENT
    if (m->slot[slot].req == MPI_REQUEST_NULL || m->slot[slot].buf != buf || m->slot[slot].n != n ||
        m->slot[slot].dt != dt) {
        if (m->slot[slot].req != MPI_REQUEST_NULL) MPI_Request_free(&m->slot[slot].req);
        rc = ALLREDUCE_INIT(MPI_IN_PLACE, buf, (int)n, type, MPI_SUM, m->comm, MPI_INFO_NULL, &m->slot[slot].req);
        if (rc != MPI_SUCCESS) {
            pthread_mutex_unlock(&m->mu);
            return mpi_fail(err, rc, "MPI_Allreduce_init");
        }
        m->slot[slot].buf = buf;
        m->slot[slot].n = n;
        m->slot[slot].dt = dt;
    }
    rc = MPI_Start(&m->slot[slot].req);
    m->active[m->nactive++] = m->slot[slot].req;
#else
    rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, MPI_SUM, m->comm, &m->active[m->nactive++]);
#endif
    if (rc == MPI_SUCCESS) {
        m->sums++;
        if (m->thread_on) pthread_cond_signal(&m->cv);
        else test_all(m);
    }
    pthread_mutex_unlock(&m->mu);
    m->t_calls += MPI_Wtime() - t0;
    return rc == MPI_SUCCESS ? BP_OK : mpi_fail(err, rc, "starting an allreduce");
}

static bp_status wait_all(void *ctx, bp_error *err)
{
    bp_mpi *m = ctx;
    double t0 = MPI_Wtime();
    pthread_mutex_lock(&m->mu);
    int rc = m->nactive ? MPI_Waitall(m->nactive, m->active, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    m->nactive = 0;
    pthread_mutex_unlock(&m->mu);
    m->t_wait += MPI_Wtime() - t0;
    return rc == MPI_SUCCESS ? BP_OK : mpi_fail(err, rc, "waiting for the gradients' allreduce");
}

/* Every process's n values side by side, then reduced here in rank order
 * (SMALL_MAX values at a time). */
static bp_status allreduce(void *ctx, double *v, int n, bp_reduce_op op, bp_error *err)
{
    bp_mpi *m = ctx;
    for (int base = 0; base < n; base += SMALL_MAX) {
        int k = n - base < SMALL_MAX ? n - base : SMALL_MAX;
        double t0 = MPI_Wtime();
        pthread_mutex_lock(&m->mu);
        int rc = MPI_Allgather(v + base, k, MPI_DOUBLE, m->gathered, k, MPI_DOUBLE, m->comm);
        pthread_mutex_unlock(&m->mu);
        m->t_small += MPI_Wtime() - t0;
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Allgather");
        for (int i = 0; i < k; i++) {
            double acc = m->gathered[i];
            for (int r = 1; r < m->size; r++) {
                double x = m->gathered[(size_t)r * k + i];
                acc = op == BP_REDUCE_MAX ? (x > acc ? x : acc) : acc + x;
            }
            v[base + i] = acc;
        }
    }
    return BP_OK;
}

static bp_status agree(void *ctx, bp_status st, bp_error *err)
{
    bp_mpi *m = ctx;
    int mine = st ? m->rank : m->size, low = m->size;
    double t0 = MPI_Wtime();
    pthread_mutex_lock(&m->mu);
    int rc = MPI_Allreduce(&mine, &low, 1, MPI_INT, MPI_MIN, m->comm);
    pthread_mutex_unlock(&m->mu);
    m->t_small += MPI_Wtime() - t0;
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Allreduce");
    if (low == m->size) return BP_OK;
    struct { int status; char msg[BP_ERROR_MAX]; } e;
    memset(&e, 0, sizeof e);
    if (m->rank == low) {
        e.status = (int)st;
        if (err) memcpy(e.msg, err->msg, sizeof e.msg);
    }
    pthread_mutex_lock(&m->mu);
    rc = MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, low, m->comm);
    pthread_mutex_unlock(&m->mu);
    if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "MPI_Bcast");
    e.msg[BP_ERROR_MAX - 1] = '\0';
    if (err) {
        if (low) bp_err(err, (bp_status)e.status, "process %d: %s", low, e.msg);
        else bp_err(err, (bp_status)e.status, "%s", e.msg);
    }
    return (bp_status)e.status;
}

bp_status bp_mpi_init(int *argc, char ***argv, bp_mpi **out, bp_error *err)
{
    *out = NULL;
    int inited = 0, rc, provided = MPI_THREAD_SINGLE;
    MPI_Initialized(&inited);
    if (!inited) {
        if ((rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided)) != MPI_SUCCESS)
            return mpi_fail(err, rc, "MPI_Init_thread");
    } else {
        MPI_Query_thread(&provided);
    }
    bp_mpi *m = bp_calloc(1, sizeof *m, err);
    if (!m) return BP_E_NOMEM;
    m->finalize = !inited;
    MPI_Comm_dup(MPI_COMM_WORLD, &m->comm);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    for (int i = 0; i < BP_MAX_LAYERS; i++) m->slot[i].req = MPI_REQUEST_NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (!(m->gathered = bp_calloc((size_t)m->size * SMALL_MAX, sizeof *m->gathered, err))) {
        bp_mpi_finalize(m);
        return BP_E_NOMEM;
    }
    const char *env = getenv("BP_MPI_PROGRESS_THREAD");
    if (provided >= MPI_THREAD_SERIALIZED && m->size > 1 && !(env && !strcmp(env, "0")))
        m->thread_on = pthread_create(&m->th, NULL, progress_thread, m) == 0;
    m->red = (bp_reducer){m->rank, m->size, m, start, progress, wait_all, allreduce, agree};
    *out = m;
    return BP_OK;
}

int bp_mpi_rank(const bp_mpi *m) { return m ? m->rank : 0; }
int bp_mpi_size(const bp_mpi *m) { return m ? m->size : 1; }
const bp_reducer *bp_mpi_reducer(bp_mpi *m) { return m ? &m->red : NULL; }

void bp_mpi_times(const bp_mpi *m, double *calls, double *waiting, double *small, long *sums)
{
    if (calls) *calls = m ? m->t_calls : 0;
    if (waiting) *waiting = m ? m->t_wait : 0;
    if (small) *small = m ? m->t_small : 0;
    if (sums) *sums = m ? m->sums : 0;
}

void bp_mpi_abort(bp_mpi *m, int code) { MPI_Abort(m ? m->comm : MPI_COMM_WORLD, code); }

void bp_mpi_finalize(bp_mpi *m)
{
    if (!m) return;
    if (m->thread_on) {
        pthread_mutex_lock(&m->mu);
        m->quit = 1;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->th, NULL);
    }
    if (m->nactive) MPI_Waitall(m->nactive, m->active, MPI_STATUSES_IGNORE);
    for (int i = 0; i < BP_MAX_LAYERS; i++)
        if (m->slot[i].req != MPI_REQUEST_NULL) MPI_Request_free(&m->slot[i].req);
    MPI_Comm_free(&m->comm);
    int fin = m->finalize;
    free(m->gathered);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
    if (fin) MPI_Finalize();
}

#else /* built without MPI */

int bp_mpi_available(void) { return 0; }

bp_status bp_mpi_init(int *argc, char ***argv, bp_mpi **out, bp_error *err)
{
    (void)argc;
    (void)argv;
    *out = NULL;
    return bp_err(err, BP_E_ARG, "this backprop was built without MPI: install Open MPI (apt-get install "
                  "libopenmpi-dev openmpi-bin) and build again (make)");
}

int bp_mpi_rank(const bp_mpi *m) { (void)m; return 0; }
int bp_mpi_size(const bp_mpi *m) { (void)m; return 1; }
const bp_reducer *bp_mpi_reducer(bp_mpi *m) { (void)m; return NULL; }

void bp_mpi_times(const bp_mpi *m, double *calls, double *waiting, double *small, long *sums)
{
    (void)m;
    if (calls) *calls = 0;
    if (waiting) *waiting = 0;
    if (small) *small = 0;
    if (sums) *sums = 0;
}

void bp_mpi_abort(bp_mpi *m, int code) { (void)m; (void)code; }
void bp_mpi_finalize(bp_mpi *m) { (void)m; }

#endif
