/* test_dist.c - data-parallel training through the bp_reducer interface,
 * without MPI: N threads stand for N processes, each with its own network and
 * trainer, joined by a reducer written here (sums in rank order at wait()).
 * It checks what the trainer promises whatever the transport: the replicas
 * hold the same bits after the run, the model equals one process's to
 * rounding (f64: 1e-12 relative) with mean and sum losses, empty shares,
 * the tiny and the fused step; full-batch --shard equals one process too;
 * a replica that differs is caught at the first step; an error or a stop on
 * one process is every process's. (tests/cli_mpi.sh runs the same over MPI.) */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"
#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXP = 4 };

/* ---- a reducer over threads ---------------------------------------------- */

typedef struct group {
    int size;
    pthread_barrier_t bar;
    struct {
        void *buf[BP_MAX_LAYERS];
        size_t n[BP_MAX_LAYERS];
        int slot[BP_MAX_LAYERS], started;
        bp_dtype dt;
        double *v;
        int nv;
        bp_status st;
        char msg[BP_ERROR_MAX];
    } r[MAXP];
    int mismatch;   /* processes that called in another order or size */
} group;

typedef struct member {
    group *g;
    int rank;
    bp_reducer red;
} member;

static bp_status t_start(void *ctx, int slot, void *buf, size_t n, bp_dtype dt, bp_error *err)
{
    (void)err;
    member *m = ctx;
    int k = m->g->r[m->rank].started++;
    m->g->r[m->rank].buf[k] = buf;
    m->g->r[m->rank].n[k] = n;
    m->g->r[m->rank].slot[k] = slot;
    m->g->r[m->rank].dt = dt;
    return BP_OK;
}

/* Every begun sum: element by element, processes in rank order. */
static bp_status t_wait(void *ctx, bp_error *err)
{
    (void)err;
    member *m = ctx;
    group *g = m->g;
    pthread_barrier_wait(&g->bar);
    int me = m->rank, k = g->r[me].started;
    for (int p = 0; p < g->size; p++)
        if (g->r[p].started != k) g->mismatch = 1;
    for (int i = 0; i < k && !g->mismatch; i++) {
        size_t n = g->r[me].n[i];
        for (int p = 0; p < g->size; p++)
            if (g->r[p].n[i] != n || g->r[p].slot[i] != g->r[me].slot[i]) g->mismatch = 1;
        if (g->mismatch) break;
        int f64 = g->r[me].dt == BP_F64;
        void *sum = malloc(n * (f64 ? 8 : 4));
        for (size_t j = 0; j < n; j++) {
            if (f64) {
                double a = ((double *)g->r[0].buf[i])[j];
                for (int p = 1; p < g->size; p++) a += ((double *)g->r[p].buf[i])[j];
                ((double *)sum)[j] = a;
            } else {
                float a = ((float *)g->r[0].buf[i])[j];
                for (int p = 1; p < g->size; p++) a += ((float *)g->r[p].buf[i])[j];
                ((float *)sum)[j] = a;
            }
        }
        pthread_barrier_wait(&g->bar);   /* everyone has read every buffer */
        memcpy(g->r[me].buf[i], sum, n * (f64 ? 8 : 4));
        free(sum);
        pthread_barrier_wait(&g->bar);
    }
    g->r[me].started = 0;
    pthread_barrier_wait(&g->bar);
    return BP_OK;
}

static bp_status t_allreduce(void *ctx, double *v, int n, bp_reduce_op op, bp_error *err)
{
    (void)err;
    member *m = ctx;
    group *g = m->g;
    g->r[m->rank].v = v;
    g->r[m->rank].nv = n;
    pthread_barrier_wait(&g->bar);
    double out[256];
    for (int p = 0; p < g->size; p++)
        if (g->r[p].nv != n || n > 256) g->mismatch = 1;
    for (int i = 0; i < n && !g->mismatch; i++) {
        double a = g->r[0].v[i];
        for (int p = 1; p < g->size; p++) a = op == BP_REDUCE_MAX ? (g->r[p].v[i] > a ? g->r[p].v[i] : a) : a + g->r[p].v[i];
        out[i] = a;
    }
    pthread_barrier_wait(&g->bar);
    if (!g->mismatch) memcpy(v, out, (size_t)n * sizeof *v);
    pthread_barrier_wait(&g->bar);
    return BP_OK;
}

static bp_status t_agree(void *ctx, bp_status st, bp_error *err)
{
    member *m = ctx;
    group *g = m->g;
    g->r[m->rank].st = st;
    snprintf(g->r[m->rank].msg, sizeof g->r[m->rank].msg, "%s", st && err ? err->msg : "");
    pthread_barrier_wait(&g->bar);
    int low = -1;
    for (int p = 0; p < g->size && low < 0; p++)
        if (g->r[p].st) low = p;
    bp_status out = low < 0 ? BP_OK : g->r[low].st;
    char msg[BP_ERROR_MAX];
    if (low >= 0) snprintf(msg, sizeof msg, "%s", g->r[low].msg);
    pthread_barrier_wait(&g->bar);
    if (low > 0 && err) bp_err(err, out, "process %d: %s", low, msg);
    else if (low == 0 && err) bp_err(err, out, "%s", msg);
    return out;
}

/* ---- the runs -------------------------------------------------------------- */

enum { N = 97 };   /* rows: no batch size below divides it */
static float X[N * 2], Y[N * 3];
static int L[N];

static void make_data(void)
{
    bp_rng rng;
    bp_rng_seed(&rng, 2024);
    for (int i = 0; i < N; i++) {
        X[2 * i] = (float)(2 * bp_rng_uniform(&rng) - 1);
        X[2 * i + 1] = (float)(2 * bp_rng_uniform(&rng) - 1);
        int c = X[2 * i] + X[2 * i + 1] > 0.3 ? 2 : X[2 * i] > X[2 * i + 1] ? 1 : 0;
        L[i] = c;
        for (int k = 0; k < 3; k++) Y[3 * i + k] = k == c;
    }
}

static bp_dataset rows_of(int start, int n)
{
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.features = 2;
    d.outputs = 3;
    d.nclasses = 3;
    d.x = X + 2 * start;
    d.y = Y + 3 * start;
    d.labels = L + start;
    return d;
}

/* Process r's rows r, r + P, ...: a --shard (owned; free with bp_dataset_free). */
static bp_dataset shard_of(int r, int P)
{
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = (N - r + P - 1) / P;
    d.features = 2;
    d.outputs = 3;
    d.nclasses = 3;
    d.x = malloc((size_t)d.n * 2 * sizeof *d.x);
    d.y = malloc((size_t)d.n * 3 * sizeof *d.y);
    d.labels = malloc((size_t)d.n * sizeof *d.labels);
    for (int i = 0, j = r; j < N; i++, j += P) {
        memcpy(d.x + 2 * i, X + 2 * j, 2 * sizeof *d.x);
        memcpy(d.y + 3 * i, Y + 3 * j, 3 * sizeof *d.y);
        d.labels[i] = L[j];
    }
    return d;
}

typedef struct config {
    int hidden, batch, epochs, val, shard, check, seed_of_1, bad_rank, stop_rank;
    bp_dtype dt;
    bp_reduction red;
    bp_optimizer opt;
} config;

typedef struct run {
    const config *c;
    member mb;            /* mb.g NULL: one process alone */
    bp_net *net;
    bp_status st;
    bp_error err;
    long steps;
    int nhist;
    bp_epoch_stats hist[8];
    volatile int stop;
} run;

static void stop_at_3(void *user, const bp_batch_progress *p)
{
    run *r = user;
    if (p->epoch == 1 && p->batch == 3) r->stop = 1;
}

static void *train_one(void *arg)
{
    run *r = arg;
    const config *c = r->c;
    int rank = r->mb.g ? r->mb.rank : 0, P = r->mb.g ? r->mb.g->size : 1;
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = 2;
    s.nlayers = 2;
    s.layers[0] = (bp_layer_spec){.units = c->hidden, .act = BP_ACT_TANH, .bias = 1};
    s.layers[1] = (bp_layer_spec){.units = 3, .act = BP_ACT_SOFTMAX, .bias = 1};
    s.loss = BP_LOSS_CE;
    s.reduction = c->red;
    bp_net_new(&s, c->dt, &r->net, &r->err);
    bp_net_init(r->net, BP_INIT_XAVIER, rank == 1 && c->seed_of_1 ? (uint64_t)c->seed_of_1 : 5);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = c->epochs;
    o.batch = c->batch;
    o.lr = 0.1;
    o.optimizer = c->opt;
    o.weight_decay = 1e-3;
    o.seed = 3;
    o.shard = c->shard;
    o.check_replicas = c->check;
    o.reducer = r->mb.g ? &r->mb.red : NULL;
    if (c->stop_rank == rank + 1) {
        o.stop = &r->stop;
        o.on_batch = stop_at_3;
        o.user = r;
    }
    int nval = c->val ? 17 : 0;
    bp_dataset train = rows_of(0, N - nval), val = rows_of(N - nval, nval), own = {0};
    if (c->shard) train = own = shard_of(rank, P);
    if (c->bad_rank == rank + 1) train.features = 3;
    bp_trainer *t = NULL;
    r->st = bp_trainer_new(r->net, &o, &t, &r->err);
    if (!r->st) r->st = bp_trainer_run(t, &train, nval ? &val : NULL, &r->err);
    if (t) {
        const bp_epoch_stats *h;
        r->nhist = bp_trainer_history(t, &h);
        if (r->nhist) memcpy(r->hist, h, (size_t)(r->nhist < 8 ? r->nhist : 8) * sizeof *h);
        r->steps = bp_trainer_steps(t);
    }
    bp_trainer_free(t);
    if (c->shard) {
        train.features = 2;
        bp_dataset_free(&own);
    }
    return NULL;
}

/* P threads (P = 1: the run alone, no reducer) into runs[0..P). */
static void run_group(const config *c, int P, run *runs, group *g)
{
    memset(g, 0, sizeof *g);
    g->size = P;
    pthread_barrier_init(&g->bar, NULL, (unsigned)P);
    pthread_t th[MAXP];
    for (int p = 0; p < P; p++) {
        memset(&runs[p], 0, sizeof runs[p]);
        runs[p].c = c;
        if (P > 1) {
            runs[p].mb.g = g;
            runs[p].mb.rank = p;
            runs[p].mb.red = (bp_reducer){p, P, &runs[p].mb, t_start, NULL, t_wait, t_allreduce, t_agree};
        }
        pthread_create(&th[p], NULL, train_one, &runs[p]);
    }
    for (int p = 0; p < P; p++) pthread_join(th[p], NULL);
    pthread_barrier_destroy(&g->bar);
    CHECK(!g->mismatch, "the processes made different reducer calls");
}

static double param(bp_net *n, size_t i)
{
    return bp_net_dtype(n) == BP_F64 ? ((double *)bp_net_params(n))[i] : ((float *)bp_net_params(n))[i];
}

/* The largest |a - b| / max(|a|, 1e-3) over the parameters. */
static double rel_diff(bp_net *a, bp_net *b)
{
    double worst = 0;
    for (size_t i = 0; i < bp_net_nparams(a); i++) {
        double x = param(a, i), y = param(b, i), d = fabs(x - y) / fmax(fabs(x), 1e-3);
        if (d > worst) worst = d;
    }
    return worst;
}

static void free_runs(run *runs, int P)
{
    for (int p = 0; p < P; p++) bp_net_free(runs[p].net);
}

/* The replicas are the same bits; the model and its history equal one process's to 1e-12. */
static void test_equals_one_process(config c, int P, const char *what)
{
    run one[1], many[MAXP];
    group g1, g;
    run_group(&c, 1, one, &g1);
    run_group(&c, P, many, &g);
    CHECK(one[0].st == BP_OK, "%s: one process: %s", what, one[0].err.msg);
    size_t bytes = bp_net_nparams(one[0].net) * (c.dt == BP_F64 ? 8 : 4);
    for (int p = 0; p < P; p++) {
        CHECK(many[p].st == BP_OK, "%s: process %d: %s", what, p, many[p].err.msg);
        CHECK(!memcmp(bp_net_params(many[p].net), bp_net_params(many[0].net), bytes), "%s: replica %d differs", what, p);
        CHECK(many[p].steps == one[0].steps, "%s: %ld steps, one process %ld", what, many[p].steps, one[0].steps);
    }
    double d = rel_diff(one[0].net, many[0].net);
    CHECK(d < 1e-12, "%s: %d processes differ from one by %g (relative)", what, P, d);
    CHECK(d > 0 || c.batch <= P, "%s: the shares were summed, so some rounding differs (or the test is vacuous)", what);
    CHECK(many[0].nhist == one[0].nhist, "%s: history", what);
    for (int e = 0; e < one[0].nhist && e < 8; e++) {
        const bp_epoch_stats *a = &one[0].hist[e], *b = &many[0].hist[e];
        CHECK(fabs(a->train_loss - b->train_loss) <= 1e-12 * fabs(a->train_loss) && a->train_acc == b->train_acc,
              "%s: epoch %d: loss %.17g vs %.17g, accuracy %g vs %g", what, e + 1, a->train_loss, b->train_loss,
              a->train_acc, b->train_acc);
        if (c.val)
            CHECK(fabs(a->val_loss - b->val_loss) <= 1e-12 * fabs(a->val_loss) && a->val_acc == b->val_acc,
                  "%s: epoch %d: validation loss %.17g vs %.17g, accuracy %g vs %g", what, e + 1, a->val_loss,
                  b->val_loss, a->val_acc, b->val_acc);
    }
    free_runs(one, 1);
    free_runs(many, P);
}

/* f32: the replicas agree and two runs give the same bits. */
static void test_repeatable_f32(void)
{
    config c = {40, 16, 3, 1, 0, 1, 0, 0, 0, BP_F32, BP_MEAN, BP_OPT_ADAM};
    run a[3], b[3];
    group g;
    run_group(&c, 3, a, &g);
    run_group(&c, 3, b, &g);
    size_t bytes = bp_net_nparams(a[0].net) * 4;
    for (int p = 0; p < 3; p++) {
        CHECK(a[p].st == BP_OK && b[p].st == BP_OK, "f32: %s %s", a[p].err.msg, b[p].err.msg);
        CHECK(!memcmp(bp_net_params(a[p].net), bp_net_params(b[0].net), bytes), "f32: run 2 differs at process %d", p);
    }
    free_runs(a, 3);
    free_runs(b, 3);
}

/* --shard with the full batch: every step's summed gradient is the whole data's, so one process agrees. */
static void test_shard_full_batch(void)
{
    config c = {24, 1000, 4, 0, 0, 1, 0, 0, 0, BP_F64, BP_MEAN, BP_OPT_MOMENTUM}, cs = c;
    cs.shard = 1;
    run one[1], many[3];
    group g;
    run_group(&c, 1, one, &g);
    run_group(&cs, 3, many, &g);
    for (int p = 0; p < 3; p++) CHECK(many[p].st == BP_OK, "shard: process %d: %s", p, many[p].err.msg);
    double d = rel_diff(one[0].net, many[0].net);
    CHECK(d < 1e-12 && many[0].steps == 4, "shard, full batch: %g from one process, %ld steps", d, many[0].steps);
    CHECK(fabs(many[0].hist[3].train_loss - one[0].hist[3].train_loss) < 1e-12, "shard: the loss over all shards");
    free_runs(one, 1);
    free_runs(many, 3);
    /* batches of 10 of 97 rows: 10 steps an epoch, each a share of every process */
    cs.batch = 10;
    cs.epochs = 2;
    run_group(&cs, 2, many, &g);
    CHECK(many[0].st == BP_OK && many[1].st == BP_OK && many[0].steps == 20, "shard, batch 10: %s, %ld steps",
          many[0].err.msg, many[0].steps);
    CHECK(!memcmp(bp_net_params(many[0].net), bp_net_params(many[1].net), bp_net_nparams(many[0].net) * 8),
          "shard: the replicas differ");
    free_runs(many, 2);
}

static void test_failures(void)
{
    run r[3];
    group g;
    /* a replica that starts elsewhere is caught after the first step, on every process */
    config c = {8, 16, 2, 0, 0, 1, 99, 0, 0, BP_F32, BP_MEAN, BP_OPT_SGD};
    run_group(&c, 3, r, &g);
    for (int p = 0; p < 3; p++)
        CHECK(r[p].st == BP_E_VALUE && strstr(r[p].err.msg, "parameters differ after step 1"), "replicas: %d: %s", p,
              r[p].err.msg);
    free_runs(r, 3);
    /* the same check is silent on replicas that agree (test_repeatable_f32 runs with it on) */
    /* an error on one process is every process's, with its message */
    config e = {8, 16, 2, 0, 0, 0, 0, 3, 0, BP_F32, BP_MEAN, BP_OPT_SGD};
    run_group(&e, 3, r, &g);
    for (int p = 0; p < 3; p++)
        CHECK(r[p].st == BP_E_SHAPE && strstr(r[p].err.msg, "process 2: the network has 2 inputs, the data has 3"),
              "agreed error: %d: %s", p, r[p].err.msg);
    free_runs(r, 3);
    /* a stop (Ctrl-C) seen by process 1 after step 3 stops all of them after the next step, where they agree */
    config s = {8, 16, 2, 0, 0, 0, 0, 0, 2, BP_F32, BP_MEAN, BP_OPT_SGD};
    run_group(&s, 3, r, &g);
    for (int p = 0; p < 3; p++)
        CHECK(r[p].st == BP_E_INTERRUPTED && r[p].steps == 4 && strstr(r[p].err.msg, "epoch 1, batch 4 of 7"),
              "stop: %d: %s after %ld steps", p, r[p].err.msg, r[p].steps);
    free_runs(r, 3);
}

int main(void)
{
    /* BP_TEST_MAX_THREADS=1: no thread starts under the qemu-user of scripts/cross-test-arm64.sh
     * (pthread_create never returns there), and every check here runs its processes as threads */
    if (check_max_threads(2) < 2) {
        printf("skip: the processes of these tests are threads, and BP_TEST_MAX_THREADS is 1\n");
        return 0;
    }
    make_data();
    /* hidden 8: the tiny network's per-sample step; 40: the fused step; batch 2 on 3 processes: an empty share */
    test_equals_one_process((config){8, 16, 3, 1, 0, 0, 0, 0, 0, BP_F64, BP_MEAN, BP_OPT_MOMENTUM}, 3, "tiny, mean");
    test_equals_one_process((config){40, 13, 3, 1, 0, 1, 0, 0, 0, BP_F64, BP_MEAN, BP_OPT_ADAM}, 2, "fused, mean");
    test_equals_one_process((config){40, 13, 3, 1, 0, 0, 0, 0, 0, BP_F64, BP_SUM, BP_OPT_SGD}, 3, "fused, sum");
    test_equals_one_process((config){40, 2, 2, 0, 0, 0, 0, 0, 0, BP_F64, BP_MEAN, BP_OPT_NESTEROV}, 3, "empty shares");
    test_equals_one_process((config){40, 1, 1, 0, 0, 0, 0, 0, 0, BP_F64, BP_MEAN, BP_OPT_SGD}, 2, "batch 1");
    test_repeatable_f32();
    test_shard_full_batch();
    test_failures();
    return check_done();
}
