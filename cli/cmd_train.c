/* cmd_train.c - `backprop train`: train a network on a dataset and save it. */
#define _GNU_SOURCE
#include "cli.h"
#include "data_opts.h"
#include "core/file.h"
#include "core/runtime.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

static const char HELP[] =
    "usage: backprop train (--arch SIZES | --model FILE | --resume CHECKPOINT) --data DATA [OPTIONS]\n"
    "       backprop train --model FILE.json [OPTIONS]      (on the data in FILE.json)\n"
    "\n"
    "Train a network by mini-batch gradient descent and save it as a safetensors file.\n"
    "Example (the main job, Fashion-MNIST):\n"
    "  backprop train --arch 784-256-128-10 --hidden relu --output softmax --loss cross_entropy \\\n"
    "      --data fashion-mnist --epochs 15 --batch 128 --lr 0.05 --optimizer momentum \\\n"
    "      --schedule cosine --save model.safetensors\n"
    "\n"
    "network:\n"
    "  --arch N0-N1-...-NL  inputs, hidden layer sizes, outputs (e.g. 784-256-128-10)\n"
    "  --hidden ACT        hidden activation: relu (default), sigmoid, tanh, linear\n"
    "  --output ACT        output activation (default: softmax for cross_entropy, sigmoid for bce,\n"
    "                      linear otherwise)\n"
    "  --loss L            cross_entropy (default for class labels), bce, squared (default with\n"
    "                      --regression), half_squared\n"
    "  --reduction R       mean (default) or sum over the batch\n"
    "  --layout L          out_in (default) or in_out\n"
    "  --init I            he (default for relu), xavier (default otherwise), small_uniform\n"
    "  --model FILE.json   take the architecture (and any weights) from a model file instead;\n"
    "                      without --data, train on the file's own data (data.x, data.y)\n"
    "  --dtype T           f32 (default) or f64\n"
    "  --multiclass ovr|ovo  k classes by binary networks of --arch (one sigmoid output, loss\n"
    "                      bce, the defaults here): one-vs-rest, k of them (class c against the\n"
    "                      rest), or one-vs-one, k(k-1)/2 (class i against class j, on their\n"
    "                      samples only); each trained with the options below on the data\n"
    "                      relabelled (1: its first class), model m with the seed\n"
    "                      SEED + (m+1) * 0x9E3779B97F4A7C15; saved together in one safetensors\n"
    "                      file (its metadata names the scheme, the classes and each model's\n"
    "                      pair) that eval, predict, boundary and plot-boundary read\n"
    "\n";

static const char HELP2[] =
    "optimization:\n"
    "  --epochs N          maximum epochs (default 10)\n"
    "  --batch N           samples per step: 1 = online, >= n = full batch (default 32)\n"
    "  --lr X              learning rate (default 0.01)\n"
    "  --optimizer O       sgd (default), momentum, nesterov, adam\n"
    "  --momentum X        for momentum and nesterov (default 0.9)\n"
    "  --beta1 X, --beta2 X, --adam-eps X   Adam (0.9, 0.999, 1e-8)\n"
    "  --weight-decay X    L2 weight decay on the weights (default 0)\n"
    "  --schedule S        constant (default), step, cosine\n"
    "  --step-size N, --gamma X   step schedule: lr *= gamma every N epochs (10, 0.1)\n"
    "  --tol X             stop when the training loss changes by less than X between epochs\n"
    "  --val F             hold out the fraction F of the training data for validation (default 0)\n"
    "  --patience N        early stopping: stop after N epochs without a better validation loss,\n"
    "                      ending with the weights of the best validation loss\n"
    "  --keep-best         end with the weights of the best validation loss\n"
    "  --seed N            shuffling and initialisation (default 1)\n"
    "  --no-shuffle        visit the samples in file order\n"
    "  --no-standardize    CSV: do not standardise the features (default: standardise with the mean\n"
    "                      and std of the training split, saved with the model)\n"
    "  --threads N         threads for the matrix products (default: OPENBLAS_NUM_THREADS, else\n"
    "                      every core; the same seed and thread count give the same model, and\n"
    "                      where the own f32 kernels run, any thread count: backprop --version)\n"
    CLI_RELU_AT_ZERO_HELP
    "\n"
    "output:\n"
    "  --save FILE         the trained model (default model.safetensors; a JSON model file when\n"
    "                      FILE ends in .json); written atomically\n"
    "  --checkpoint FILE   where Ctrl-C saves the training state (default: SAVE.ckpt)\n"
    "  --resume FILE       continue from a checkpoint; ends with the same model as an\n"
    "                      uninterrupted run. The network and the training options come from\n"
    "                      the checkpoint (--arch and the others may be left out; if given they\n"
    "                      must be the run's); give the same --data, --val and scaling options.\n"
    "                      Once the run is complete, its own checkpoint (--checkpoint) is removed\n"
    "  --log FILE.csv      per epoch: epoch,train_loss,train_acc,val_loss,val_acc,seconds\n"
    "  --plot FILE.svg     learning curves (loss and accuracy per epoch)\n"
    "  --quiet             print nothing but errors\n"
    "  -h, --help          this help\n";
static const char HELP3[] =   /* C99 promises string literals of 4095 characters, no more */
    "\n" DATA_OPTIONS_HELP
    "\n"
    "Progress: on a terminal, a live bar per epoch (batch, loss, accuracy, samples/s, ETA);\n"
    "otherwise one line per epoch. Accuracy is shown when the targets are class labels (a\n"
    "single output unit predicts class 1 iff its output is >= 0.5), never with --regression.\n"
    "Ctrl-C stops after the current batch and saves a checkpoint.\n"
    "Exit status: 0 trained, 1 diverged (the last good model is saved), 2 bad input,\n"
    "130 interrupted (checkpoint saved).\n";

static const char HELP4[] =
    "\n"
    "Data-parallel training (MPI): `mpirun -np N backprop train ...` with the same options trains one\n"
    "model on N processes, on one machine or several: each computes the gradient of its share of\n"
    "every batch, the gradients are summed with MPI's allreduce (each layer's as soon as the backward\n"
    "pass has it) and every process takes the same step, so all copies stay the same. The model\n"
    "equals one process's with the same --batch to rounding, and is the same in every run with the\n"
    "same N. Process 0 alone prints and writes --save, --log, --plot and the checkpoint, which under\n"
    "mpirun is written after every epoch too; Ctrl-C or the end of any process stops them all; resume\n"
    "with the same N. Needs a backprop built with Open MPI (libopenmpi-dev); mpirun -q keeps\n"
    "mpirun's own notes out of the way.\n"
    "  --shard             each process reads only its 1/N of the rows (rows r, r+N, r+2N, ... of the\n"
    "                      file) and shuffles within them: for data too large for one machine\n"
    "  --check-replicas    after every step, compare a CRC-32 of the parameters over the processes\n"
    "                      (an error if they differ)\n";

enum {
    O_ARCH = 1, O_HIDDEN, O_OUTPUT, O_LOSS, O_RED, O_LAYOUT, O_INIT, O_MODEL, O_DTYPE, O_EPOCHS, O_BATCH, O_LR,
    O_OPT, O_MOM, O_B1, O_B2, O_AEPS, O_WD, O_SCHED, O_STEP, O_GAMMA, O_TOL, O_VAL, O_PAT, O_BEST, O_SEED,
    O_NOSHUF, O_NOSTD, O_THREADS, O_SAVE, O_CKPT, O_RESUME, O_LOG, O_PLOT, O_QUIET, O_MULTI, O_RELU0, O_SHARD, O_CHECK_REPLICAS,
    O_HELP
};

static volatile int g_stop;
static void on_sigint(int sig)
{
    (void)sig;
    g_stop = 1;
    signal(SIGINT, SIG_DFL);   /* a second Ctrl-C stops at once */
}

/* ---- under mpirun -------------------------------------------------------------
 * Ctrl-C reaches mpirun, which sends SIGTERM to every process and SIGKILL
 * about a second later; when a process dies, mpirun sends SIGTERM to the
 * others, which are then waiting in a collective that will never complete.
 * So SIGTERM (or SIGINT) sets the stop flag, which the processes agree on at
 * the next step (the first process then saves a checkpoint), and starts a
 * half-second timer: if the run has not ended by then, the first process
 * says in one line what happened and where the last checkpoint is
 * (g_gone_msg, written when it was saved; g_gone_busy while the next one is
 * being written, which the process then finishes), and every process leaves. */
static volatile sig_atomic_t g_saving, g_gone_said, g_run_over;
static char g_gone_msg[4096 + 512], g_gone_busy[4096 + 512];

static void on_gone_timer(int sig)
{
    (void)sig;
    if (g_run_over) return;   /* the run ended by itself: its own message follows */
    if (!g_gone_said) {
        const char *m = g_saving ? g_gone_busy : g_gone_msg;
        g_gone_said = 1;
        if (*m && write(STDERR_FILENO, m, strlen(m)) < 0) g_gone_said = 2;
    }
    if (g_saving) {   /* a checkpoint is being written: let it finish, then leave */
        struct itimerval tenth = {{0, 0}, {0, 100000}};
        setitimer(ITIMER_REAL, &tenth, NULL);
        return;
    }
    _exit(130);
}

static void on_stop_mpi(int sig)
{
    (void)sig;
    if (g_stop) return;
    g_stop = 1;
    struct itimerval half = {{0, 0}, {0, 500000}};
    setitimer(ITIMER_REAL, &half, NULL);
}

typedef struct epoch_saver epoch_saver;
typedef struct progress {
    int tty, quiet;
    double run_seconds;   /* training time of the epochs before the current one */
    epoch_saver *saver;   /* under mpirun, process 0: the checkpoint of every epoch */
} progress;

/* The terminal's width (TIOCGWINSZ, else $COLUMNS, else 80). */
static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n;
    if (c && !cli_long(c, 20, 10000, &n)) return (int)n;
    return 80;
}

static void human_time(char *b, size_t n, double s)
{
    if (s < 60) snprintf(b, n, "%.1fs", s);
    else if (s < 3600) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* On a terminal: one line, redrawn in place and never wider than the terminal
 * (a wrapped line could not be redrawn): the epoch, a bar, the batch, the
 * running loss and accuracy, the speed, and the time left in the epoch and in
 * the whole run; the parts that do not fit are left out, the bar first. */
static void on_batch(void *user, const bp_batch_progress *p)
{
    progress *pr = user;
    if (pr->quiet || !pr->tty) return;
    if (p->batch != p->batches && p->batch % 8 != 1) return;   /* a few redraws per second */
    double per_epoch = p->seconds / p->batch * p->batches, left = per_epoch - p->seconds;
    double run_left = left + per_epoch * (p->epochs - p->epoch);
    char eta[24], run[24], head[64], stats[96], speed[48], times[80];
    human_time(eta, sizeof eta, left);
    human_time(run, sizeof run, run_left);
    snprintf(head, sizeof head, "epoch %d/%d", p->epoch, p->epochs);
    int k = snprintf(stats, sizeof stats, " %d/%d loss %.4f", p->batch, p->batches, p->loss);
    if (!isnan(p->acc)) snprintf(stats + k, sizeof stats - (size_t)k, " acc %.4f", p->acc);
    snprintf(speed, sizeof speed, " %.0f/s", p->samples_per_s);
    snprintf(times, sizeof times, " ETA %s, run %s", eta, run);
    int cols = term_width() - 1;   /* the last column would wrap on some terminals */
    int fixed = (int)(strlen(head) + strlen(stats));
    const char *sp = speed, *tm = times;
    if (fixed + (int)(strlen(sp) + strlen(tm)) + 12 > cols) sp = "";
    if (fixed + (int)(strlen(sp) + strlen(tm)) + 12 > cols) tm = "";
    int barw = cols - fixed - (int)(strlen(sp) + strlen(tm)) - 3;
    if (barw > 30) barw = 30;
    char bar[40] = "";
    if (barw >= 8) {
        int done = (int)((double)p->batch / p->batches * barw);
        bar[0] = ' ';
        bar[1] = '[';
        for (int i = 0; i < barw; i++) bar[2 + i] = i < done ? '=' : (i == done ? '>' : ' ');
        bar[2 + barw] = ']';
        bar[3 + barw] = '\0';
    }
    char line[512];
    snprintf(line, sizeof line, "%s%s%s%s%s", head, bar, stats, sp, tm);
    if ((int)strlen(line) > cols && cols > 0) line[cols] = '\0';
    printf("\r\033[K%s", line);
    fflush(stdout);
}

static void on_epoch(void *user, const bp_epoch_stats *s)
{
    progress *pr = user;
    pr->run_seconds += s->seconds;
    if (pr->quiet) return;
    if (pr->tty) printf("\r\033[K");
    printf("epoch %3d loss %.4f", s->epoch, s->train_loss);   /* under 80 columns with every part */
    if (!isnan(s->train_acc)) printf(" acc %.4f", s->train_acc);
    if (!isnan(s->val_loss)) printf(" val_loss %.4f", s->val_loss);
    if (!isnan(s->val_acc)) printf(" val_acc %.4f", s->val_acc);
    printf(" lr %.4g %.2fs\n", s->lr, s->seconds);
    fflush(stdout);
}

static int parse_num(const char *opt, const char *s, double lo, double *out)
{
    if (cli_double(s, out) || *out < lo) return cli_failf("%s: expected a number >= %g, got '%s'", opt, lo, s);
    return 0;
}

static int parse_int(const char *opt, const char *s, long lo, long *out)
{
    if (cli_long(s, lo, 1000000000L, out)) return cli_failf("%s: expected an integer >= %ld, got '%s'", opt, lo, s);
    return 0;
}

/* "784-256-128-10" -> inputs and layer sizes: digits only, one '-' between
 * sizes, nothing else. */
#define MAX_UNITS 100000000L
static int parse_arch(const char *s, bp_net_spec *spec)
{
    int n = 0, v[BP_MAX_LAYERS + 1];
    const char *p = s;
    for (;;) {
        size_t digits = strspn(p, "0123456789");
        if (!digits || (p[digits] && p[digits] != '-'))
            return cli_failf("--arch: expected sizes like 784-256-128-10 (digits joined by '-'), got '%s'", s);
        if (n > BP_MAX_LAYERS) return cli_failf("--arch: more than %d layers in '%s'", BP_MAX_LAYERS, s);
        long x = digits > 9 ? MAX_UNITS + 1 : strtol(p, NULL, 10);
        if (x < 1 || x > MAX_UNITS)
            return cli_failf("--arch: size %.*s in '%s' is outside 1..%ld", (int)(digits > 20 ? 20 : digits), p, s,
                             MAX_UNITS);
        v[n++] = (int)x;
        p += digits;
        if (!*p) break;
        p++;
    }
    if (n < 2) return cli_failf("--arch: expected at least inputs and outputs, like 4-1, got '%s'", s);
    spec->inputs = v[0];
    spec->nlayers = n - 1;
    for (int i = 1; i < n; i++) spec->layers[i - 1].units = v[i];
    return 0;
}

/* The model as a JSON model file when the name ends in .json (for reading and
 * for explain), else as safetensors. */
static bp_status save_model(const bp_net *net, const bp_scaler *scaler, const char *path, bp_error *err)
{
    size_t n = strlen(path);
    if (n < 5 || strcmp(path + n - 5, ".json")) return bp_net_save(net, scaler, path, err);
    bp_net *copy = NULL;
    bp_model *m = NULL;
    bp_status st = bp_net_clone(net, bp_net_dtype(net), &copy, err);
    if (!st && (st = bp_model_from_net(copy, scaler, &m, err))) bp_net_free(copy);
    if (!st) st = bp_model_save(m, path, err);
    bp_model_free(m);
    return st;
}

static void on_model(void *user, int m, int nmodels, int pos, int neg)
{
    const bp_dataset *d = user;
    char a[160], b[160];
    if (d->class_names) snprintf(a, sizeof a, "class %d (%s)", pos, d->class_names[pos]);
    else snprintf(a, sizeof a, "class %d", pos);
    if (neg < 0) snprintf(b, sizeof b, "the rest");
    else if (d->class_names) snprintf(b, sizeof b, "class %d (%s)", neg, d->class_names[neg]);
    else snprintf(b, sizeof b, "class %d", neg);
    printf("model %d/%d: %s against %s\n", m + 1, nmodels, a, b);
    fflush(stdout);
}

/* train --multiclass: the split and the standardisation of the data as for one network, then a model set of
 * binary networks of `spec`, its combined accuracy, and the file. */
static int train_multiclass(const bp_net_spec *spec, bp_dtype dtype, bp_init init, bp_multiclass_scheme scheme,
                            bp_train_options *o, const data_opts *dopt, bp_dataset *all, double val, int standardize,
                            const char *save, int quiet)
{
    bp_dataset train = {0}, valid = {0};
    bp_scaler scaler = {0};
    bp_multiclass *mc = NULL;
    bp_error err;
    int rc = 0;
    const char *desc = data_describe(dopt, DATA_TRAIN);
    if (!all->labels || all->nclasses < 3) {
        rc = cli_failf("%s: --multiclass needs class labels of at least 3 classes (the data has %d)", desc, all->nclasses);
        goto out;
    }
    if (val > 0) {
        bp_dataset_shuffle(all, o->seed);
        if (bp_dataset_split(all, val, &train, &valid, &err)) { rc = cli_fail(&err); goto out; }
    } else {
        train = *all;
        memset(all, 0, sizeof *all);
    }
    if (data_is_csv(dopt)) {
        if (standardize && (bp_scaler_fit(&scaler, &train, &err) || bp_scaler_apply(&scaler, &train, &err) ||
                            (valid.n && bp_scaler_apply(&scaler, &valid, &err)))) { rc = cli_fail(&err); goto out; }
    } else {
        scaler.divide = 255;
    }
    bp_scaler_note_range(&scaler, &train);
    if (train.features != spec->inputs) {
        rc = cli_failf("%s: the data has %d features, the network %d inputs", desc, train.features, spec->inputs);
        goto out;
    }
    progress pr = {isatty(STDOUT_FILENO), quiet, 0, NULL};
    o->on_batch = on_batch;
    o->on_epoch = on_epoch;
    o->user = &pr;
    o->stop = &g_stop;
    int nm = scheme == BP_OVR ? train.nclasses : train.nclasses * (train.nclasses - 1) / 2;
    if (!quiet) {
        printf("training %d %s networks %d", nm, scheme == BP_OVR ? "one-vs-rest" : "one-vs-one", spec->inputs);
        for (int l = 0; l < spec->nlayers; l++) printf("-%d", spec->layers[l].units);
        printf(" (%s output, %s loss) for %d classes\n  on %d samples%s, %s, batch %d, lr %g, %d epoch%s each\n",
               bp_act_name(spec->layers[spec->nlayers - 1].act), bp_loss_name(spec->loss), train.nclasses, train.n,
               valid.n ? " (+ validation)" : "", bp_optimizer_name(o->optimizer), o->batch, o->lr, o->epochs,
               o->epochs == 1 ? "" : "s");
        fflush(stdout);
    }
    signal(SIGINT, on_sigint);
    bp_status st = bp_multiclass_train(spec, dtype, init, scheme, &train, valid.n ? &valid : NULL, o,
                                       quiet ? NULL : on_model, &train, &mc, &err);
    signal(SIGINT, SIG_DFL);
    if (!quiet && pr.tty) { printf("\r\033[K"); fflush(stdout); }
    if (st == BP_E_INTERRUPTED) {
        fprintf(stderr, "backprop: %s; a model set is not checkpointed: nothing was saved\n", err.msg);
        rc = 130;
        goto out;
    }
    if (st) { rc = st == BP_E_DIVERGED ? (cli_fail(&err), EXIT_WRONG) : cli_fail(&err); goto out; }
    if (!quiet) {
        bp_metrics m;
        for (int part = 0; part < 2; part++) {
            const bp_dataset *d = part ? &valid : &train;
            if (!d->n) continue;
            if (bp_multiclass_evaluate(mc, &scaler, BP_OVR_SCORE, d, 256, &m, &err)) { rc = cli_fail(&err); goto out; }
            printf("combined %s accuracy %.4f (%s)\n", part ? "validation" : "training", m.accuracy,
                   scheme == BP_OVR ? "the largest score" : "the majority vote");
            bp_metrics_free(&m);
        }
    }
    if (bp_multiclass_save(mc, scaler.features ? &scaler : NULL, save, &err)) { rc = cli_fail(&err); goto out; }
    if (!quiet) printf("model set saved to %s\n", save);
out:
    bp_multiclass_free(mc);
    bp_dataset_free(&train);
    bp_dataset_free(&valid);
    bp_scaler_free(&scaler);
    return rc;
}

/* An outcome every process of an MPI run shares: each passes its own (rc, and
 * its message in cli_last_error); all return the first failing process's,
 * whose message the first process prints when it is not its own (its own it
 * printed already). Without MPI: rc. */
static int agreed(bp_mpi *mpi, int rc)
{
    if (!mpi) return rc;
    const bp_reducer *R = bp_mpi_reducer(mpi);
    bp_error e = {rc ? BP_E_ARG : BP_OK, ""};
    if (rc) snprintf(e.msg, sizeof e.msg, "%s", cli_last_error());
    if (!R->agree(R->ctx, e.status, &e)) return rc;
    if (!rc && R->rank == 0) {
        cli_errors_silent(0);
        cli_failf("%s", e.msg);
    }
    return rc ? rc : EXIT_BAD;
}

/* Under mpirun, process 0's one line once the run has stopped without a
 * checkpoint of this moment (on_gone_timer): `epoch` is the last checkpoint's
 * (0: none yet). */
static void set_gone_msg(const char *ckpt, int epoch, int nproc)
{
    char head[128];
    snprintf(head, sizeof head, "backprop: the run stopped: interrupted, or one of its %d processes ended", nproc);
    if (epoch > 0) {
        snprintf(g_gone_msg, sizeof g_gone_msg, "%s; the last checkpoint, %s (after epoch %d), is intact: continue "
                 "with mpirun -np %d backprop train --resume %s\n", head, ckpt, epoch, nproc, ckpt);
        snprintf(g_gone_busy, sizeof g_gone_busy, "%s; the checkpoint %s (after epoch %d, or %d: that one was being "
                 "written) is intact: continue with mpirun -np %d backprop train --resume %s\n", head, ckpt, epoch,
                 epoch + 1, nproc, ckpt);
    } else {
        snprintf(g_gone_msg, sizeof g_gone_msg, "%s; it had not finished its first epoch, so there is no checkpoint "
                 "to resume from\n", head);
        snprintf(g_gone_busy, sizeof g_gone_busy, "%s while the first checkpoint, %s, was being written: if it is "
                 "there, it is whole: continue with mpirun -np %d backprop train --resume %s\n", head, ckpt, nproc,
                 ckpt);
    }
}

/* Under mpirun: process 0 writes the checkpoint at the end of every epoch, so
 * that the run can be resumed whatever stops it. */
struct epoch_saver {
    const char *path;
    const bp_scaler *scaler;
    int nproc, warned, epoch;   /* epoch: of the last checkpoint written */
};

static void save_each_epoch(void *user, const bp_trainer *t)
{
    epoch_saver *sv = ((progress *)user)->saver;
    bp_error e;
    g_saving = 1;
    bp_status st = bp_trainer_save(t, sv->scaler, sv->path, &e);
    g_saving = 0;
    if (st) {
        if (!sv->warned++) fprintf(stderr, "backprop: warning: %s (the run goes on without checkpoints)\n", e.msg);
        return;
    }
    const bp_epoch_stats *h;
    sv->epoch = bp_trainer_history(t, &h);
    set_gone_msg(sv->path, sv->epoch, sv->nproc);
}

/* Accuracy needs class labels (the library's rule). */
static int classifier_data(const bp_dataset *d) { return d->nclasses > 0 && d->labels; }

/* The end of a run that was not interrupted (process 0): the log, the plot,
 * the model (with `scaler`, may be NULL), the summary; a checkpoint `remove` (may be NULL) that belonged to
 * the run is removed once it is complete (said when `say`). Returns the exit
 * status: EXIT_WRONG when it diverged, 0, or EXIT_BAD. */
static int finish_run(const bp_trainer *t, const bp_net *net, const bp_train_options *o, const bp_scaler *scaler,
                      int classifier, const char *save, const char *log_path, const char *plot_path, int quiet,
                      bp_status st, const char *remove, int say)
{
    bp_error err;
    const bp_epoch_stats *h;
    int nh = bp_trainer_history(t, &h);
    if (log_path && nh && bp_log_csv(h, nh, classifier, log_path, &err)) return cli_fail(&err);
    if (plot_path && nh && bp_plot_svg(h, nh, plot_path, &err)) return cli_fail(&err);
    if (save_model(net, scaler, save, &err)) return cli_fail(&err);
    if (!quiet) {
        double secs = 0;
        for (int i = 0; i < nh; i++) secs += h[i].seconds;
        printf("stopped after %d epoch%s: %s; %.2f s training, %.2f s per epoch\n", nh, nh == 1 ? "" : "s",
               bp_trainer_stop_reason(t), secs, nh ? secs / nh : 0);
        if (o->keep_best && nh) {   /* the trainer keeps the first epoch of the lowest validation loss */
            int b = 0;
            for (int i = 1; i < nh; i++)
                if (h[i].val_loss < h[b].val_loss) b = i;
            printf("kept the weights of epoch %d, the best validation loss (%.4f)\n", h[b].epoch, h[b].val_loss);
        }
        if (o->check_replicas)
            printf("replicas: the %d processes held the same parameters after each of the %ld steps\n",
                   o->reducer->size, bp_trainer_steps(t));
        printf("%s model saved to %s\n", st == BP_E_DIVERGED ? "last good" : "trained", save);
    }
    if (st == BP_OK && remove && unlink(remove) == 0 && say && !quiet)
        printf("checkpoint %s removed: the run it belonged to is complete\n", remove);
    return st == BP_E_DIVERGED ? EXIT_WRONG : 0;
}

static int train_body(int argc, char **argv, bp_mpi *mpi);

int cmd_train(int argc, char **argv)
{
    /* under mpirun, every process runs this; only process 0 prints */
    int rank = 0, launched = bp_mpi_launched(&rank);
    bp_mpi *mpi = NULL;
    if (launched > 1) {
        if (rank != 0) cli_errors_silent(1);
        for (int i = 1; i < argc; i++)   /* --help needs no MPI */
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                if (rank == 0) { fputs(HELP, stdout); fputs(HELP2, stdout); fputs(HELP3, stdout); fputs(HELP4, stdout); }
                return 0;
            }
        if (!bp_mpi_available())
            return cli_failf("train: started by mpirun as %d processes, but this backprop was built without MPI: "
                             "install Open MPI (apt-get install libopenmpi-dev openmpi-bin) and build again (make), "
                             "or run train without mpirun", launched);
        bp_error err;
        if (bp_mpi_init(NULL, NULL, &mpi, &err)) return cli_fail(&err);
    }
    int rc = train_body(argc, argv, mpi);
    bp_mpi_finalize(mpi);
    return rc;
}

static int train_body(int argc, char **argv, bp_mpi *mpi)
{
    int rank = bp_mpi_rank(mpi), nproc = bp_mpi_size(mpi);
    static const struct option opts[] = {
        {"arch", required_argument, 0, O_ARCH}, {"hidden", required_argument, 0, O_HIDDEN},
        {"output", required_argument, 0, O_OUTPUT}, {"loss", required_argument, 0, O_LOSS},
        {"reduction", required_argument, 0, O_RED}, {"layout", required_argument, 0, O_LAYOUT},
        {"init", required_argument, 0, O_INIT}, {"model", required_argument, 0, O_MODEL},
        {"dtype", required_argument, 0, O_DTYPE}, {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH}, {"lr", required_argument, 0, O_LR},
        {"optimizer", required_argument, 0, O_OPT}, {"momentum", required_argument, 0, O_MOM},
        {"beta1", required_argument, 0, O_B1}, {"beta2", required_argument, 0, O_B2},
        {"adam-eps", required_argument, 0, O_AEPS}, {"weight-decay", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHED}, {"step-size", required_argument, 0, O_STEP},
        {"gamma", required_argument, 0, O_GAMMA}, {"tol", required_argument, 0, O_TOL},
        {"val", required_argument, 0, O_VAL}, {"patience", required_argument, 0, O_PAT},
        {"keep-best", no_argument, 0, O_BEST}, {"seed", required_argument, 0, O_SEED},
        {"no-shuffle", no_argument, 0, O_NOSHUF}, {"no-standardize", no_argument, 0, O_NOSTD},
        {"threads", required_argument, 0, O_THREADS}, {"save", required_argument, 0, O_SAVE},
        {"checkpoint", required_argument, 0, O_CKPT}, {"resume", required_argument, 0, O_RESUME},
        {"log", required_argument, 0, O_LOG}, {"plot", required_argument, 0, O_PLOT},
        {"quiet", no_argument, 0, O_QUIET}, {"multiclass", required_argument, 0, O_MULTI}, {"shard", no_argument, 0, O_SHARD},
        {"relu-grad-at-zero", required_argument, 0, O_RELU0},
        {"check-replicas", no_argument, 0, O_CHECK_REPLICAS}, {"help", no_argument, 0, O_HELP}, DATA_OPTIONS,
        {0, 0, 0, 0}};
    bp_net_spec spec;
    memset(&spec, 0, sizeof spec);
    bp_train_options o;
    bp_train_options_init(&o);
    data_opts dopt;
    data_opts_init(&dopt);
    const char *arch = NULL, *model_json = NULL, *save = "model.safetensors", *ckpt = NULL, *resume = NULL;
    const char *log_path = NULL, *plot_path = NULL;
    bp_act hidden = BP_ACT_RELU, output = BP_ACT_LINEAR;
    int output_set = 0, loss_set = 0, init_set = 0, quiet = 0, standardize = 1;
    bp_init init = BP_INIT_HE;
    bp_dtype dtype = BP_F32;
    bp_kinks kinks = {0, BP_TIE_HALF};
    spec.loss = BP_LOSS_CE;
    spec.reduction = BP_MEAN;
    double val = 0;
    long n, threads = 0;
    int arch_opts = 0, multi = 0;
    bp_multiclass_scheme scheme = BP_OVR;
    unsigned char given[O_HELP + 1] = {0};   /* which options the command line set */
    int c;
    optind = 1;
    opterr = 0;   /* bad options are reported in one line by cli_bad_option */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = data_opt(c, optarg, &dopt);
        if (r < 0) return EXIT_BAD;
        if (r) continue;
        if (c >= 0 && c <= O_HELP) given[c] = 1;
        switch (c) {
        case O_ARCH: arch = optarg; break;
        case O_MODEL: model_json = optarg; break;
        case O_HIDDEN:
            arch_opts = 1;
            if (bp_act_parse(optarg, &hidden) || hidden == BP_ACT_SOFTMAX)
                return cli_failf("--hidden: expected relu, sigmoid, tanh or linear, got '%s'", optarg);
            break;
        case O_OUTPUT:
            arch_opts = 1;
            if (bp_act_parse(optarg, &output)) return cli_failf("--output: expected softmax, sigmoid, linear, tanh or relu, got '%s'", optarg);
            output_set = 1;
            break;
        case O_LOSS:
            arch_opts = 1;
            if (bp_loss_parse(optarg, &spec.loss) || spec.loss == BP_LOSS_NONE)
                return cli_failf("--loss: expected cross_entropy, bce, squared or half_squared, got '%s'", optarg);
            loss_set = 1;
            break;
        case O_RED:
            arch_opts = 1; if (bp_reduction_parse(optarg, &spec.reduction)) return cli_failf("--reduction: expected mean or sum, got '%s'", optarg); break;
        case O_LAYOUT:
            arch_opts = 1; if (bp_layout_parse(optarg, &spec.layout)) return cli_failf("--layout: expected out_in or in_out, got '%s'", optarg); break;
        case O_INIT:
            arch_opts = 1;
            if (bp_init_parse(optarg, &init)) return cli_failf("--init: expected he, xavier or small_uniform, got '%s'", optarg);
            init_set = 1;
            break;
        case O_DTYPE: if (cli_dtype(optarg, &dtype)) return cli_failf("--dtype: expected f32 or f64, got '%s'", optarg); break;
        case O_EPOCHS: if (parse_int("--epochs", optarg, 1, &n)) return EXIT_BAD; o.epochs = (int)n; break;
        case O_BATCH: if (parse_int("--batch", optarg, 1, &n)) return EXIT_BAD; o.batch = (int)n; break;
        case O_LR: if (parse_num("--lr", optarg, 0, &o.lr)) return EXIT_BAD; break;
        case O_OPT: if (bp_optimizer_parse(optarg, &o.optimizer)) return cli_failf("--optimizer: expected sgd, momentum, nesterov or adam, got '%s'", optarg); break;
        case O_MOM: if (parse_num("--momentum", optarg, 0, &o.momentum)) return EXIT_BAD; break;
        case O_B1: if (parse_num("--beta1", optarg, 0, &o.beta1)) return EXIT_BAD; break;
        case O_B2: if (parse_num("--beta2", optarg, 0, &o.beta2)) return EXIT_BAD; break;
        case O_AEPS: if (parse_num("--adam-eps", optarg, 0, &o.adam_eps)) return EXIT_BAD; break;
        case O_WD: if (parse_num("--weight-decay", optarg, 0, &o.weight_decay)) return EXIT_BAD; break;
        case O_SCHED: if (bp_schedule_parse(optarg, &o.schedule)) return cli_failf("--schedule: expected constant, step or cosine, got '%s'", optarg); break;
        case O_STEP: if (parse_int("--step-size", optarg, 1, &n)) return EXIT_BAD; o.step_size = (int)n; break;
        case O_GAMMA: if (parse_num("--gamma", optarg, 0, &o.gamma)) return EXIT_BAD; break;
        case O_TOL: if (parse_num("--tol", optarg, 0, &o.tol)) return EXIT_BAD; break;
        case O_VAL:
            if (parse_num("--val", optarg, 0, &val)) return EXIT_BAD;
            if (val >= 1) return cli_failf("--val: expected a fraction below 1, got '%s'", optarg);
            break;
        case O_PAT: if (parse_int("--patience", optarg, 1, &n)) return EXIT_BAD; o.patience = (int)n; break;
        case O_BEST: o.keep_best = 1; break;
        case O_SEED: if (parse_int("--seed", optarg, 0, &n)) return EXIT_BAD; o.seed = (uint64_t)n; break;
        case O_RELU0: if (cli_relu_at_zero(optarg, &kinks)) return EXIT_BAD; break;
        case O_NOSHUF: o.shuffle = 0; break;
        case O_NOSTD: standardize = 0; break;
        case O_THREADS: if (parse_int("--threads", optarg, 1, &threads)) return EXIT_BAD; break;
        case O_SAVE: save = optarg; break;
        case O_CKPT: ckpt = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_LOG: log_path = optarg; break;
        case O_PLOT: plot_path = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_MULTI:
            if (bp_multiclass_scheme_parse(optarg, &scheme)) return cli_failf("--multiclass: expected ovr or ovo, got '%s'", optarg);
            multi = 1;
            break;
        case O_SHARD: o.shard = 1; break;
        case O_CHECK_REPLICAS: o.check_replicas = 1; break;
        case O_HELP: case 'h':
            if (rank == 0) { fputs(HELP, stdout); fputs(HELP2, stdout); fputs(HELP3, stdout); fputs(HELP4, stdout); }
            return 0;
        default: return cli_bad_option("train", argv);
        }
    }
    if (optind != argc) return cli_failf("train: unexpected argument '%s' (see `backprop train --help`)", argv[optind]);
    if ((o.shard || o.check_replicas) && nproc < 2)
        return cli_failf("%s: needs the processes of a data-parallel run: mpirun -np N backprop train ... (N >= 2)",
                         o.shard ? "--shard" : "--check-replicas");
    if (mpi && dopt.data && !strcmp(dopt.data, "-"))
        return cli_failf("--data -: under mpirun only process 0 reads standard input: give the data as a file");
    if (mpi && multi)
        return cli_failf("--multiclass: a set of networks is trained by one process: run it without mpirun");
    if (o.shard && !dopt.data)
        return cli_failf("--shard: each process reads its share of --data: give --data (a model file's own data is "
                         "not split)");
    if (mpi) o.reducer = bp_mpi_reducer(mpi);
    if (rank != 0) quiet = 1;   /* process 0 alone prints */

    /* Everything that can fail before training goes to `agree` below, which every process of an MPI run reaches
     * once with its outcome; the first failure's message is the one shown. */
    bp_net *net = NULL;
    bp_model *own = NULL;   /* --model F.json without --data: its data is trained on */
    bp_dataset all = {0}, train = {0}, valid = {0};
    bp_scaler scaler = {0};
    const bp_scaler *scaler_out = NULL;   /* the scaling saved with the model */
    bp_trainer *t = NULL;
    bp_error err;
    int rc = 0, resume_is_ckpt = 0;
    char ckpt_buf[4096];
    /* --resume alone: the network and the options of the run come from the checkpoint; options given anyway
     * must be the run's (a different one is refused when the checkpoint is loaded) */
    int from_ckpt = resume && !arch && !model_json;
    if (from_ckpt) {
        bp_net_spec cs;
        bp_dtype cd;
        bp_train_options co;
        bp_error e0;
        if (bp_checkpoint_info(resume, &cs, &cd, &co, &e0)) { rc = cli_fail(&e0); goto agree; }
        if (arch_opts) {
            rc = cli_failf("train: --resume takes the network from the checkpoint: --hidden, --output, --loss, "
                           "--reduction, --layout and --init do not apply");
            goto agree;
        }
        spec = cs;
        if (!given[O_DTYPE]) dtype = cd;
#define FROM(opt, field) if (!given[opt]) o.field = co.field
        FROM(O_EPOCHS, epochs); FROM(O_BATCH, batch); FROM(O_LR, lr); FROM(O_OPT, optimizer);
        FROM(O_MOM, momentum); FROM(O_B1, beta1); FROM(O_B2, beta2); FROM(O_AEPS, adam_eps);
        FROM(O_WD, weight_decay); FROM(O_SCHED, schedule); FROM(O_STEP, step_size); FROM(O_GAMMA, gamma);
        FROM(O_TOL, tol); FROM(O_PAT, patience); FROM(O_BEST, keep_best); FROM(O_SEED, seed);
        FROM(O_NOSHUF, shuffle); FROM(O_SHARD, shard);
#undef FROM
    } else if (!arch == !model_json) {
        rc = cli_failf("train: give the network with --arch SIZES or --model FILE.json (one of them), or "
                       "--resume CHECKPOINT");
        goto agree;
    }
    if (o.shard && nproc < 2) {
        rc = cli_failf("%s: the run was trained with --shard: resume it under mpirun with as many processes", resume);
        goto agree;
    }
    if (resume && !given[O_RELU0]) {   /* the convention at kinks of the run, too */
        bp_error e0;
        if (bp_checkpoint_kinks(resume, &kinks, &e0)) { rc = cli_fail(&e0); goto agree; }
    }
    if (!dopt.data && !model_json) {
        rc = cli_failf("train: no data: give --data fashion-mnist, --data FILE.csv or --data IMAGES --labels LABELS "
                       "(with --model FILE.json, the file's own data is used when --data is left out)");
        goto agree;
    }
    if (multi && (resume || model_json || log_path || plot_path || ckpt || dopt.regression)) {
        rc = cli_failf("train: --multiclass trains a set of networks of --arch on class labels: --resume, --model, "
                       "--checkpoint, --log, --plot and --regression do not apply");
        goto agree;
    }
    if (multi && kinks.relu_at_zero) {
        rc = cli_failf("train: --relu-grad-at-zero 1 does not apply to --multiclass yet: the set's networks take "
                       "relu'(0) = 0, as PyTorch");
        goto agree;
    }
    if (multi && strlen(save) >= 5 && !strcmp(save + strlen(save) - 5, ".json")) {
        rc = cli_failf("--save %s: a model set is one safetensors file (not a JSON model file)", save);
        goto agree;
    }
    const char *named[] = {save, ckpt, log_path, plot_path}, *optn[] = {"--save", "--checkpoint", "--log", "--plot"};
    for (int i = 0; i < 4; i++)
        if (named[i] && !strcmp(named[i], "-")) {
            rc = cli_failf("%s -: a file name is needed (training prints its report on standard output; "
                           "/dev/stdout if you mean it)", optn[i]);
            goto agree;
        }
    if (o.patience) o.keep_best = 1;   /* early stopping ends with the best weights */
    if ((o.patience || o.keep_best) && val <= 0) {
        rc = cli_failf("train: --patience and --keep-best need a validation split (--val F)");
        goto agree;
    }
    if (val > 0 && dopt.split == 1) {
        rc = cli_failf("train: --val holds out part of the training data; do not train on the test split");
        goto agree;
    }
    if (threads > 0) {
        bp_set_threads((int)threads);
        if (bp_threads() < threads && rank == 0)
            fprintf(stderr, "backprop: warning: --threads %ld: the memory limit (ulimit -v) leaves room for the "
                            "matrix library's work buffers of %d thread%s only; training on %d\n",
                    threads, bp_threads(), bp_threads() == 1 ? "" : "s", bp_threads());
    }
    if (!ckpt) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", save);
        ckpt = ckpt_buf;
    }
    /* resuming from the checkpoint that the run keeps writing is the usual way */
    resume_is_ckpt = resume && bp_same_file(resume, ckpt);
    const cli_file files[] = {{"--data", dopt.data, 0}, {"--labels", dopt.labels, 0}, {"--model", model_json, 0},
                              {"--resume", resume_is_ckpt ? NULL : resume, 0}, {"--save", save, 1},
                              {"--log", log_path, 1}, {"--plot", plot_path, 1},
                              {ckpt == ckpt_buf ? "--checkpoint (by default SAVE.ckpt)" : "--checkpoint", ckpt, 1}};
    if ((rc = cli_distinct(files, (int)(sizeof files / sizeof *files)))) goto agree;

    /* the network */
    if (!from_ckpt && dopt.regression && !loss_set) spec.loss = BP_LOSS_SQUARED;
    if (multi && !loss_set) spec.loss = BP_LOSS_BCE;   /* the binary networks' loss */
    if (model_json && arch_opts) {
        rc = cli_failf("train: --model takes the architecture from the file: --hidden, --output, --loss, --reduction, "
                       "--layout and --init do not apply");
        goto agree;
    }
    if (model_json) {
        bp_model *model = NULL;
        if (bp_model_read(model_json, dtype, &model, &err)) { rc = cli_fail(&err); goto agree; }
        if (bp_net_clone(bp_model_net(model), dtype, &net, &err)) { bp_model_free(model); rc = cli_fail(&err); goto agree; }
        if (dopt.data) bp_model_free(model);
        else own = model;
        if (bp_net_get_spec(net)->loss == BP_LOSS_NONE) {
            rc = cli_failf("%s: no \"loss\": training needs one", model_json);
            goto agree;
        }
    } else if (from_ckpt) {
        if (bp_net_new(&spec, dtype, &net, &err)) { rc = cli_fail(&err); goto agree; }   /* the checkpoint's weights replace these */
    } else {
        if ((rc = parse_arch(arch, &spec))) goto agree;
        if (!output_set) output = spec.loss == BP_LOSS_CE ? BP_ACT_SOFTMAX : spec.loss == BP_LOSS_BCE ? BP_ACT_SIGMOID : BP_ACT_LINEAR;
        for (int l = 0; l < spec.nlayers; l++) {
            spec.layers[l].act = l == spec.nlayers - 1 ? output : hidden;
            spec.layers[l].bias = 1;
        }
        if (!init_set) init = hidden == BP_ACT_RELU ? BP_INIT_HE : BP_INIT_XAVIER;
        if (bp_net_new(&spec, dtype, &net, &err)) { rc = cli_failf("--arch/--loss/--output: %s", err.msg); goto agree; }
        bp_net_init(net, init, o.seed);
    }
    /* a network gradient descent cannot move (step units, the 0-1 loss) is refused before any data is read */
    if (bp_net_spec_trainable(bp_net_get_spec(net), &err)) {
        rc = cli_failf("%s: %s", model_json ? model_json : from_ckpt ? resume : "--hidden/--output/--loss", err.msg);
        goto agree;
    }

    /* the data (with --shard, this process's rows only): shuffled once with the seed, split, standardised on the
     * training part */
    if (o.shard) {
        dopt.shard_index = rank;
        dopt.shard_count = nproc;
    }
    const char *ddesc = own ? model_json : data_describe(&dopt, DATA_TRAIN);
    if (own) {
        if (bp_model_dataset(own, &all, &err)) { rc = cli_failf("%s: %s", model_json, err.msg); goto agree; }
    } else if ((rc = data_load(&dopt, DATA_TRAIN, NULL, NULL, &all))) {
        goto agree;
    }
    if (all.outputs == 0) { rc = cli_failf("%s: no targets to train on", ddesc); goto agree; }
    if (all.labels && all.n > 1 && rank == 0 && !o.shard) {   /* a shard is not the data */
        int one = 1;
        for (int i = 1; i < all.n && one; i++) one = all.labels[i] == all.labels[0];
        if (one)
            fprintf(stderr, "backprop: warning: %s: every sample has the label %d: with one class there is nothing to "
                            "tell apart (is --label-col right?)\n", ddesc, all.labels[0]);
    }
    if (multi) {   /* the data's own split and scaling, then the set (one process: refused under mpirun) */
        rc = train_multiclass(&spec, dtype, init, scheme, &o, &dopt, &all, val, standardize, save, quiet);
        goto out;
    }
    if (bp_net_outputs(net) == 1 && all.nclasses == 2 && all.outputs == 2) {
        /* one sigmoid output for two classes: the target is the label itself */
        for (int i = 0; i < all.n; i++) all.y[i] = (float)all.labels[i];
        all.outputs = 1;
    }
    if (val > 0) {
        bp_dataset_shuffle(&all, o.seed);
        if (bp_dataset_split(&all, val, &train, &valid, &err)) { rc = cli_fail(&err); goto agree; }
        if (valid.n == 0) {
            rc = cli_failf("--val %g of %d samples leaves no validation samples%s", val, all.n,
                           o.shard ? " in this process's shard" : "");
            goto agree;
        }
        bp_dataset_free(&all);
    } else {
        train = all;
        memset(&all, 0, sizeof all);
    }
    if (train.features != bp_net_get_spec(net)->inputs) {
        rc = cli_failf("%s: the data has %d features, the network %d inputs", ddesc, train.features,
                       bp_net_get_spec(net)->inputs);
        goto agree;
    }
    if (train.outputs != bp_net_outputs(net)) {
        if (train.nclasses)
            rc = cli_failf("%s: the data has %d classes, the network %d output%s: a classifier has one output per "
                           "class (or one sigmoid output for two classes), so end --arch with %d",
                           ddesc, train.nclasses, bp_net_outputs(net),
                           bp_net_outputs(net) == 1 ? "" : "s", train.nclasses);
        else
            rc = cli_failf("%s: the data has %d target column%s, the network %d output%s",
                           ddesc, train.outputs, train.outputs == 1 ? "" : "s", bp_net_outputs(net),
                           bp_net_outputs(net) == 1 ? "" : "s");
        goto agree;
    }
    rc = agreed(mpi, rc);   /* every process has its data: from here on they work in step */
    if (rc) goto out;

    /* the inputs' scaling, recorded in the model so that eval and predict apply it to the data as the user
     * has it: CSV features standardised (with --shard, on the rows of every process); IDX pixels divided by 255
     * (the loader did it) */
    const bp_reducer *shards = o.shard ? o.reducer : NULL;
    if (own) {
        /* the file's data is already as the network sees it (bp_model_dataset): its scaler stays the model's */
    } else if (data_is_csv(&dopt)) {
        if (standardize && (bp_scaler_fit_shards(&scaler, &train, shards, &err) || bp_scaler_apply(&scaler, &train, &err) ||
                            (valid.n && bp_scaler_apply(&scaler, &valid, &err)))) { rc = cli_fail(&err); goto agree; }
    } else {
        scaler.divide = 255;
    }
    if (!own && bp_scaler_note_range_shards(&scaler, &train, shards, &err)) { rc = cli_fail(&err); goto agree; }
    scaler_out = own ? bp_model_scaler(own) : scaler.features ? &scaler : NULL;
    /* the classes' names (a CSV's label names, a named dataset's) go into the model */
    if (train.class_names && bp_net_set_class_names(net, train.class_names, train.nclasses, &err)) {
        rc = cli_failf("%s: %s", ddesc, err.msg);
        goto agree;
    }

    /* train */
    /* under mpirun, standard output is a pseudo-terminal whatever mpirun's is: one line per epoch */
    progress pr = {!mpi && isatty(STDOUT_FILENO), quiet, 0, NULL};
    epoch_saver saver = {ckpt, NULL, nproc, 0, 0};
    o.on_batch = on_batch;
    o.on_epoch = on_epoch;
    o.user = &pr;
    o.stop = &g_stop;
    if (mpi && rank == 0) {   /* a checkpoint after every epoch: a run of many processes may lose one */
        saver.scaler = scaler_out;
        pr.saver = &saver;
        o.on_checkpoint = save_each_epoch;
    }
    bp_net_set_kinks(net, &kinks);
    if (bp_trainer_new(net, &o, &t, &err)) { rc = cli_fail(&err); goto agree; }
    if (resume && bp_trainer_load(t, resume, &err)) { rc = cli_fail(&err); goto agree; }
    if (resume && mpi) saver.epoch = bp_trainer_history(t, &(const bp_epoch_stats *){0});
    if (rank == 0) set_gone_msg(resume ? resume : ckpt, resume ? saver.epoch : 0, nproc);   /* the others leave silently */
agree:
    rc = agreed(mpi, rc);
    if (rc) goto out;
    double rows[2] = {train.n, valid.n};   /* with --shard, each process has its own */
    if (o.shard && o.reducer->allreduce(o.reducer->ctx, rows, 2, BP_REDUCE_SUM, &err)) { rc = cli_fail(&err); goto out; }
    if (!quiet) {
        const bp_net_spec *s = bp_net_get_spec(net);
        printf("training %d", s->inputs);
        for (int l = 0; l < s->nlayers; l++) printf("-%d", s->layers[l].units);
        /* two short lines rather than one that wraps in 80 columns */
        printf(": %s hidden, %s output, %s loss%s\n", s->nlayers > 1 ? bp_act_name(s->layers[0].act) : "no",
               bp_act_name(s->layers[s->nlayers - 1].act), bp_loss_name(s->loss),
               kinks.relu_at_zero ? ", relu'(0) = 1" : "");
        printf("  on %.0f sample%s%s, %s, batch %d, lr %g, %d epoch%s%s\n", rows[0], rows[0] == 1 ? "" : "s",
               rows[1] ? " (+ validation)" : "", bp_optimizer_name(o.optimizer), o.batch, o.lr, o.epochs,
               o.epochs == 1 ? "" : "s", resume ? ", resumed" : "");
        if (mpi)
            printf("  data-parallel on %d processes (MPI): %s\n", nproc,
                   o.shard ? "each trains on its own rows (--shard)" : "each computes its share of every batch");
        fflush(stdout);
    }
    if (mpi) {
        signal(SIGINT, on_stop_mpi);
        signal(SIGTERM, on_stop_mpi);
        signal(SIGALRM, on_gone_timer);
    } else {
        signal(SIGINT, on_sigint);
    }
    bp_status st = bp_trainer_run(t, &train, valid.n ? &valid : NULL, &err);
    if (mpi) {   /* every process is here: the run ended by itself, no timer speaks for it */
        g_run_over = 1;
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        signal(SIGTERM, SIG_DFL);
    }
    signal(SIGINT, SIG_DFL);
    if (!quiet && pr.tty) {   /* end the bar's line before any message */
        printf("\r\033[K");
        fflush(stdout);
    }
    if (st == BP_E_INTERRUPTED) {
        bp_error e2;
        if (rank != 0) rc = 130;
        else if (bp_trainer_save(t, scaler_out, ckpt, &e2)) rc = cli_fail(&e2);
        else {
            char how[64] = "";
            if (mpi) snprintf(how, sizeof how, "mpirun -np %d backprop train ", nproc);
            fprintf(stderr, "backprop: %s; checkpoint saved to %s (continue with %s--resume %s)\n", err.msg, ckpt, how,
                    ckpt);
            rc = 130;
        }
        goto out;
    }
    if (st == BP_E_DIVERGED) {
        if (rank == 0) fprintf(stderr, "backprop: %s\n", err.msg);
        rc = EXIT_WRONG;
    } else if (st) {
        rc = cli_fail(&err);   /* the same error on every process: process 0 prints it */
        goto out;
    }
    if (rank == 0) rc = finish_run(t, net, &o, scaler_out, classifier_data(&train), save, log_path, plot_path, quiet,
                                   st, resume_is_ckpt || (mpi && st == BP_OK) ? ckpt : NULL, resume_is_ckpt);
    rc = agreed(mpi, rc);
out:
    bp_trainer_free(t);
    bp_dataset_free(&all);
    bp_dataset_free(&train);
    bp_dataset_free(&valid);
    bp_scaler_free(&scaler);
    bp_net_free(net);
    bp_model_free(own);
    return rc;
}
