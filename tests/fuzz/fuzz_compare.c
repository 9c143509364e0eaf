/* fuzz_compare.c - `--compare` files (bp_compare) against two small fixed
 * models after bp_model_pass: examples/q12.json (squared loss, sum) and
 * examples/softmax_ce_nobias.json (softmax + cross-entropy, no biases), so
 * that both the plain checks and the slip detectors run; and the same file
 * as a `step --compare` file (bp_steps_compare) against two momentum steps
 * of each model. */
#include "fuzz_common.h"
#include "fixed_models.h"

static const char *const models[2] = {FIXED_Q12, FIXED_SOFTMAX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "mine.json", data, size);
    for (int k = 0; k < 2; k++) {
        bp_model *m = NULL;
        bp_error err;
        double loss;
        if (bp_model_parse(models[k], strlen(models[k]), "fixed.json", BP_F64, &m, &err) != BP_OK ||
            bp_model_pass(m, &loss, &err) != BP_OK) {
            fprintf(stderr, "fuzz_compare: fixed model %d: %s\n", k, err.msg);
            abort();
        }
        int right = -1;
        fuzz_note("bp_compare", bp_compare(m, loss, path, 1e-4, fuzz_devnull(), &right, &err), &err);
        bp_train_options o;
        bp_train_options_init(&o);
        o.optimizer = BP_OPT_MOMENTUM;
        o.lr = 0.01;
        bp_steps *s = NULL;
        if (bp_model_steps(m, &o, 2, &s, &err) != BP_OK) {
            fprintf(stderr, "fuzz_compare: steps of fixed model %d: %s\n", k, err.msg);
            abort();
        }
        fuzz_note("bp_steps_compare", bp_steps_compare(s, path, 1e-4, fuzz_devnull(), &right, &err), &err);
        bp_steps_free(s);
        bp_model_free(m);
    }
    return 0;
}
