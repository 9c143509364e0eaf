/*
 * bp_mlp.c - backprop's side of the MLP benchmark.
 *
 * Trains an MLP (default 784-256-128-10: ReLU hidden layers, softmax;
 * cross-entropy, mean) on Fashion-MNIST with SGD + momentum through the
 * public trainer API, then evaluates on the test split and prints one JSON
 * line.
 *
 *   bp_mlp [--epochs E] [--batch B] [--threads T] [--lr LR] [--seed S]
 *          [--arch I-H1-...-K] [--dtype f32|f64] [--synthetic N]
 *
 * --arch with I other than 784, or --synthetic N: N samples (default 10000)
 * of synthetic data instead, x uniform in [0, 1) and labels uniform over K
 * classes from a fixed seed (the same recipe as torch_mlp.py; the values
 * differ, which does not matter to the speed of dense products), with a
 * test split of N/10 samples.
 *
 * Numbers:
 *  - epoch_seconds: bp_epoch_stats.seconds (training passes only);
 *    samples_per_s = 60000 / seconds: the median over the epochs after the
 *    first (the first includes warm-up), and the best epoch.
 *  - samples_per_s_window: the best rate over any WINDOW consecutive
 *    batches after epoch 1 (per-batch clock readings in on_batch). These
 *    shared machines slow down by 10-20% for seconds at a time; the window
 *    rate is the speed of the code when nothing else interferes, and moves
 *    far less from run to run than the epoch figures.
 *  - allocs_per_step: malloc + calloc + realloc calls made by libbackprop
 *    (this binary is linked with -Wl,--wrap=malloc,... against the static
 *    libbackprop.a, so every call from the library's objects goes through
 *    the __wrap_ functions of alloc_count.h) between the end of epoch 2's first batch
 *    and the end of its last batch, divided by the steps in between.
 *    allocs_epoch2 counts the whole of epoch 2 (on_epoch to on_epoch), which
 *    includes the trainer's once-per-epoch history append.  Calls made
 *    inside OpenBLAS (a shared library) are not seen.
 *  - rss: ru_maxrss (peak of the whole process), the peak during loading,
 *    and the peak during training alone (VmHWM reset through
 *    /proc/self/clear_refs after loading, where the kernel allows it),
 *    with the sizes needed to check the bound
 *    dataset + 3 x parameters + one batch of activations + a constant.
 */
#define _GNU_SOURCE
#include <backprop.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc_count.h" /* n_alloc, n_free while counting */
#include "mlp.h"         /* the network and the recipe */

/* ---- memory --------------------------------------------------------- */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') { v = atol(line + k + 1); break; }
    fclose(f);
    return v;
}

static int reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- callbacks ------------------------------------------------------ */
enum { WINDOW = 20 };
typedef struct mark {
    long a0, f0, step_allocs, step_frees, steps;   /* batch window of epoch 2 */
    double *tb;                                     /* clock at each batch end after epoch 1 */
    int ntb, captb;
    long e0, ef0, epoch_allocs, epoch_frees;        /* whole epoch 2           */
    int first_batch_seen;
} mark;

static void on_batch(void *user, const bp_batch_progress *p)
{
    mark *m = user;
    if (p->epoch >= 2 && m->ntb < m->captb) m->tb[m->ntb++] = mono();
    if (p->epoch != 2) return;
    if (p->batch == 1) {
        m->a0 = n_alloc; m->f0 = n_free;
        m->first_batch_seen = 1;
    } else if (p->batch == p->batches && m->first_batch_seen) {
        m->step_allocs = n_alloc - m->a0;
        m->step_frees = n_free - m->f0;
        m->steps = p->batches - 1;
    }
}

static void on_epoch(void *user, const bp_epoch_stats *s)
{
    mark *m = user;
    if (s->epoch == 1) { m->e0 = n_alloc; m->ef0 = n_free; }
    if (s->epoch == 2) { m->epoch_allocs = n_alloc - m->e0; m->epoch_frees = n_free - m->ef0; }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n synthetic samples of `features` inputs and k classes (see the top). */
static int synthetic(int n, int features, int k, unsigned long long seed, bp_dataset *d)
{
    memset(d, 0, sizeof *d);
    d->n = n; d->features = features; d->outputs = k; d->nclasses = k;
    d->x = malloc((size_t)n * features * sizeof *d->x);
    d->y = calloc((size_t)n * k, sizeof *d->y);
    d->labels = malloc((size_t)n * sizeof *d->labels);
    if (!d->x || !d->y || !d->labels) return -1;
    unsigned long long s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < (size_t)n * features; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;   /* xorshift64 */
        d->x[i] = (float)(s >> 40) * (1.0f / 16777216.0f);
    }
    for (int i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        d->labels[i] = (int)(s % (unsigned long long)k);
        d->y[(size_t)i * k + d->labels[i]] = 1;
    }
    return 0;
}

static void die(const char *what, const bp_error *e)
{
    fprintf(stderr, "bp_mlp: %s: %s\n", what, e->msg);
    exit(1);
}

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);

int main(int argc, char **argv)
{
    int epochs = 3, batch = 128, threads = 1, nsynth = 0, f64 = 0;
    const char *arch = "784-256-128-10";
    double lr = 0.01;
    unsigned long long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "bp_mlp: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--epochs")) epochs = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--lr")) lr = atof(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--synthetic")) nsynth = atoi(v);
        else if (!strcmp(a, "--dtype") && (!strcmp(v, "f32") || !strcmp(v, "f64"))) f64 = !strcmp(v, "f64");
        else { fprintf(stderr, "bp_mlp: unknown option %s\n", a); return 2; }
        i++;
    }
    long rss_start = status_kb("VmRSS");
    bp_set_threads(threads);
    bp_error err;
    int sz[BP_MAX_LAYERS + 1];
    int nsz = parse_arch(arch, sz, BP_MAX_LAYERS + 1);
    if (nsz < 0) { fprintf(stderr, "bp_mlp: bad --arch %s\n", arch); return 2; }
    if (sz[0] != 784 && !nsynth) nsynth = 10000;
    bp_dataset train = {0}, test = {0};
    if (nsynth > 0) {
        if (synthetic(nsynth, sz[0], sz[nsz - 1], seed, &train) ||
            synthetic(nsynth / 10 > 0 ? nsynth / 10 : 1, sz[0], sz[nsz - 1], seed + 1, &test)) {
            fprintf(stderr, "bp_mlp: out of memory for the synthetic data\n");
            return 1;
        }
    } else {
        if (bp_dataset_named("fashion-mnist", 0, &train, &err)) die("train split", &err);
        if (bp_dataset_named("fashion-mnist", 1, &test, &err)) die("test split", &err);
        if (sz[nsz - 1] != train.outputs) { fprintf(stderr, "bp_mlp: Fashion-MNIST has 10 classes\n"); return 2; }
    }

    bp_net_spec spec = mlp_spec(sz, nsz);
    bp_net *net = NULL;
    if (bp_net_new(&spec, f64 ? BP_F64 : BP_F32, &net, &err)) die("net", &err);
    bp_net_init(net, BP_INIT_HE, seed);

    bp_train_options opt;
    mlp_options(&opt, epochs, batch, lr, seed);
    mark mk;
    memset(&mk, 0, sizeof mk);
    opt.on_batch = on_batch;
    opt.on_epoch = on_epoch;
    opt.user = &mk;
    int nb = (train.n + batch - 1) / batch; /* batches per epoch; the last is partial unless batch divides n */
    mk.captb = (epochs > 1 ? epochs - 1 : 0) * nb;
    mk.tb = malloc((size_t)(mk.captb > 0 ? mk.captb : 1) * sizeof *mk.tb);

    long rss_loaded = status_kb("VmRSS");
    long rss_load_peak = maxrss_kb();
    int hwm_reset = reset_hwm();

    bp_trainer *tr = NULL;
    if (bp_trainer_new(net, &opt, &tr, &err)) die("trainer", &err);
    double t_start = mono();
    counting = 1;
    bp_status st = bp_trainer_run(tr, &train, NULL, &err);
    counting = 0;
    double t_end = mono();
    if (st) die("training", &err);
    long rss_train_peak = hwm_reset ? status_kb("VmHWM") : -1;

    const bp_epoch_stats *h;
    int ne = bp_trainer_history(tr, &h);
    double secs[1024], sorted[1024];
    int nk = 0;
    for (int e = 0; e < ne && e < 1024; e++) secs[e] = h[e].seconds;
    for (int e = (ne > 1 ? 1 : 0); e < ne && e < 1024; e++) sorted[nk++] = h[e].seconds;
    qsort(sorted, (size_t)nk, sizeof *sorted, cmp_dbl);
    double med = nk % 2 ? sorted[nk / 2] : 0.5 * (sorted[nk / 2 - 1] + sorted[nk / 2]);
    double best = sorted[0];

    bp_metrics mt;
    memset(&mt, 0, sizeof mt);
    if (bp_evaluate(net, &test, 1000, &mt, &err)) die("evaluate", &err);

    size_t np = bp_net_nparams(net), es = f64 ? sizeof(double) : sizeof(float);
    /* matrix-product FLOPs per sample (bench/README.md): forward and dW of
     * every layer, dX of every layer but the first */
    double flops = 0, hidden = 0;
    for (int l = 0; l + 1 < nsz; l++) {
        flops += 4.0 * sz[l] * sz[l + 1] + (l > 0 ? 2.0 * sz[l] * sz[l + 1] : 0);
        hidden += sz[l + 1];
    }
    double ds_bytes = (double)train.n * ((double)train.features + train.outputs) * sizeof(float) +
                      (double)train.n * sizeof(int) +
                      (double)test.n * ((double)test.features + test.outputs) * sizeof(float) +
                      (double)test.n * sizeof(int);
    /* one batch of activations: input + z and a of every layer */
    double act_bytes = (double)batch * (train.features + 2.0 * hidden) * (double)es;

    printf("{\"tool\":\"backprop\",\"arch\":\"%s\",\"dtype\":\"%s\",\"data\":\"%s\",\"kernel\":\"%s\","
           "\"flops_per_sample\":%.0f,\"batch\":%d,\"threads\":%d,\"epochs\":%d,\"lr\":%g,\"seed\":%llu,"
           "\"n_train\":%d,\"n_test\":%d,",
           arch, f64 ? "f64" : "f32", nsynth ? "synthetic" : "fashion-mnist", f64 ? "blas" : bp_matmul_kernel(), flops, batch,
           threads, ne, lr, seed, train.n, test.n);
    double wbest = 0; /* the fastest WINDOW consecutive batches after epoch 1 (full batches only) */
    for (int i = 0; i + WINDOW < mk.ntb; i++) {
        double r = (double)WINDOW * batch / (mk.tb[i + WINDOW] - mk.tb[i]);
        int full = 1;
        for (int j = i + 1; j <= i + WINDOW; j++) full &= (j % nb) != nb - 1 || train.n % batch == 0;
        if (full && r > wbest) wbest = r;
    }
    printf("\"samples_per_s\":%.1f,\"samples_per_s_best\":%.1f,\"samples_per_s_window\":%.1f,\"epoch_seconds\":[",
           train.n / med, train.n / best, wbest);
    for (int e = 0; e < ne; e++) printf("%s%.4f", e ? "," : "", secs[e]);
    printf("],\"train_loss\":%.5f,\"test_acc\":%.4f,\"test_loss\":%.5f,", h[ne - 1].train_loss, mt.accuracy, mt.loss);
    if (mk.steps > 0)
        printf("\"allocs_per_step\":%.3f,\"frees_per_step\":%.3f,\"alloc_window_steps\":%ld,",
               (double)mk.step_allocs / mk.steps, (double)mk.step_frees / mk.steps, mk.steps);
    else
        printf("\"allocs_per_step\":null,\"frees_per_step\":null,\"alloc_window_steps\":0,");
    printf("\"allocs_epoch2\":%ld,\"frees_epoch2\":%ld,", ne >= 2 ? mk.epoch_allocs : -1L,
           ne >= 2 ? mk.epoch_frees : -1L);
    printf("\"rss_peak_kb\":%ld,\"rss_start_kb\":%ld,\"rss_loaded_kb\":%ld,\"rss_load_peak_kb\":%ld,"
           "\"rss_train_peak_kb\":%ld,",
           maxrss_kb(), rss_start, rss_loaded, rss_load_peak, rss_train_peak);
    /* CLOCK_MONOTONIC bounds of bp_trainer_run, for `perf report --time` (bench/profile.sh) */
    printf("\"t_train_start\":%.6f,\"t_train_end\":%.6f,", t_start, t_end);
    printf("\"dataset_bytes\":%.0f,\"nparams\":%zu,\"param_bytes\":%zu,\"batch_act_bytes\":%.0f,",
           ds_bytes, np, np * es, act_bytes);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("\"openblas_coretype_env\":\"%s\",\"openblas_corename\":\"%s\",\"openblas_config\":\"%s\"}\n",
           ct ? ct : "(unset)", openblas_get_corename(), openblas_get_config());

    bp_metrics_free(&mt);
    bp_trainer_free(tr);
    free(mk.tb);
    bp_net_free(net);
    bp_dataset_free(&train);
    bp_dataset_free(&test);
    return 0;
}
