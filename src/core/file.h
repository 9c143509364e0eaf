/* core/file.h - whole-file reads with a size limit, safe writes, and "is this
 * the same file". Not part of the public API (the CLI uses the writer for
 * its --out files and bp_same_file to refuse an output that is an input).
 *
 * Safe writes (bp_atomic_*): a regular file, or a name that does not exist
 * yet, is written as a temporary file beside it, fsynced and renamed over it
 * only when everything was written, so a crash or a full disk never leaves a
 * half-written file and an existing one keeps its content until the new one
 * is complete. A symbolic link is followed: the file it points to is written
 * that way (beside the target), and the link stays a link. A device or a FIFO
 * (/dev/null, /dev/stdout, a pipe) is written directly, since renaming over it
 * would replace it; a directory is refused. Temporary files are named
 * NAME.tmp.PID (NAME shortened to fit NAME_MAX); those left by a process that
 * no longer runs (killed during a write) are removed by the next write of the
 * same name. */
#ifndef BP_CORE_FILE_H
#define BP_CORE_FILE_H

#include "core/base.h"
#include <stdio.h>

/* Limits on what one read may take, by kind of file (an endless stream such
 * as /dev/zero, or a file far larger than its kind ever is, stops there). */
#define BP_LIMIT_TEXT (256ULL << 20)   /* --x / --y matrices, --compare files, formulas */
#define BP_LIMIT_MODEL (1ULL << 30)    /* JSON model files                            */
#define BP_LIMIT_DATA (8ULL << 30)     /* CSV datasets, standard input                */

/* Read a whole file into a new NUL-terminated buffer (caller frees). More
 * than `limit` bytes is BP_E_IO: "PATH: larger than 256 MiB, the limit for
 * WHAT"; `what` names the kind of file ("a model file"). Regular files are
 * checked by their size first; other files (pipes, devices) are read up to
 * the limit, and refused at their first NUL byte (the text files read here
 * have none: /dev/zero is refused at once). */
bp_status bp_read_file(const char *path, unsigned long long limit, const char *what, char **out, size_t *len,
                       bp_error *err);

/* "256 MiB": a byte count for messages. */
const char *bp_bytes_text(unsigned long long n, char buf[32]);

typedef struct bp_atomic_file {
    FILE *fp;       /* write here                                             */
    char *tmp_path; /* the temporary file, or NULL when writing directly      */
    char *path;     /* the file that receives the content (a link's target)   */
    char *shown;    /* the name as the caller gave it, for messages           */
} bp_atomic_file;
/* Open `path` for a safe write (see above). */
bp_status bp_atomic_open(bp_atomic_file *af, const char *path, bp_error *err);
/* Flush, fsync, close and rename into place; on any failure the temporary
 * file is removed, the old file is left as it was, and the message names the
 * path and the reason. */
bp_status bp_atomic_commit(bp_atomic_file *af, bp_error *err);
/* Give up: remove the temporary file (an existing file keeps its content). */
void bp_atomic_abort(bp_atomic_file *af);

/* Are a and b the same file: the same device and inode when both exist, or
 * the same path once symbolic links and "." / ".." are resolved? */
int bp_same_file(const char *a, const char *b);
/* Does `path` exist and is it (after links) something other than a regular
 * file or a directory: a device, a FIFO, a socket? */
int bp_is_special_file(const char *path);

#endif
