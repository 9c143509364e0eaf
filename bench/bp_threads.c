/*
 * bp_threads.c - the speed-up of two threads over one, measured inside one
 * training run.
 *
 * These shared machines slow down by 10-30% for seconds at a time, so two
 * runs one after the other (bp_mlp --threads 1, then --threads 2) can give
 * any ratio between about 1.2x and 2x. This program trains one network
 * (784-256-128-10 on Fashion-MNIST by default: ReLU, softmax, cross-entropy,
 * SGD momentum 0.9, as bp_mlp) and switches the thread count
 * (bp_set_threads) every BLOCK batches, cycling through the counts given,
 * so that every count sees the same slow and fast periods. The first two
 * batches after a switch are not counted (the pool's worker wakes up, the
 * caches change hands), nor is epoch 1.
 *
 *   bp_threads [--batch B] [--epochs E] [--arch 784-H1-...-10] [--threads 1,2]
 *
 * Prints one JSON line: per thread count the batches timed, the median and
 * the 25th percentile of the batch time, samples per second at the 25th
 * percentile, and its ratio to the first count's.
 */
#define _GNU_SOURCE
#include <backprop.h>

#include "mlp.h" /* the network and the recipe of bp_mlp */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BLOCK = 10, SKIP = 2, MAXC = 8 };

typedef struct {
    int nc, counts[MAXC];   /* the thread counts, cycled */
    double *t[MAXC];        /* batch times of each        */
    int n[MAXC], cap;
    int cur, in_block;
    double last;
} cycle;

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void on_batch(void *user, const bp_batch_progress *p)
{
    cycle *c = user;
    double now = mono();
    if (p->epoch >= 2 && c->in_block >= SKIP && c->n[c->cur] < c->cap) c->t[c->cur][c->n[c->cur]++] = now - c->last;
    if (++c->in_block == BLOCK) {
        c->cur = (c->cur + 1) % c->nc;
        c->in_block = 0;
        bp_set_threads(c->counts[c->cur]);
    }
    c->last = mono();
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void)
{
    fprintf(stderr, "usage: bp_threads [--batch B] [--epochs E] [--arch 784-H1-...-10] [--threads 1,2]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int batch = 512, epochs = 4;
    const char *arch = "784-256-128-10", *threads = "1,2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) usage();
        if (i + 1 == argc) usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--epochs")) epochs = atoi(v);
        else if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--threads")) threads = v;
        else usage();
    }
    cycle c;
    memset(&c, 0, sizeof c);
    for (const char *s = threads; *s && c.nc < MAXC;) {
        char *end;
        long n = strtol(s, &end, 10);
        if (end == s || n < 1 || n > 64) usage();
        c.counts[c.nc++] = (int)n;
        s = *end == ',' ? end + 1 : end;
    }
    int sz[BP_MAX_LAYERS + 1];
    int nsz = parse_arch(arch, sz, BP_MAX_LAYERS + 1);
    if (batch < 1 || epochs < 2 || c.nc < 1 || nsz < 2 || sz[0] != 784 || sz[nsz - 1] != 10) usage();

    bp_error err;
    bp_dataset train = {0};
    if (bp_dataset_named("fashion-mnist", 0, &train, &err)) { fprintf(stderr, "bp_threads: %s\n", err.msg); return 1; }
    bp_net_spec spec = mlp_spec(sz, nsz);
    bp_net *net = NULL;
    if (bp_net_new(&spec, BP_F32, &net, &err)) { fprintf(stderr, "bp_threads: %s\n", err.msg); return 1; }
    bp_net_init(net, BP_INIT_HE, 1);
    bp_train_options o;
    mlp_options(&o, epochs, batch, 0.01, 1);
    o.on_batch = on_batch;
    o.user = &c;
    c.cap = (train.n / batch + 1) * epochs;
    for (int i = 0; i < c.nc; i++)
        if (!(c.t[i] = malloc((size_t)c.cap * sizeof(double)))) { fprintf(stderr, "bp_threads: out of memory\n"); return 1; }
    bp_set_threads(c.counts[0]);
    bp_trainer *tr = NULL;
    if (bp_trainer_new(net, &o, &tr, &err)) { fprintf(stderr, "bp_threads: %s\n", err.msg); return 1; }
    c.last = mono();
    if (bp_trainer_run(tr, &train, NULL, &err)) { fprintf(stderr, "bp_threads: %s\n", err.msg); return 1; }

    printf("{\"tool\":\"bp_threads\",\"arch\":\"%s\",\"batch\":%d,\"epochs\":%d,\"block\":%d,\"kernel\":\"%s\",\"runs\":[",
           arch, batch, epochs, BLOCK, bp_matmul_kernel());
    double base = 0;
    for (int i = 0; i < c.nc; i++) {
        int n = c.n[i];
        if (n == 0) continue;
        qsort(c.t[i], (size_t)n, sizeof(double), cmp_dbl);
        double med = c.t[i][n / 2], q25 = c.t[i][n / 4];
        if (i == 0) base = q25;
        printf("%s{\"threads\":%d,\"batches\":%d,\"median_us\":%.1f,\"q25_us\":%.1f,\"samples_per_s\":%.0f,"
               "\"vs_first\":%.3f}", i ? "," : "", c.counts[i], n, med * 1e6, q25 * 1e6, batch / q25, base / q25);
        free(c.t[i]);
    }
    printf("]}\n");
    bp_trainer_free(tr);
    bp_net_free(net);
    bp_dataset_free(&train);
    return 0;
}
