/* fuzz_csv.c - CSV datasets (bp_csv_load).  The first two bytes choose the
 * options, the rest is the file:
 *   byte 0: bits 0-1 header (auto, yes, no, auto), bits 2-3 target (classes,
 *           regression, unlabeled, classes with K given), bits 4-6 label_col
 *           (-3..4)
 *   byte 1: bits 0-2 delimiter (default, ',', ';', tab, ' ', '|', ':', ','),
 *           bits 3-4 ntargets (0..3), bits 5-7 nclasses (0..7, with K given)
 * When bit 7 of byte 0 is set, byte 2 adds one option (bits 0-1): the class
 * names "a", "b", "c" (K = 3, classification), the target dropped
 * (BP_CSV_DROP), the label column named "y", or features = bits 2-4 of it;
 * the file then starts at byte 3.
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
    size_t skip = 2;
    static const char *const abc[] = {"a", "b", "c"};
    if (b0 & 0x80) {
        if (size < 3) return 0;
        int mode = data[2] & 3;
        if (mode == 0) {
            o.target = BP_CSV_CLASSES;
            o.class_names = abc;
            o.nclasses = 3;
        } else if (mode == 1) {
            o.target = BP_CSV_DROP;
        } else if (mode == 2) {
            o.label_name = "y";
        } else {
            o.features = (data[2] >> 2) & 7;
        }
        skip = 3;
    }
    const char *path = fuzz_write(0, "data.csv", data + skip, size - skip);
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
