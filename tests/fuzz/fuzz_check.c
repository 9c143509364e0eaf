/* fuzz_check.c - formulas for `backprop check`, ASCII and LaTeX: byte 0
 * chooses the model (bits 0-1: a 2-3-1 sigmoid/linear net with biases and
 * squared loss, out_in; a 3-4-3-3 sigmoid/softmax net with cross-entropy and
 * no biases; a 4-3-2-1 ReLU net without biases, in_out, half squared loss
 * over 2 samples) and where the samples are (bits 2-3: the layout, rows,
 * columns); the rest is one formula line, given to bp_check_add (lines
 * "A = B = C" become several), then bp_check_run with 2 redraws and both
 * writers, and, cut at its first '=', to bp_check_jacobian as the two names
 * (of, wrt), the bad ones being refused. */
#include "fuzz_common.h"
#include "fixed_models.h"

static const char FIXED_RELU[] =
    "{\"inputs\": 4, \"weight_layout\": \"in_out\", \"layers\": ["
    "{\"units\": 3, \"activation\": \"relu\", \"bias\": false,"
    " \"W\": [[0.5, -0.3, 0.2], [-0.2, 0.4, 0.1], [0.1, 0.6, -0.5], [0.4, -0.1, 0.3]]},"
    "{\"units\": 2, \"activation\": \"relu\", \"bias\": false, \"W\": [[0.6, -0.4], [-0.5, 0.2], [0.3, 0.7]]},"
    "{\"units\": 1, \"activation\": \"linear\", \"bias\": false, \"W\": [[1.2], [-0.8]]}],"
    " \"loss\": \"half_squared\", \"reduction\": \"mean\","
    " \"data\": {\"x\": [[1.0, 2.0, -1.0, 0.5], [0.5, -1.0, 2.0, 1.0]], \"y\": [[1.0], [-0.5]]}}";
static const char *const models[3] = {FIXED_Q12, FIXED_SOFTMAX, FIXED_RELU};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int k = data[0] & 3;
    bp_samples samples = (bp_samples)((data[0] >> 2) & 3);
    if (k == 3) k = 0;
    if (samples > BP_SAMPLES_COLUMNS) samples = BP_SAMPLES_LAYOUT;
    char *text = fuzz_strdup(data + 1, size - 1);
    bp_model *m = NULL;
    bp_check *c = NULL;
    bp_error err;
    if (bp_model_parse(models[k], strlen(models[k]), "fixed.json", BP_F64, &m, &err) != BP_OK ||
        bp_check_new(m, samples, 2, 1, &c, &err) != BP_OK) {
        fprintf(stderr, "fuzz_check: fixed model %d: %s\n", k, err.msg);
        abort();
    }
    int where = -1;
    if (fuzz_note("bp_check_add", bp_check_add(c, text, 1, &where, &err), &err) == BP_OK &&
        fuzz_note("bp_check_run", bp_check_run(c, &err), &err) == BP_OK) {
        FILE *out = fuzz_devnull();
        for (int i = 0; i < bp_check_count(c); i++) {
            bp_check_result r;
            if (bp_check_result_get(c, i, &r) != BP_OK) abort();
        }
        bp_check_write_text(c, out, &err);
        bp_check_write_json(c, out, &err);
    }
    bp_check_free(c);
    char *eq = strchr(text, '=');
    if (eq) {
        *eq = '\0';
        fuzz_note("bp_check_jacobian", bp_check_jacobian(m, samples, text, eq + 1, 0, data[0] >> 4 & 1, fuzz_devnull(), &err),
                  &err);
    }
    bp_model_free(m);
    free(text);
    return 0;
}
