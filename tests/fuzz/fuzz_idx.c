/* fuzz_idx.c - IDX images and labels, plain or gzip (bp_idx_load).
 *   byte 0 even: images only, the rest is the images file;
 *   byte 0 odd:  images + labels; bytes 1-2 (little-endian) are the length of
 *                the images file (clamped), which follows, then the labels file. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *images, *labels = NULL;
    if (!(data[0] & 1)) {
        images = fuzz_write(0, "images.idx", data + 1, size - 1);
    } else {
        if (size < 3) return 0;
        size_t rest = size - 3, k = (size_t)data[1] | (size_t)data[2] << 8;
        if (k > rest) k = rest;
        images = fuzz_write(0, "images.idx", data + 3, k);
        labels = fuzz_write(1, "labels.idx", data + 3 + k, rest - k);
    }
    bp_dataset d = {0};
    bp_error err;
    fuzz_note("bp_idx_load", bp_idx_load(images, labels, &d, &err), &err);
    bp_dataset_free(&d);
    return 0;
}
