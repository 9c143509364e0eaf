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
/* The likely slip `grad --compare` names for values u (ur x uc, row-major, in
 * the layout of `grad --json`: one row per sample, W as the net stores it)
 * given for the field `path` of grad --json ("layers[1].dL_dz", "output",
 * "dL_dx"; any other path gets only the hints that need no field) whose true
 * values are `truth`; NULL when none fits. m has had its bp_model_pass.
 * (`check` names the slips of a formula with it.) */
const char *bp_compare_hint(bp_model *m, const char *path, const bp_mat *truth, const double *u, int ur, int uc,
                            double rtol);

#endif
