/* test_train.c - training: XOR, regression, determinism, resume equals an
 * uninterrupted run, divergence, a save killed midway, and the trainer's
 * steps against the textbook loop written out here. */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"
#include "nn/fused.h"
#include "core/safetensors.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bp_net *make_net(int inputs, const int *units, const bp_act *acts, int n, bp_loss loss, bp_dtype dt,
                        bp_init init, uint64_t seed)
{
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = inputs;
    s.nlayers = n;
    for (int i = 0; i < n; i++) s.layers[i] = (bp_layer_spec){units[i], acts[i], 1, 0};
    s.loss = loss;
    s.reduction = BP_MEAN;
    bp_net *net;
    bp_error err;
    if (bp_net_new(&s, dt, &net, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    bp_net_init(net, init, seed);
    return net;
}

/* A dataset over caller-owned arrays (not freed). */
static bp_dataset wrap(float *x, float *y, int n, int f, int k)
{
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.features = f;
    d.outputs = k;
    d.x = x;
    d.y = y;
    return d;
}

static void test_xor(void)
{
    float x[] = {0, 0, 0, 1, 1, 0, 1, 1}, y[] = {0, 1, 1, 0};
    int labels[] = {0, 1, 1, 0};
    bp_dataset d = wrap(x, y, 4, 2, 1);
    d.labels = labels;   /* two classes, one output unit: the target is the label */
    d.nclasses = 2;
    int units[] = {2, 1};
    bp_act acts[] = {BP_ACT_SIGMOID, BP_ACT_SIGMOID};
    bp_net *net = make_net(2, units, acts, 2, BP_LOSS_BCE, BP_F64, BP_INIT_XAVIER, 3);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 3000;
    o.batch = 4;
    o.lr = 0.1;
    o.optimizer = BP_OPT_ADAM;
    bp_trainer *t;
    bp_error err;
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_OK, "%s", err.msg);
    bp_mat xm = {4, 2, BP_F32, x};
    CHECK(bp_net_forward(net, &xm, &err) == BP_OK, "%s", err.msg);
    bp_mat a = bp_net_a(net, 1);
    for (int i = 0; i < 4; i++)
        CHECK(fabs(bp_mat_get(&a, i, 0) - y[i]) < 0.1, "xor(%g,%g) = %g, expected %g", x[2 * i], x[2 * i + 1],
              bp_mat_get(&a, i, 0), y[i]);
    const bp_epoch_stats *h;
    int n = bp_trainer_history(t, &h);
    CHECK(n == 3000 && h[n - 1].train_acc == 1.0, "xor: %d epochs, final accuracy %g", n, n ? h[n - 1].train_acc : 0);
    bp_trainer_free(t);
    bp_net_free(net);
}

/* y = 2 x1 - 3 x2 + 1 learned by one linear unit; and CS577 Assignment 2's stop rule. */
static void test_regression(void)
{
    enum { N = 64 };
    float x[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 8) / 4 - 1;
        x[2 * i + 1] = (float)(i / 8) / 4 - 1;
        y[i] = 2 * x[2 * i] - 3 * x[2 * i + 1] + 1;
    }
    bp_dataset d = wrap(x, y, N, 2, 1);
    int units[] = {1};
    bp_act acts[] = {BP_ACT_LINEAR};
    bp_net *net = make_net(2, units, acts, 1, BP_LOSS_SQUARED, BP_F64, BP_INIT_SMALL_UNIFORM, 1);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 5000;
    o.batch = N;          /* full batch gradient descent */
    o.lr = 0.1;
    o.tol = 1e-12;        /* stop when the loss changes by less than this */
    bp_trainer *t;
    bp_error err;
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_OK, "%s", err.msg);
    bp_mat W = bp_net_weight(net, 0), b = bp_net_bias(net, 0);
    CHECK(fabs(bp_mat_get(&W, 0, 0) - 2) < 1e-4 && fabs(bp_mat_get(&W, 0, 1) + 3) < 1e-4 &&
              fabs(bp_mat_get(&b, 0, 0) - 1) < 1e-4,
          "regression: W = [%g, %g], b = %g", bp_mat_get(&W, 0, 0), bp_mat_get(&W, 0, 1), bp_mat_get(&b, 0, 0));
    const bp_epoch_stats *h;
    int n = bp_trainer_history(t, &h);
    CHECK(n < 5000 && strncmp(bp_trainer_stop_reason(t), "tol", 3) == 0, "stop rule: %d epochs, reason %s", n,
          bp_trainer_stop_reason(t));
    CHECK(isnan(h[0].train_acc), "regression has no accuracy");
    bp_trainer_free(t);
    bp_net_free(net);
}

/* A 3-class problem on random points: the class is the sector of the angle. */
static void make_blobs(float *x, float *y, int *labels, int n)
{
    unsigned s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        double u = (s >> 8) / 16777216.0;
        s = s * 1103515245u + 12345u;
        double v = (s >> 8) / 16777216.0;
        x[2 * i] = (float)(2 * u - 1);
        x[2 * i + 1] = (float)(2 * v - 1);
        double ang = atan2(x[2 * i + 1], x[2 * i]) + 3.14159265358979;
        int c = (int)(ang / (2 * 3.14159265358979 / 3)) % 3;
        labels[i] = c;
        for (int k = 0; k < 3; k++) y[3 * i + k] = k == c;
    }
}

typedef struct { volatile int *stop; int at_epoch, at_batch; } stopper;
static void stop_at(void *user, const bp_batch_progress *p)
{
    stopper *s = user;
    if (p->epoch == s->at_epoch && p->batch == s->at_batch) *s->stop = 1;
}

static void train_blobs(bp_dtype dt, bp_optimizer opt, void *params_out, int interrupt)
{
    enum { N = 200 };
    static float x[N * 2], y[N * 3];
    static int labels[N];
    make_blobs(x, y, labels, N);
    bp_dataset d = wrap(x, y, N, 2, 3);
    d.labels = labels;
    d.nclasses = 3;
    int units[] = {8, 3};
    bp_act acts[] = {BP_ACT_TANH, BP_ACT_SOFTMAX};
    bp_net *net = make_net(2, units, acts, 2, BP_LOSS_CE, dt, BP_INIT_XAVIER, 7);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 6;
    o.batch = 16;        /* 13 batches, the last one partial */
    o.lr = 0.05;
    o.optimizer = opt;
    o.weight_decay = 1e-4;
    o.schedule = BP_SCHED_COSINE;
    volatile int stop = 0;
    stopper st = {&stop, 3, 5};
    if (interrupt) {
        o.stop = &stop;
        o.on_batch = stop_at;
        o.user = &st;
    }
    bp_trainer *t;
    bp_error err;
    const char *ck = "/tmp/bp_test_ckpt.safetensors";
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    bp_status s = bp_trainer_run(t, &d, NULL, &err);
    if (interrupt) {
        CHECK(s == BP_E_INTERRUPTED, "expected an interruption, got %s", bp_status_name(s));
        CHECK(bp_trainer_save(t, NULL, ck, &err) == BP_OK, "%s", err.msg);
        bp_trainer_free(t);
        bp_net_free(net);
        /* a fresh process would start from a new net and the checkpoint */
        net = make_net(2, units, acts, 2, BP_LOSS_CE, dt, BP_INIT_XAVIER, 99);
        o.stop = NULL;
        o.on_batch = NULL;
        CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_trainer_load(t, ck, &err) == BP_OK, "%s", err.msg);
        s = bp_trainer_run(t, &d, NULL, &err);
        remove(ck);
    }
    CHECK(s == BP_OK, "train: %s", err.msg);
    const bp_epoch_stats *h;
    int n = bp_trainer_history(t, &h);
    CHECK(n == 6, "history has %d epochs", n);
    if (n == 6) CHECK(h[5].train_acc > 0.8, "blobs accuracy %g", h[5].train_acc);
    memcpy(params_out, bp_net_params(net), bp_net_nparams(net) * (dt == BP_F64 ? 8 : 4));
    bp_trainer_free(t);
    bp_net_free(net);
}

static void test_determinism_and_resume(void)
{
    bp_optimizer opts[] = {BP_OPT_SGD, BP_OPT_MOMENTUM, BP_OPT_NESTEROV, BP_OPT_ADAM};
    for (int dt = 0; dt < 2; dt++)
        for (int k = 0; k < 4; k++) {
            double a[64], b[64], c[64];   /* 2*8+8 + 8*3+3 = 51 params */
            train_blobs((bp_dtype)dt, opts[k], a, 0);
            train_blobs((bp_dtype)dt, opts[k], b, 0);
            train_blobs((bp_dtype)dt, opts[k], c, 1);
            size_t bytes = 51 * (dt ? 8 : 4);
            CHECK(memcmp(a, b, bytes) == 0, "%s %s: two runs differ", bp_dtype_name((bp_dtype)dt), bp_optimizer_name(opts[k]));
            CHECK(memcmp(a, c, bytes) == 0, "%s %s: resumed run differs from the uninterrupted one",
                  bp_dtype_name((bp_dtype)dt), bp_optimizer_name(opts[k]));
        }
}

/* Training on one thread and on two gives the same parameters, bit for bit:
 * a net large enough that the optimizer's update and the gradients' bound
 * are cut between the threads (nn/optim.c: 32768 values each at least), and
 * a batch large enough that the elementwise passes are too (fused.c: 16384),
 * for every optimizer. f64 takes OpenBLAS's products, whose bits on two
 * threads are not always those on one: its parameters are compared to 1e-10
 * (a range of the flat loops left out or done twice would show far above). */
static void test_threads_same_bits(void)
{
    enum { N = 300, F = 160, K = 10 };
    float *x = malloc(sizeof(float) * N * F), *y = calloc((size_t)N * K, sizeof(float));
    int *labels = malloc(sizeof(int) * N);
    unsigned r = 4242;
    for (int i = 0; i < N * F; i++) { r = r * 1103515245u + 12345u; x[i] = (float)((r >> 8) & 0xffff) / 65536.0f - 0.5f; }
    for (int i = 0; i < N; i++) { labels[i] = (i * 7) % K; y[i * K + labels[i]] = 1; }
    bp_dataset d = wrap(x, y, N, F, K);
    d.labels = labels;
    d.nclasses = K;
    int units[] = {320, 200, K};   /* 160*320+320 + 320*200+200 + 200*10+10 = 117,930 parameters */
    bp_act acts[][3] = {{BP_ACT_RELU, BP_ACT_TANH, BP_ACT_SOFTMAX}, {BP_ACT_SIGMOID, BP_ACT_RELU, BP_ACT_SOFTMAX}};
    bp_optimizer opts[] = {BP_OPT_SGD, BP_OPT_MOMENTUM, BP_OPT_NESTEROV, BP_OPT_ADAM};
    int most = check_max_threads(2);
    for (int dt = 0; dt < 2 && most >= 2; dt++)
        for (int k = 0; k < 4; k++) {
            void *p[2] = {NULL, NULL};
            double loss[2] = {0, 0};
            size_t np = 0;
            for (int th = 1; th <= 2; th++) {
                bp_set_threads(th);
                bp_net *net = make_net(F, units, acts[k & 1], 3, BP_LOSS_CE, (bp_dtype)dt, BP_INIT_HE, 11);
                bp_train_options o;
                bp_train_options_init(&o);
                o.epochs = 2;
                o.batch = 128;   /* 3 batches, the last one partial (44 rows: one thread's elementwise passes) */
                o.lr = 0.02;
                o.optimizer = opts[k];
                o.momentum = 0.9;
                o.weight_decay = k == 1 ? 1e-4 : 0;
                bp_trainer *t;
                bp_error err;
                CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
                CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_OK, "%s", err.msg);
                const bp_epoch_stats *h;
                if (bp_trainer_history(t, &h) == 2) loss[th - 1] = h[1].train_loss;
                np = bp_net_nparams(net);
                p[th - 1] = malloc(np * (dt ? 8 : 4));
                memcpy(p[th - 1], bp_net_params(net), np * (dt ? 8 : 4));
                bp_trainer_free(t);
                bp_net_free(net);
            }
            if (!dt) {
                CHECK(np > 100000 && !memcmp(p[0], p[1], np * 4) && loss[0] == loss[1],
                      "f32 %s: two threads give other parameters than one (loss %.9g vs %.9g)",
                      bp_optimizer_name(opts[k]), loss[1], loss[0]);
            } else {   /* OpenBLAS's dgemm on two threads rounds some products otherwise: close, not equal */
                const double *a = p[0], *b = p[1];
                size_t bad = np;
                for (size_t i = 0; i < np && bad == np; i++)
                    if (!(fabs(a[i] - b[i]) <= 1e-10 * (1 + fabs(a[i])))) bad = i;
                CHECK(np > 100000 && bad == np, "f64 %s: two threads give parameter %zu = %.17g, one thread %.17g",
                      bp_optimizer_name(opts[k]), bad, bad < np ? b[bad] : 0.0, bad < np ? a[bad] : 0.0);
            }
            free(p[0]); free(p[1]);
        }
    bp_set_threads(1);
    free(x); free(y); free(labels);
}

/* Copy checkpoint src to dst with metadata `key` set to `value` (NULL: left
 * out), or element 0 of tensor `tensor` set to v (through the API, so that
 * the checksum fits). */
static void rewrite_ckpt(const char *src, const char *dst, const char *key, const char *value, const char *tensor,
                         double v)
{
    bp_st_file *f;
    bp_error err;
    if (bp_st_read(src, &f, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    bp_st_tensor t[8];
    void *copy = NULL;
    int n = bp_st_count(f);
    for (int i = 0; i < n; i++) {
        t[i] = *bp_st_get(f, i);
        if (tensor && !strcmp(t[i].name, tensor)) {
            copy = malloc(t[i].nbytes);
            memcpy(copy, t[i].data, t[i].nbytes);
            if (t[i].dtype == BP_F64) ((double *)copy)[0] = v;
            else ((float *)copy)[0] = (float)v;
            t[i].data = copy;
        }
    }
    const char *mk[32], *mv[32];
    int nm = 0;
    for (int i = 0; i < bp_st_meta_count(f); i++) {
        bp_st_meta_at(f, i, &mk[nm], &mv[nm]);
        if (!strcmp(mk[nm], BP_ST_CHECKSUM_KEY)) continue;
        if (key && !strcmp(mk[nm], key)) {
            if (!value) continue;
            mv[nm] = value;
        }
        nm++;
    }
    if (bp_st_write(dst, t, n, mk, mv, nm, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    free(copy);
    bp_st_free(f);
}

/* A checkpoint is trusted in nothing: every field range-checked, every
 * tensor finite, tied to its data and options. */
static void test_checkpoint_checks(void)
{
    enum { N = 60 };
    static float x[N * 2], y[N * 3];
    static int labels[N];
    make_blobs(x, y, labels, N);
    bp_dataset d = wrap(x, y, N, 2, 3);
    d.labels = labels;
    d.nclasses = 3;
    int units[] = {4, 3};
    bp_act acts[] = {BP_ACT_TANH, BP_ACT_SOFTMAX};
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 3;
    o.batch = 8;
    o.optimizer = BP_OPT_ADAM;
    volatile int stop = 0;
    stopper sp = {&stop, 2, 3};
    o.stop = &stop;
    o.on_batch = stop_at;
    o.user = &sp;
    bp_error err;
    bp_net *net = make_net(2, units, acts, 2, BP_LOSS_CE, BP_F32, BP_INIT_XAVIER, 7);
    bp_trainer *t;
    const char *good = "/tmp/bp_test_ck_good.safetensors", *bad = "/tmp/bp_test_ck_bad.safetensors";
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_save(t, NULL, good, &err) == BP_E_ARG, "a checkpoint before any run: %s", err.msg);
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_E_INTERRUPTED, "%s", err.msg);
    CHECK(bp_trainer_save(t, NULL, good, &err) == BP_OK, "%s", err.msg);
    bp_scaler pixels = {2, NULL, NULL, 255, 0, 1};   /* IDX data: a division, no standardisation */
    CHECK(bp_trainer_save(t, &pixels, bad, &err) == BP_OK, "a checkpoint with a divide-only scaler: %s", err.msg);
    bp_trainer_free(t);
    o.stop = NULL;
    o.on_batch = NULL;
    static const struct { const char *key, *value, *tensor; double v; const char *want; } cases[] = {
        {"step", "9223372036854775807", NULL, 0, "field 'step' is '9223372036854775807', not an integer"},
        {"step", "-1", NULL, 0, "field 'step'"},
        {"samples", "abc", NULL, 0, "field 'samples' is 'abc'"},
        {"samples", NULL, NULL, 0, "field 'samples' is missing"},
        {"epoch_sums", "nan 0x1p+3 0x1p+4 0x1p+0", NULL, 0, "field 'epoch_sums' holds numbers out of range"},
        {"epoch_sums", "0x1p+0 0x1p+3", NULL, 0, "field 'epoch_sums' is malformed"},
        {"flags", "0 2 0", NULL, 0, "field 'flags'"},
        {"stop_reason", "because", NULL, 0, "field 'stop_reason'"},
        {"data_crc32", "xyz", NULL, 0, "field 'data_crc32'"},
        {"extra", NULL, NULL, 0, NULL},
        {NULL, NULL, "params", NAN, "tensor 'params' element 0 is nan"},
        {NULL, NULL, "m2", INFINITY, "tensor 'm2' element 0 is inf"},
        {NULL, NULL, "m2", -1, "tensor 'm2' element 0 is -1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        if (!cases[i].want) continue;
        rewrite_ckpt(good, bad, cases[i].key, cases[i].value, cases[i].tensor, cases[i].v);
        bp_net *n2 = make_net(2, units, acts, 2, BP_LOSS_CE, BP_F32, BP_INIT_XAVIER, 7);
        CHECK(bp_trainer_new(n2, &o, &t, &err) == BP_OK, "%s", err.msg);
        bp_status st = bp_trainer_load(t, bad, &err);
        CHECK(st != BP_OK && strstr(err.msg, cases[i].want), "case %zu: %s: %s", i, bp_status_name(st), err.msg);
        bp_trainer_free(t);
        bp_net_free(n2);
    }
    /* another learning rate, other data of the same size: refused */
    bp_net *n2 = make_net(2, units, acts, 2, BP_LOSS_CE, BP_F32, BP_INIT_XAVIER, 7);
    bp_train_options o2 = o;
    o2.lr *= 2;
    CHECK(bp_trainer_new(n2, &o2, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_load(t, good, &err) == BP_E_VALUE && strstr(err.msg, "another run"), "another lr: %s", err.msg);
    bp_trainer_free(t);
    CHECK(bp_trainer_new(n2, &o, &t, &err) == BP_OK && bp_trainer_load(t, good, &err) == BP_OK, "%s", err.msg);
    x[5] += 0.5f;
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_E_VALUE && strstr(err.msg, "made on other data"), "other data: %s",
          err.msg);
    x[5] -= 0.5f;
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_OK, "the same data resumes: %s", err.msg);
    bp_trainer_free(t);
    bp_net_free(n2);
    bp_net_free(net);
    /* the convention at kinks is part of the run: recorded, given back, and another one refused */
    bp_kinks k = {1, BP_TIE_HALF};
    CHECK(bp_checkpoint_kinks(good, &k, &err) == BP_OK && k.relu_at_zero == 0, "a default run's checkpoint: %s", err.msg);
    net = make_net(2, units, acts, 2, BP_LOSS_CE, BP_F32, BP_INIT_XAVIER, 7);
    bp_net_set_kinks(net, &(bp_kinks){1, BP_TIE_HALF});
    o.stop = &stop;
    o.on_batch = stop_at;
    stop = 0;
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_run(t, &d, NULL, &err) == BP_E_INTERRUPTED, "%s", err.msg);
    CHECK(bp_trainer_save(t, NULL, good, &err) == BP_OK, "%s", err.msg);
    bp_trainer_free(t);
    o.stop = NULL;
    o.on_batch = NULL;
    CHECK(bp_checkpoint_kinks(good, &k, &err) == BP_OK && k.relu_at_zero == 1, "relu'(0) = 1 is recorded: %s", err.msg);
    n2 = make_net(2, units, acts, 2, BP_LOSS_CE, BP_F32, BP_INIT_XAVIER, 7);
    CHECK(bp_trainer_new(n2, &o, &t, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_trainer_load(t, good, &err) == BP_E_VALUE && strstr(err.msg, "relu'(0) = 1"),
          "a net with relu'(0) = 0 is refused: %s", err.msg);
    bp_trainer_free(t);
    bp_net_set_kinks(n2, &k);
    CHECK(bp_trainer_new(n2, &o, &t, &err) == BP_OK && bp_trainer_load(t, good, &err) == BP_OK, "%s", err.msg);
    bp_trainer_free(t);
    bp_net_free(n2);
    bp_net_free(net);
    CHECK(bp_checkpoint_kinks("tests/golden/cases/case_000.json", &k, &err) != BP_OK, "not a checkpoint: refused");
    remove(good);
    remove(bad);
}

static void test_divergence(void)
{
    float x[] = {1, 2, 3, 4}, y[] = {1e3f, 2e3f, 3e3f, 4e3f};
    bp_dataset d = wrap(x, y, 4, 1, 1);
    int units[] = {4, 1};
    bp_act acts[] = {BP_ACT_RELU, BP_ACT_LINEAR};
    bp_net *net = make_net(1, units, acts, 2, BP_LOSS_SQUARED, BP_F32, BP_INIT_HE, 5);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = 100;
    o.batch = 2;
    o.lr = 10;
    bp_trainer *t;
    bp_error err;
    CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
    bp_status s = bp_trainer_run(t, &d, NULL, &err);
    CHECK(s == BP_E_DIVERGED, "expected divergence, got %s", bp_status_name(s));
    CHECK(strstr(err.msg, "epoch") && strstr(err.msg, "batch"), "message names epoch and batch: %s", err.msg);
    const float *p = bp_net_params(net);
    int finite = 1;
    for (size_t i = 0; i < bp_net_nparams(net); i++) finite &= isfinite(p[i]) != 0;
    CHECK(finite, "the kept weights are finite");
    bp_trainer_free(t);
    bp_net_free(net);
}

/* A process killed while saving never leaves a truncated model behind. */
static void test_killed_save(void)
{
    const char *path = "/tmp/bp_test_killed.safetensors";
    int units[] = {512, 512, 10};
    bp_act acts[] = {BP_ACT_RELU, BP_ACT_RELU, BP_ACT_SOFTMAX};
    bp_net *net = make_net(784, units, acts, 3, BP_LOSS_CE, BP_F32, BP_INIT_HE, 1);
    bp_error err;
    CHECK(bp_net_save(net, NULL, path, &err) == BP_OK, "%s", err.msg);
    for (int round = 0; round < 5; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (;;) bp_net_save(net, NULL, path, NULL);
        }
        struct timespec ts = {0, 20000000 + round * 7000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        bp_net *back = NULL;
        bp_status s = bp_net_load(path, BP_F32, &back, NULL, &err);
        CHECK(s == BP_OK, "after a kill during save: %s", err.msg);
        if (back) CHECK(memcmp(bp_net_params(back), bp_net_params(net), bp_net_nparams(net) * 4) == 0, "weights intact");
        bp_net_free(back);
    }
    /* leftover temp files of the killed writers are the only trace */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -f %s %s.tmp.*", path, path);
    CHECK(system(cmd) == 0, "cleanup");
    bp_net_free(net);
}

/* The trainer (rows read in place by the own sgemm, the vectorised update
 * loop) against the textbook loop, batch by batch in order: g = dL/dtheta
 * (bp_fused_backprop), g_W += wd W, then v = mu v + g; theta -= lr v
 * (momentum), theta -= lr (g + mu v) (Nesterov) or theta -= lr g. f32, a net
 * big enough for the own sgemm; the parameters must agree bit for bit. */
static void test_textbook(bp_optimizer opt, double wd)
{
    enum { N = 200, F = 100, K = 10, B = 40, E = 2 };
    static const int units[] = {64, 48, K};
    static const bp_act acts[] = {BP_ACT_RELU, BP_ACT_RELU, BP_ACT_SOFTMAX};
    bp_net *a = make_net(F, units, acts, 3, BP_LOSS_CE, BP_F32, BP_INIT_HE, 5);
    bp_net *b = make_net(F, units, acts, 3, BP_LOSS_CE, BP_F32, BP_INIT_HE, 5);
    float *x = malloc(sizeof(float) * N * F), *y = calloc(N * K, sizeof(float));
    unsigned r = 99;
    for (int i = 0; i < N * F; i++) { r = r * 1103515245u + 12345u; x[i] = (float)((r >> 9) & 0xffff) / 65536.0f; }
    for (int i = 0; i < N; i++) y[i * K + (int)((x[i * F] + x[i * F + 1]) * 5) % K] = 1;
    bp_dataset d = wrap(x, y, N, F, K);
    bp_train_options o;
    bp_train_options_init(&o);
    o.epochs = E;
    o.batch = B;
    o.lr = 0.05;
    o.optimizer = opt;
    o.momentum = 0.9;
    o.weight_decay = wd;
    o.shuffle = 0;
    bp_trainer *t;
    bp_error err;
    if (bp_trainer_new(a, &o, &t, &err) || bp_trainer_run(t, &d, NULL, &err)) { CHECK(0, "%s", err.msg); return; }
    size_t n = bp_net_nparams(b);
    float *v = calloc(n, sizeof(float)), *p = bp_net_params(b), *g = bp_net_grads(b);
    const float lr = 0.05f, mu = 0.9f, fwd = (float)wd;
    for (int e = 0; e < E; e++)
        for (int s = 0; s < N; s += B) {
            bp_mat xb = {B, F, BP_F32, x + (size_t)s * F}, yb = {B, K, BP_F32, y + (size_t)s * K};
            double loss;
            if (bp_fused_backprop(b, &xb, &yb, &loss, &err)) { CHECK(0, "%s", err.msg); return; }
            for (int l = 0; l < 3 && wd > 0; l++) {
                bp_mat W = bp_net_weight(b, l), G = bp_net_weight_grad(b, l);
                for (int i = 0; i < W.rows * W.cols; i++) ((float *)G.data)[i] += fwd * ((float *)W.data)[i];
            }
            for (size_t i = 0; i < n; i++) {
                float vi = mu * v[i] + g[i];
                if (opt != BP_OPT_SGD) v[i] = vi;
                p[i] -= opt == BP_OPT_MOMENTUM ? lr * vi : opt == BP_OPT_NESTEROV ? lr * (g[i] + mu * vi) : lr * g[i];
            }
        }
    CHECK(!memcmp(bp_net_params(a), p, n * sizeof(float)), "%s, weight decay %g: the trainer's weights differ from the "
          "textbook loop's", bp_optimizer_name(opt), wd);
    bp_trainer_free(t);
    bp_net_free(a);
    bp_net_free(b);
    free(x); free(y); free(v);
}

/* One scoring rule for training and evaluation (src/nn/eval.h): accuracy
 * exactly when the data has class labels, a single output unit predicting
 * class 1 iff its output is >= 0.5, whatever the loss; and the validation
 * numbers are bp_evaluate's. */
static void test_scoring_rule(void)
{
    float x[] = {0, 0, 0, 1, 1, 0, 1, 1, 0.2f, 0.9f, 0.8f, 0.1f}, y[] = {0, 1, 1, 1, 1, 1};
    int labels[] = {0, 1, 1, 1, 1, 1};
    int units[] = {3, 1};
    bp_error err;
    for (int c = 0; c < 2; c++) {
        /* c = 0: bce on --regression targets (no labels): no accuracy anywhere;
         * c = 1: a linear output with a squared loss on 0/1 labels: an accuracy */
        bp_act acts[] = {BP_ACT_TANH, c ? BP_ACT_LINEAR : BP_ACT_SIGMOID};
        bp_net *net = make_net(2, units, acts, 2, c ? BP_LOSS_SQUARED : BP_LOSS_BCE, BP_F64, BP_INIT_XAVIER, 7);
        bp_dataset d = wrap(x, y, 6, 2, 1);
        if (c) { d.labels = labels; d.nclasses = 2; }
        bp_train_options o;
        bp_train_options_init(&o);
        o.epochs = 3;
        o.batch = 4;
        o.lr = 0.1;
        bp_trainer *t;
        CHECK(bp_trainer_new(net, &o, &t, &err) == BP_OK, "%s", err.msg);
        CHECK(bp_trainer_run(t, &d, &d, &err) == BP_OK, "%s", err.msg);
        const bp_epoch_stats *h;
        int n = bp_trainer_history(t, &h);
        bp_metrics m;
        CHECK(n == 3 && bp_evaluate(net, &d, 0, &m, &err) == BP_OK, "%s", err.msg);
        if (c) {
            CHECK(!isnan(h[2].train_acc) && h[2].val_acc == m.accuracy, "labels, linear output: train_acc %g, val_acc %g, "
                  "eval %g", h[2].train_acc, h[2].val_acc, m.accuracy);
            /* the accuracy by hand: class 1 iff the output is >= 0.5 */
            bp_mat xm = {6, 2, BP_F32, x};
            CHECK(bp_net_forward(net, &xm, &err) == BP_OK, "%s", err.msg);
            bp_mat a = bp_net_a(net, 1);
            int right = 0;
            for (int i = 0; i < 6; i++) right += (bp_mat_get(&a, i, 0) >= 0.5) == labels[i];
            CHECK(m.accuracy == right / 6.0, "eval accuracy %g, by hand %g", m.accuracy, right / 6.0);
        } else {
            CHECK(isnan(h[2].train_acc) && isnan(h[2].val_acc) && isnan(m.accuracy),
                  "bce on unlabeled targets: train_acc %g, val_acc %g, eval accuracy %g", h[2].train_acc, h[2].val_acc,
                  m.accuracy);
        }
        CHECK(h[2].val_loss == m.loss, "validation loss %.17g, bp_evaluate %.17g", h[2].val_loss, m.loss);
        bp_metrics_free(&m);
        bp_trainer_free(t);
        bp_net_free(net);
    }
}

int main(void)
{
    bp_set_threads(1);
    for (int wd = 0; wd < 2; wd++) {
        test_textbook(BP_OPT_SGD, wd * 1e-3);
        test_textbook(BP_OPT_MOMENTUM, wd * 1e-3);
        test_textbook(BP_OPT_NESTEROV, wd * 1e-3);
    }
    test_xor();
    test_scoring_rule();
    test_regression();
    test_determinism_and_resume();
    test_checkpoint_checks();
    test_divergence();
    test_killed_save();
    test_threads_same_bits();
    return check_done();
}
