/* core/file.c - whole-file reads and atomic writes (temp file, fsync, rename). */
#define _POSIX_C_SOURCE 200809L
#include "core/file.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bp_status bp_read_file(const char *path, char **out, size_t *len, bp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bp_err(err, BP_E_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f), e = errno;
    fclose(f);
    if (bad) { free(buf); return bp_err(err, BP_E_IO, "%s: cannot read: %s", path, strerror(e)); }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return BP_OK;
}

bp_status bp_atomic_open(bp_atomic_file *af, const char *path, bp_error *err)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->path = bp_malloc(n + 1, err);
    af->tmp_path = bp_malloc(n + 32, err);
    if (!af->path || !af->tmp_path) { bp_atomic_abort(af); return BP_E_NOMEM; }
    memcpy(af->path, path, n + 1);
    snprintf(af->tmp_path, n + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        bp_status s = bp_err(err, BP_E_IO, "%s: cannot write: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        free(af->path); free(af->tmp_path);
        memset(af, 0, sizeof *af);
        return s;
    }
    return BP_OK;
}

bp_status bp_atomic_commit(bp_atomic_file *af, bp_error *err)
{
    int bad = fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0;
    int e = errno;
    if (fclose(af->fp) != 0 && !bad) { bad = 1; e = errno; }
    af->fp = NULL;
    if (!bad && rename(af->tmp_path, af->path) != 0) { bad = 1; e = errno; }
    if (bad) {
        bp_status s = bp_err(err, BP_E_IO, "%s: write failed: %s", af->path, strerror(e));
        bp_atomic_abort(af);
        return s;
    }
    free(af->path); free(af->tmp_path);
    memset(af, 0, sizeof *af);
    return BP_OK;
}

void bp_atomic_abort(bp_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) remove(af->tmp_path);
    free(af->path); free(af->tmp_path);
    memset(af, 0, sizeof *af);
}
