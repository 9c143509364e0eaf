/* fuzz_safetensors.c - safetensors model files (bp_net_load), read as f32
 * with the scaler and as f64 without; a small net that loads runs one
 * forward pass on a row of zeros.  An input whose checksum does not match its
 * tensor bytes is run a second time with the checksum made right. */
#include "fuzz_common.h"

static void forward_zeros(bp_net *net)
{
    const bp_net_spec *s = bp_net_get_spec(net);
    if (bp_net_nparams(net) > 100000 || s->inputs > 100000) return;
    float *x = calloc((size_t)s->inputs, sizeof *x);
    if (!x) abort();
    bp_mat xm = {1, s->inputs, BP_F32, x};
    bp_error err;
    bp_net_forward(net, &xm, &err);
    free(x);
}

static void load(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "model.safetensors", data, size);
    bp_error err;
    bp_net *net = NULL;
    bp_scaler sc;
    if (fuzz_note("bp_net_load f32", bp_net_load(path, BP_F32, &net, &sc, &err), &err) == BP_OK) {
        forward_zeros(net);
        bp_net_free(net);
    }
    bp_scaler_free(&sc);
    net = NULL;
    if (fuzz_note("bp_net_load f64", bp_net_load(path, BP_F64, &net, NULL, &err), &err) == BP_OK) {
        forward_zeros(net);
        bp_net_free(net);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);
    uint8_t *fixed = fuzz_fix_crc(data, size);
    if (fixed) {
        load(fixed, size);
        free(fixed);
    }
    return 0;
}
