/* autodiff/ops.c - the op registry: forward and backward kernels for f32 and
 * f64 (ops_kernels.h, instantiated twice); the matrix products under them are
 * core/gemm.c. */
#include "autodiff/graph.h"
#include "core/gemm.h"
#include "core/stable.h"

#include <math.h>
#include <string.h>

/* ---- the kernels, once per dtype ----------------------------------------- */
#define T double
#define SFX(x) x##_f64
#define EXP exp
#define LOG log
#define SQRT sqrt
#define TANH tanh
#include "autodiff/ops_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef LOG
#undef SQRT
#undef TANH

#define T float
#define SFX(x) x##_f32
#define EXP expf
#define LOG logf
#define SQRT sqrtf
#define TANH tanhf
#include "autodiff/ops_kernels.h"
#undef T
#undef SFX
#undef EXP
#undef LOG
#undef SQRT
#undef TANH

const bp_op_def *bp_op_table(bp_dtype t) { return t == BP_F64 ? op_table_f64 : op_table_f32; }

const char *bp_op_name(bp_op op)
{
    return (unsigned)op < BP_OP_COUNT ? op_table_f64[op].name : "?";
}
