/* core/mat.h - element types and the matrix view bp_mat (declared in
 * backprop.h): element access and sizes. Not part of the public API. */
#ifndef BP_CORE_MAT_H
#define BP_CORE_MAT_H

#include "core/base.h"

/* Size in bytes of one element of a dtype. */
static inline size_t bp_dtype_size(bp_dtype t) { return t == BP_F64 ? 8 : 4; }

#endif
