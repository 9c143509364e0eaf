/* bench/mpi/bp_dp.c - backprop's data-parallel training speed under mpirun.
 *
 *   mpirun -np N bp_dp ARCH BATCH STEPS [REPEAT]      (ARCH like 784-256-128-10)
 *
 * One model, f32, ReLU hidden layers, softmax + cross-entropy (mean), SGD
 * momentum 0.9, through bp_trainer_run with the MPI reducer, on synthetic
 * data (uniform pixels in [0, 1), random labels): an epoch is STEPS steps of
 * the global batch BATCH, each process computing its share. The first epoch
 * warms up (buffers, the persistent requests); the second is measured.
 * Process 0 prints one JSON line: samples/s = BATCH x STEPS / the epoch's
 * training seconds, split into compute (the rest), allreduce (inside MPI's
 * start and progress calls of the gradients' sums), waiting (blocked until
 * the sums are complete) and small (the step's blocking reduction of loss,
 * counts and flags, which also waits for the slowest process). Each process
 * runs one thread (OPENBLAS_NUM_THREADS=1, set by run.sh). allocs_per_step:
 * the library's heap allocations (alloc_count.h: linked with --wrap=malloc...)
 * from the end of the measured epoch's first step to its last, per step; MPI's
 * own, inside libmpi.so, are not seen (its persistent requests are made once). */
#include "backprop.h"
#include "../alloc_count.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct marks {
    bp_mpi *mpi;
    double t[2][3];   /* MPI times at the end of epochs 1 and 2: calls, waiting, small */
    long a0, a1;      /* allocations after the first and the last step of epoch 2 */
    int steps;
} marks;

static void on_batch(void *user, const bp_batch_progress *p)
{
    marks *m = user;
    if (p->epoch != 2) return;
    if (p->batch == 1) { counting = 1; m->a0 = n_alloc; }
    if (p->batch == p->batches) { m->a1 = n_alloc; m->steps = p->batches - 1; counting = 0; }
}

static void on_epoch(void *user, const bp_epoch_stats *s)
{
    marks *m = user;
    if (s->epoch <= 2) bp_mpi_times(m->mpi, &m->t[s->epoch - 1][0], &m->t[s->epoch - 1][1], &m->t[s->epoch - 1][2], NULL);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: mpirun -np N bp_dp ARCH BATCH STEPS [REPEAT]\n");
        return 2;
    }
    bp_error err;
    bp_mpi *mpi = NULL;
    if (bp_mpi_init(&argc, &argv, &mpi, &err)) { fprintf(stderr, "%s\n", err.msg); return 2; }
    int rank = bp_mpi_rank(mpi), size = bp_mpi_size(mpi);
    int batch = atoi(argv[2]), steps = atoi(argv[3]), repeat = argc > 4 ? atoi(argv[4]) : 1;
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    char arch[128];
    snprintf(arch, sizeof arch, "%s", argv[1]);
    int sizes[BP_MAX_LAYERS + 1] = {0}, n = 0;
    for (char *p = strtok(arch, "-"); p && n <= BP_MAX_LAYERS; p = strtok(NULL, "-")) sizes[n++] = atoi(p);
    s.inputs = sizes[0];
    s.nlayers = n - 1;
    for (int l = 0; l < n - 1; l++) s.layers[l] = (bp_layer_spec){.units = sizes[l + 1], .act = l == n - 2 ? BP_ACT_SOFTMAX : BP_ACT_RELU, .bias = 1};
    s.loss = BP_LOSS_CE;
    s.reduction = BP_MEAN;
    int K = sizes[n - 1], F = s.inputs, rows = batch * steps;
    bp_dataset d;
    memset(&d, 0, sizeof d);
    d.n = rows;
    d.features = F;
    d.outputs = K;
    d.nclasses = K;
    d.x = malloc((size_t)rows * F * sizeof *d.x);
    d.y = calloc((size_t)rows * K, sizeof *d.y);
    d.labels = malloc((size_t)rows * sizeof *d.labels);
    unsigned long long r = 88172645463325252ULL;   /* the same data on every process (xorshift64) */
    for (size_t i = 0; i < (size_t)rows * F; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        d.x[i] = (float)((r >> 40) / 16777216.0);
    }
    for (int i = 0; i < rows; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        d.labels[i] = (int)(r % (unsigned)K);
        d.y[(size_t)i * K + d.labels[i]] = 1;
    }
    /* Open MPI's choice of nonblocking allreduce, if forced (run.sh tries the ring: 1) */
    const char *alg = getenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm"), *thr = getenv("BP_MPI_PROGRESS_THREAD");
    for (int rep = 0; rep < repeat; rep++) {
        bp_net *net;
        if (bp_net_new(&s, BP_F32, &net, &err)) { fprintf(stderr, "%s\n", err.msg); return 2; }
        bp_net_init(net, BP_INIT_HE, 1);
        bp_train_options o;
        bp_train_options_init(&o);
        o.epochs = 2;
        o.batch = batch;
        o.lr = 0.01;
        o.optimizer = BP_OPT_MOMENTUM;
        o.reducer = bp_mpi_reducer(mpi);
        marks mk = {mpi, {{0}}, 0, 0, 0};
        o.on_epoch = on_epoch;
        o.on_batch = on_batch;
        o.user = &mk;
        bp_trainer *t;
        if (bp_trainer_new(net, &o, &t, &err) || bp_trainer_run(t, &d, NULL, &err)) {
            fprintf(stderr, "process %d: %s\n", rank, err.msg);
            bp_mpi_abort(mpi, 2);
        }
        const bp_epoch_stats *h;
        bp_trainer_history(t, &h);
        double secs = h[1].seconds, calls = mk.t[1][0] - mk.t[0][0], wait = mk.t[1][1] - mk.t[0][1],
               small = mk.t[1][2] - mk.t[0][2];
        if (rank == 0)
            printf("{\"tool\": \"backprop\", \"arch\": \"%s\", \"np\": %d, \"batch\": %d, \"steps\": %d, "
                   "\"kernel\": \"%s\", \"seconds\": %.6f, \"samples_per_s\": %.1f, \"compute_s\": %.6f, "
                   "\"allreduce_s\": %.6f, \"wait_s\": %.6f, \"small_s\": %.6f, \"params\": %zu, "
                   "\"allocs_per_step\": %.3f, \"iallreduce\": \"%s\", \"progress_thread\": %d}\n",
                   argv[1], size, batch, steps, bp_matmul_kernel(), secs, rows / secs, secs - calls - wait - small,
                   calls, wait, small, bp_net_nparams(net), mk.steps ? (double)(mk.a1 - mk.a0) / mk.steps : 0.0,
                   alg ? alg : "default", !(thr && !strcmp(thr, "0")));
        fflush(stdout);
        bp_trainer_free(t);
        bp_net_free(net);
    }
    bp_dataset_free(&d);
    bp_mpi_finalize(mpi);
    return 0;
}
