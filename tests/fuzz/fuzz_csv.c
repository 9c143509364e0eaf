/* fuzz_csv.c - CSV datasets (bp_csv_load).  The first two bytes choose the
 * options, the rest is the file:
 *   byte 0: bits 0-1 header (auto, yes, no, auto), bits 2-3 target (classes,
 *           regression, unlabeled, classes with K given), bits 4-6 label_col
 *           (-3..4)
 *   byte 1: bits 0-2 delimiter (default, ',', ';', tab, ' ', '|', ':', ','),
 *           bits 3-4 ntargets (0..3), bits 5-7 nclasses (0..7, with K given)
 * A dataset that loads is also split and standardised. */
#include "fuzz_common.h"

static const char delims[8] = {0, ',', ';', '\t', ' ', '|', ':', ','};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    bp_csv_options o;
    bp_csv_options_init(&o);
    uint8_t b0 = data[0], b1 = data[1];
    int hdr = b0 & 3, tgt = (b0 >> 2) & 3;
    o.header = hdr == 1 ? BP_CSV_HEADER_YES : hdr == 2 ? BP_CSV_HEADER_NO : BP_CSV_HEADER_AUTO;
    o.target = tgt == 1 ? BP_CSV_REGRESSION : tgt == 2 ? BP_CSV_UNLABELED : BP_CSV_CLASSES;
    o.label_col = ((b0 >> 4) & 7) - 3;
    o.delim = delims[b1 & 7];
    o.ntargets = (b1 >> 3) & 3;
    if (tgt == 3) o.nclasses = b1 >> 5;
    const char *path = fuzz_write(0, "data.csv", data + 2, size - 2);
    bp_dataset d = {0};
    bp_error err;
    if (fuzz_note("bp_csv_load", bp_csv_load(path, &o, &d, &err), &err) == BP_OK) {
        bp_dataset tr = {0}, va = {0};
        if (bp_dataset_split(&d, 0.25, &tr, &va, &err) == BP_OK) {
            bp_scaler s = {0};
            if (bp_scaler_fit(&s, &tr, &err) == BP_OK) {
                bp_scaler_apply(&s, &tr, &err);
                bp_scaler_apply(&s, &va, &err);
            }
            bp_scaler_free(&s);
        }
        bp_dataset_free(&tr);
        bp_dataset_free(&va);
    }
    bp_dataset_free(&d);
    return 0;
}
