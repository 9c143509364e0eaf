/* fuzz_csv_matrix.c - CSV matrices (bp_csv_read_matrix: --x / --y files). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, "matrix.csv", data, size);
    bp_mat m = {0};
    bp_error err;
    if (fuzz_note("bp_csv_read_matrix", bp_csv_read_matrix(path, &m, &err), &err) == BP_OK) {
        double s = 0;
        for (int i = 0; i < m.rows; i++)
            for (int j = 0; j < m.cols; j++) s += bp_mat_get(&m, i, j);
        (void)s;
        free(m.data);
    }
    return 0;
}
