/* core/file.c - whole-file reads with a size limit, safe writes (temp file,
 * fsync, rename; links followed, devices and FIFOs written directly), and
 * the same-file test. The rules are in file.h. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "core/file.h"
#include "core/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#define NAME_LIMIT 255   /* NAME_MAX of Linux file systems */

const char *bp_bytes_text(unsigned long long n, char buf[32])
{
    if (n >= (1ULL << 30) && n % (1ULL << 30) == 0) snprintf(buf, 32, "%llu GiB", n >> 30);
    else if (n >= (1ULL << 20) && n % (1ULL << 20) == 0) snprintf(buf, 32, "%llu MiB", n >> 20);
    else snprintf(buf, 32, "%llu bytes", n);
    return buf;
}

static bp_status too_large(const char *path, unsigned long long limit, const char *what, bp_error *err)
{
    char b[32];
    return bp_err(err, BP_E_IO, "%s: larger than %s, the limit for %s", path, bp_bytes_text(limit, b), what);
}

bp_status bp_read_file(const char *path, unsigned long long limit, const char *what, char **out, size_t *len,
                       bp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return bp_err(err, BP_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return bp_err(err, BP_E_IO, "%s: is a directory, not a file", path);
    }
    int regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (unsigned long long)st.st_size > limit) {
        fclose(f);
        return too_large(path, limit, what, err);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
    for (;;) {
        if (n > limit) { free(buf); fclose(f); return too_large(path, limit, what, err); }
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return bp_err(err, BP_E_NOMEM, "%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (!regular && memchr(buf + n, '\0', got)) {   /* /dev/zero and other binary streams: no text */
            size_t at = (size_t)((char *)memchr(buf + n, '\0', got) - buf);
            free(buf);
            fclose(f);
            return bp_err(err, BP_E_PARSE, "%s: byte %zu is NUL: not a text file (%s)", path, at, what);
        }
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

/* ---- paths ------------------------------------------------------------------- */

/* The directory part of p ("." when it has none), into a new string. */
static char *dir_of(const char *p)
{
    const char *s = strrchr(p, '/');
    if (!s) return bp_strndup(".", 1);
    if (s == p) return bp_strndup("/", 1);
    return bp_strndup(p, (size_t)(s - p));
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* p with its chain of symbolic links followed (a new string): the name a
 * write through p lands on, whether or not it exists yet. */
static char *follow_links(const char *path)
{
    char *p = bp_strndup(path, strlen(path));
    for (int hop = 0; p && hop < 40; hop++) {
        struct stat st;
        char buf[PATH_MAX];
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode)) break;
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n <= 0) break;
        buf[n] = '\0';
        char *next;
        if (buf[0] == '/') next = bp_strndup(buf, (size_t)n);
        else {
            char *d = dir_of(p);
            size_t len = (d ? strlen(d) : 0) + (size_t)n + 2;
            next = d ? malloc(len) : NULL;
            if (next) snprintf(next, len, "%s/%s", d, buf);
            free(d);
        }
        free(p);
        p = next;
    }
    return p;
}

/* The canonical name of p: links followed, its directory made absolute
 * (realpath), the last part kept; NULL if the directory does not exist. */
static char *canonical(const char *path)
{
    char *p = follow_links(path), *d = p ? dir_of(p) : NULL, real[PATH_MAX], *out = NULL;
    if (d && realpath(d, real)) {
        size_t len = strlen(real) + strlen(base_of(p)) + 2;
        if ((out = malloc(len))) snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base_of(p));
    }
    free(p);
    free(d);
    return out;
}

int bp_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = canonical(a), *cb = canonical(b);
    int same = ca && cb ? !strcmp(ca, cb) : !strcmp(a, b);
    free(ca);
    free(cb);
    return same;
}

int bp_is_special_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/* ---- safe writes --------------------------------------------------------------- */

/* The temporary name's prefix for a target called `base`: base shortened so
 * that "PREFIX.tmp.PID" fits NAME_LIMIT bytes. */
static size_t tmp_prefix_len(const char *base)
{
    size_t n = strlen(base), room = NAME_LIMIT - strlen(".tmp.") - 10;
    return n < room ? n : room;
}

/* Remove DIR/PREFIX.tmp.PID files left by processes that no longer run. */
static void remove_stale(const char *dir, const char *base, size_t plen)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, plen) || strncmp(n + plen, ".tmp.", 5)) continue;
        const char *digits = n + plen + 5;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   /* alive, or not ours to judge */
        size_t len = strlen(dir) + strlen(n) + 2;
        char *full = malloc(len);
        if (full) {
            snprintf(full, len, "%s/%s", dir, n);
            unlink(full);
            free(full);
        }
    }
    closedir(d);
}

static void clear(bp_atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    free(af->shown);
    memset(af, 0, sizeof *af);
}

bp_status bp_atomic_open(bp_atomic_file *af, const char *path, bp_error *err)
{
    memset(af, 0, sizeof *af);
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) return bp_err(err, BP_E_IO, "%s: is a directory, not a file", path);
    af->shown = bp_strndup(path, strlen(path));
    if (!af->shown) return bp_err(err, BP_E_NOMEM, "out of memory");
    if (exists && !S_ISREG(st.st_mode)) {   /* a device, a FIFO: write to it, never replace it */
        int fd = open(path, O_WRONLY | O_NOCTTY);
        if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
            bp_status s = bp_err(err, BP_E_IO, "%s: cannot write: %s", path, strerror(errno));
            if (fd >= 0) close(fd);
            clear(af);
            return s;
        }
        return BP_OK;
    }
    af->path = follow_links(path);
    char *dir = af->path ? dir_of(af->path) : NULL;
    if (!dir) { clear(af); return bp_err(err, BP_E_NOMEM, "out of memory"); }
    const char *base = base_of(af->path);
    size_t plen = tmp_prefix_len(base), len = strlen(dir) + plen + 32;
    if (!(af->tmp_path = malloc(len))) { free(dir); clear(af); return bp_err(err, BP_E_NOMEM, "out of memory"); }
    snprintf(af->tmp_path, len, "%s/%.*s.tmp.%ld", dir, (int)plen, base, (long)getpid());
    remove_stale(dir, base, plen);
    free(dir);
    unlink(af->tmp_path);   /* our own, from an earlier write of this process */
    int fd = open(af->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);   /* readable: callers may check it */
    if (fd < 0 || !(af->fp = fdopen(fd, "wb"))) {
        bp_status s = bp_err(err, BP_E_IO, "%s: cannot write: %s", path, strerror(errno));
        if (fd >= 0) { close(fd); unlink(af->tmp_path); }
        clear(af);
        return s;
    }
    if (exists) (void)fchmod(fd, st.st_mode & 07777);   /* the replacement keeps the file's mode */
    return BP_OK;
}

bp_status bp_atomic_commit(bp_atomic_file *af, bp_error *err)
{
    int direct = af->tmp_path == NULL;
    int bad = fflush(af->fp) != 0 || ferror(af->fp) || (!direct && fsync(fileno(af->fp)) != 0);
    int e = errno;
    if (fclose(af->fp) != 0 && !bad) { bad = 1; e = errno; }
    af->fp = NULL;
    if (!bad && !direct && rename(af->tmp_path, af->path) != 0) { bad = 1; e = errno; }
    if (bad) {
        bp_status s = bp_err(err, BP_E_IO, "%s: write failed: %s", af->shown, strerror(e));
        bp_atomic_abort(af);
        return s;
    }
    if (!direct) {   /* the rename itself survives a crash once the directory is on disk */
        char *dir = dir_of(af->path);
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
        if (dfd >= 0) { (void)fsync(dfd); close(dfd); }
        free(dir);
    }
    clear(af);
    return BP_OK;
}

void bp_atomic_abort(bp_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    clear(af);
}
