/* nn/trainer.h - the layout of bp_trainer, shared by the training loop
 * (train.c) and its checkpoints (checkpoint.c). Users see only the opaque
 * bp_trainer. Not part of the public API. */
#ifndef BP_NN_TRAINER_H
#define BP_NN_TRAINER_H

#include "nn/optim.h"

/* Why a run ended (bp_trainer_stop_reason); a checkpoint stores one of these. */
#define STOP_TOL "tol (the change in loss fell below the tolerance)"
#define STOP_EARLY "early stopping (validation loss did not improve)"
extern const char *const bp_stop_reasons[];
extern const int bp_nstop_reasons;

struct bp_trainer {
    bp_net *net;
    bp_train_options o;
    size_t np;
    bp_optim opt;             /* optimizer state (optim.h)                       */
    int resume_n;             /* samples of the run a checkpoint came from       */
    void *best;               /* parameters of the best validation loss          */
    int epoch;                /* epochs completed                                */
    int batch_pos;            /* batches completed in the current epoch          */
    double ep_loss, ep_correct, ep_seen, ep_seconds;   /* partial-epoch sums      */
    double prev_loss, best_val;
    int bad_epochs, has_best, done;
    bp_epoch_stats *hist;
    int nhist;
    const char *stop_reason;
    int *perm;
    float *yb;                /* the batch's targets                             */
    int perm_n, buf_m, perm_epoch;
    /* the data of the last bp_trainer_run, for checkpoints: a CRC-32 of the
     * training and validation x and y, and the training samples */
    int has_run, crc_n;
    unsigned long data_crc;
    int resume_crc_set;        /* a loaded checkpoint's data CRC must match   */
    unsigned long resume_crc;
    /* a data-parallel run (o.reducer with more than one process, train.c) */
    int resume_procs;          /* processes of a loaded checkpoint's run (1: one) */
    int agreed_stop;           /* the stop flag as reduced at the last step    */
    int *counts;               /* --shard: the training rows of every process  */
    int ncounts;
};

/* The reducer of a data-parallel run: o->reducer when it joins more than one
 * process, else NULL (train.c, checkpoint.c). */
static inline const bp_reducer *bp_trainer_reducer(const bp_trainer *t)
{
    return t->o.reducer && t->o.reducer->size > 1 ? t->o.reducer : NULL;
}

/* The CRC-32 of a run's data (train.c): train and val (may be NULL). */
unsigned long bp_trainer_data_crc(const bp_dataset *train, const bp_dataset *val);

#endif
