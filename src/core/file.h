/* core/file.h - whole-file reads and atomic writes. Not part of the public
 * API (the CLI uses the atomic writer for its --out files). */
#ifndef BP_CORE_FILE_H
#define BP_CORE_FILE_H

#include "core/base.h"
#include <stdio.h>

/* Read a whole file into a new NUL-terminated buffer (caller frees). */
bp_status bp_read_file(const char *path, char **out, size_t *len, bp_error *err);

/* Atomic write: open a temporary file next to `path` for writing; after the
 * caller has written everything, bp_atomic_commit fsyncs it and renames it over
 * `path` (so a crash never leaves a half-written file); bp_atomic_abort removes
 * it. */
typedef struct bp_atomic_file {
    FILE *fp;
    char *tmp_path;
    char *path;
} bp_atomic_file;
bp_status bp_atomic_open(bp_atomic_file *af, const char *path, bp_error *err);
bp_status bp_atomic_commit(bp_atomic_file *af, bp_error *err);
void bp_atomic_abort(bp_atomic_file *af);

#endif
