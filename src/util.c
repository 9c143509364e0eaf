/* util.c - errors, allocation, whole-file reads, atomic writes, the RNG. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bp_status bp_err(bp_error *err, bp_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
        /* keep the message to one line */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return s;
}

const char *bp_status_name(bp_status s)
{
    switch (s) {
    case BP_OK: return "ok";
    case BP_E_ARG: return "invalid argument";
    case BP_E_IO: return "i/o error";
    case BP_E_PARSE: return "parse error";
    case BP_E_SHAPE: return "shape error";
    case BP_E_VALUE: return "value error";
    case BP_E_NOMEM: return "out of memory";
    case BP_E_DOMAIN: return "domain error";
    case BP_E_FORMAT: return "format error";
    case BP_E_DIVERGED: return "diverged";
    case BP_E_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

int bp_name_index(const char *const *table, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(table[i], s) == 0) return i;
    return -1;
}

int bp_predicted_class(const bp_mat *a, int i)
{
    if (a->cols == 1) return bp_mat_get(a, i, 0) >= 0.5;
    int best = 0;
    if (a->dtype == BP_F32) { /* the trainer counts every batch: no per-element accessor calls */
        const float *r = (const float *)a->data + (size_t)i * a->cols;
        for (int j = 1; j < a->cols; j++)
            if (r[j] > r[best]) best = j;
        return best;
    }
    const double *r = (const double *)a->data + (size_t)i * a->cols;
    for (int j = 1; j < a->cols; j++)
        if (r[j] > r[best]) best = j;
    return best;
}

double bp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *bp_dtype_name(bp_dtype t) { return t == BP_F64 ? "f64" : "f32"; }

void *bp_malloc(size_t n, bp_error *err)
{
    void *p = malloc(n ? n : 1);
    if (!p) bp_err(err, BP_E_NOMEM, "out of memory (%zu bytes)", n);
    return p;
}

void *bp_calloc(size_t count, size_t size, bp_error *err)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) bp_err(err, BP_E_NOMEM, "out of memory (%zu x %zu bytes)", count, size);
    return p;
}

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

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void bp_rng_seed(bp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t bp_rng_next(bp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return result;
}

double bp_rng_uniform(bp_rng *r) { return (double)(bp_rng_next(r) >> 11) * 0x1.0p-53; }

double bp_rng_normal(bp_rng *r)
{
    double u1 = bp_rng_uniform(r), u2 = bp_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}
