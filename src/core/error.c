/* core/error.c - errors as values, checked allocation, name tables. */
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

char *bp_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = 0; }
    return d;
}

char **bp_strings_copy(const char *const *s, int k, bp_error *err)
{
    size_t bytes = (size_t)k * sizeof(char *);
    for (int i = 0; i < k; i++) bytes += strlen(s[i]) + 1;
    char **block = bp_malloc(bytes, err);
    if (!block) return NULL;
    char *t = (char *)(block + k);
    for (int i = 0; i < k; i++) {
        size_t len = strlen(s[i]) + 1;
        memcpy(t, s[i], len);
        block[i] = t;
        t += len;
    }
    return block;
}
