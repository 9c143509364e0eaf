/* fuzz_model.c - JSON model files: bp_model_parse from memory (f64) and
 * bp_model_load from a file (f32); a model that parses and is small goes
 * through one pass and the reports written from it (grad JSON and text,
 * explain, gradcheck), all into /dev/null. */
#include "fuzz_common.h"

/* Small enough that a pass and the reports stay fast. */
static int small(bp_model *m, long max_params)
{
    bp_mat x, y;
    if (!bp_model_data(m, &x, &y)) return 0;
    return (long)bp_net_nparams(bp_model_net(m)) <= max_params && (long)x.rows * x.cols <= 4096;
}

static void exercise(bp_model *m, int variant)
{
    if (!small(m, 4096)) return;
    bp_error err;
    double loss = 0;
    FILE *out = fuzz_devnull();
    if (fuzz_note("bp_model_pass", bp_model_pass(m, &loss, &err), &err) == BP_OK) {
        bp_write_grad_json(m, loss, out, &err);
        bp_write_grad_text(m, loss, out, &err);
    }
    bp_explain(m, (bp_format)(variant % 3), variant & 4 ? 0 : -1, out, &err);
    if (small(m, 64)) {
        double worst;
        bp_gradcheck(m, 1e-6, out, &worst, &err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_error err;
    bp_model *m = NULL;
    if (fuzz_note("bp_model_parse", bp_model_parse((const char *)data, size, "fuzz.json", BP_F64, &m, &err), &err) == BP_OK) {
        exercise(m, (int)(size % 8));
        bp_model_free(m);
    }
    m = NULL;
    const char *path = fuzz_write(0, "model.json", data, size);
    if (fuzz_note("bp_model_load", bp_model_load(path, BP_F32, &m, &err), &err) == BP_OK) {
        bp_mat x, y;
        double loss;
        if (small(m, 4096)) bp_model_pass(m, &loss, &err);
        (void)bp_model_data(m, &x, &y);
        bp_model_free(m);
    }
    return 0;
}
