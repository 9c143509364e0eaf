/* teach/compare.h - the machinery of `--compare` (compare.c), shared by
 * `grad --compare` (bp_compare) and `step --compare` (step.c): reading the
 * student's JSON file and values, comparing them with the true ones, and the
 * report of one field. Not part of the public API. */
#ifndef BP_TEACH_COMPARE_H
#define BP_TEACH_COMPARE_H

#include "core/error.h"

#include <jansson.h>
#include <stdio.h>

/* The student's file `mine` as JSON (duplicate keys refused), or NULL with err
 * naming the file (and line:column for malformed JSON). */
json_t *bp_cmp_load(const char *mine, bp_error *err);
/* Read a user's number/array into rows x cols doubles (*out, malloc'd); a
 * non-finite value written as null is NaN. Returns 0 ok, -1 malformed (err
 * names file and path). Shapes may differ from the truth: *r and *c receive
 * what the user gave; want_row refuses a nested array. */
int bp_cmp_values(json_t *v, const char *file, const char *path, double **out, int *r, int *c, int want_row,
                  bp_error *err);
/* Do the user's values (t's shape, or its transpose with `transposed`) equal
 * factor * t for every entry, to rtol relative (plus 1e-9 absolute)? */
int bp_cmp_all_close(const double *u, const bp_mat *t, double factor, int transposed, double rtol);
/* Write the verdict on one field to `out`: "right  PATH  WHAT", or "WRONG ..."
 * with the user's and the true values and the entries that differ. Returns 1
 * when right. first (may be NULL) receives the row and column of the first
 * entry that differs (-1, -1 when the shapes differ or all agree). */
int bp_cmp_field(FILE *out, const char *path, const char *what, const double *u, int ur, int uc, const bp_mat *t,
                 double rtol, int first[2]);

#endif
