/* gen_checkpoint.c - writes the seed checkpoints of corpus/fuzz_checkpoint:
 * the run of checkpoint_setup.h interrupted in the middle of epoch 2, and
 * the same run finished.  Not a fuzz target; built by tests/fuzz/CMakeLists.txt.
 * Usage: gen_checkpoint DIR */
#include "checkpoint_setup.h"

#include <stdio.h>
#include <string.h>

typedef struct { volatile int *stop; int at; int seen; } stopper;

static void on_batch(void *user, const bp_batch_progress *p)
{
    stopper *s = user;
    (void)p;
    if (++s->seen == s->at) *s->stop = 1;
}

static int write_one(const char *dir, const char *name, int interrupt_at)
{
    bp_net *net = ck_net();
    bp_train_options o;
    ck_options(&o);
    volatile int stop = 0;
    stopper st = {&stop, interrupt_at, 0};
    if (interrupt_at) {
        o.stop = &stop;
        o.on_batch = on_batch;
        o.user = &st;
    }
    bp_trainer *t = NULL;
    bp_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bp_dataset d = ck_data();
    bp_status s = net ? bp_trainer_new(net, &o, &t, &err) : BP_E_NOMEM;
    if (s == BP_OK) s = bp_trainer_run(t, &d, &d, &err);
    if (s == BP_OK || s == BP_E_INTERRUPTED) s = bp_trainer_save(t, NULL, path, &err);
    if (s != BP_OK) fprintf(stderr, "gen_checkpoint: %s: %s\n", path, err.msg);
    bp_trainer_free(t);
    bp_net_free(net);
    return s != BP_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_checkpoint DIR\n");
        return 2;
    }
    return write_one(argv[1], "interrupted.safetensors", 3) | write_one(argv[1], "finished.safetensors", 0);
}
