/* core/mat.c - element types and matrix views: a bp_mat never owns its data. */
#include "core/mat.h"

const char *bp_dtype_name(bp_dtype t) { return t == BP_F64 ? "f64" : "f32"; }

double bp_mat_get(const bp_mat *m, int i, int j)
{
    size_t k = (size_t)i * m->cols + j;
    return m->dtype == BP_F64 ? ((const double *)m->data)[k] : (double)((const float *)m->data)[k];
}

void bp_mat_set(bp_mat *m, int i, int j, double v)
{
    size_t k = (size_t)i * m->cols + j;
    if (m->dtype == BP_F64) ((double *)m->data)[k] = v;
    else ((float *)m->data)[k] = (float)v;
}
