/* core/stable.h - numerically stable forms of the logistic function and of
 * binary cross-entropy on a logit, written once for every user (the graph's
 * ops, the fused training step, explain). Not part of the public API.
 *
 *   s(z) = 1 / (1 + e^-z),  computed from e = e^-|z|, which never overflows:
 *   s = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0 (one exp either way).
 *
 *   -[y log s(z) + (1 - y) log(1 - s(z))] = max(z, 0) - z y + log(1 + e^-|z|)
 *   (no log of 0, no overflow, for any z), computed in double. */
#ifndef BP_CORE_STABLE_H
#define BP_CORE_STABLE_H
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

/* One term of binary cross-entropy with the sigmoid folded in: z the logit,
 * y the target. */
static inline double bp_bce_logit(double z, double y)
{
    return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}
#endif
