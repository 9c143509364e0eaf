/* fuzz_checkpoint.c - checkpoints (bp_trainer_load) into a trainer made for
 * the fixed run of checkpoint_setup.h; a checkpoint that loads is resumed
 * (bp_trainer_run on the four XOR rows, at most 3 epochs of 2 batches), so
 * the restored position, sums and history are used too.  An input whose
 * checksum does not match its tensor bytes is run a second time with the
 * checksum made right. */
#include "fuzz_common.h"
#include "checkpoint_setup.h"

static void resume(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "checkpoint.safetensors", data, size);
    bp_net *net = ck_net();
    if (!net) abort();
    bp_train_options o;
    ck_options(&o);
    bp_trainer *t = NULL;
    bp_error err;
    if (bp_trainer_new(net, &o, &t, &err) != BP_OK) abort();
    if (fuzz_note("bp_trainer_load", bp_trainer_load(t, path, &err), &err) == BP_OK) {
        bp_dataset d = ck_data();
        fuzz_note("bp_trainer_run", bp_trainer_run(t, &d, &d, &err), &err);
        const bp_epoch_stats *h;
        (void)bp_trainer_history(t, &h);
        (void)bp_trainer_stop_reason(t);
    }
    bp_trainer_free(t);
    bp_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resume(data, size);
    uint8_t *fixed = fuzz_fix_crc(data, size);
    if (fixed) {
        resume(fixed, size);
        free(fixed);
    }
    return 0;
}
