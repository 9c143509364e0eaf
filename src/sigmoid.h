/* sigmoid.h - the logistic function, written once for both dtypes:
 *   s(z) = 1 / (1 + e^-z),  computed from e = e^-|z|, which never overflows:
 *   s = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0 (one exp either way).
 * Used by the graph's sigmoid ops (ops_kernels.h) and the fused training
 * step (fused_kernels.h). */
#ifndef BP_SIGMOID_H
#define BP_SIGMOID_H
#include <math.h>

static inline double bp_sigmoid_f64(double z)
{
    double e = exp(-fabs(z));
    return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

static inline float bp_sigmoid_f32(float z)
{
    float e = expf(-fabsf(z));
    return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}
#endif
