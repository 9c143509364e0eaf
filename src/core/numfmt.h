/* core/numfmt.h - the one place numbers become text.
 *
 * Where machines read (JSON, model files, CSV logs and predictions, expr
 * values): the shortest text that reads back as exactly the same number.
 * Where people read (explain, compare's hints): a short form with a fixed
 * number of significant digits. Not part of the public API. */
#ifndef BP_CORE_NUMFMT_H
#define BP_CORE_NUMFMT_H

#include "core/base.h"
#include <stdio.h>

enum { BP_NUM_MAX = 32 };   /* room for any number formatted below, NUL included */

/* Machines: the first of %.15g, %.16g, %.17g that strtod reads back as
 * exactly v, so a file written and read again holds the same bits. A negative
 * zero is "-0.0" (so a JSON reader keeps its sign); NaN and the infinities
 * are "nan", "inf", "-inf". Returns buf. */
const char *bp_num_exact(char buf[BP_NUM_MAX], double v);
/* The same for a float: the first of %.6g .. %.9g that strtof reads back. */
const char *bp_num_exact_f32(char buf[BP_NUM_MAX], float v);
/* A JSON number: bp_num_exact, or null when v is not finite. */
void bp_json_num(FILE *out, double v);
/* A matrix as JSON rows of such numbers, [[...], ...]; its first row as a
 * flat list [...]. */
void bp_json_mat(FILE *out, const bp_mat *m);
void bp_json_row(FILE *out, const bp_mat *m);
/* A JSON string: s in quotes, '"' and '\\' escaped, control characters as \\u00XX
 * (file names, class names; other bytes as they are). */
void bp_json_str(FILE *out, const char *s);

/* People: v to `digits` significant digits (%.*g); a negative zero is "0". */
const char *bp_num_short(char buf[BP_NUM_MAX], double v, int digits);

#endif
