/* check.h - the smallest test harness: CHECK(cond, fmt, ...) counts and
 * reports; check_done() prints "N passed, M failed" and gives the exit code.
 * Also helpers for fixtures in a temporary directory (POSIX: define
 * _POSIX_C_SOURCE 200809L, or _DEFAULT_SOURCE or _GNU_SOURCE, first). */
#ifndef BP_CHECK_H
#define BP_CHECK_H
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_pass_, check_fail_;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) check_pass_++;                                          \
        else {                                                            \
            check_fail_++;                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* CHECK_EXPR(cond): CHECK with the condition's own text as the message. */
#define CHECK_EXPR(cond) CHECK(cond, "%s", #cond)

/* Count a result checked by hand; gives `ok` back, so that the caller can
 * print the details of a failure: if (!check_count(ok)) fprintf(...). */
static inline int check_count(int ok)
{
    if (ok) check_pass_++;
    else check_fail_++;
    return ok;
}

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

/* The most threads a test may start: `most`, or fewer when BP_TEST_MAX_THREADS
 * says so (1 under the qemu-user of scripts/cross-test-arm64.sh, where
 * pthread_create never returns). */
static inline int check_max_threads(int most)
{
    const char *env = getenv("BP_TEST_MAX_THREADS");
    int n = env ? atoi(env) : 0;
    return n >= 1 && n < most ? n : most;
}

/* ---- fixtures in a temporary directory ------------------------------------ */

/* The directory made by check_tmpdir ("" before). */
static inline char *check_dir(void)
{
    static char dir[64];
    return dir;
}

/* Make the directory /tmp/PREFIX_XXXXXX; NULL (and a message) on failure. */
static inline const char *check_tmpdir(const char *prefix)
{
    char *dir = check_dir();
    snprintf(dir, 64, "/tmp/%s_XXXXXX", prefix);
    if (!mkdtemp(dir)) { perror("mkdtemp"); return NULL; }
    return dir;
}

/* DIR/NAME, in one of 128 buffers used in turn. */
static inline const char *check_path(const char *name)
{
    static char buf[128][256];
    static int k;
    k = (k + 1) % 128;
    snprintf(buf[k], sizeof buf[k], "%s/%s", check_dir(), name);
    return buf[k];
}

/* Write n bytes to a file; exit 2 if that fails. */
static inline void check_write(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) { perror(path); exit(2); }
    fclose(f);
}

/* The bytes of a file (up to 1 MiB, malloc'd, their number in *n); NULL if it
 * cannot be opened. */
static inline unsigned char *check_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = malloc(1 << 20);
    *n = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

/* How many entries of the directory have `part` in their names. */
static inline int check_count_entries(const char *part)
{
    int n = 0;
    DIR *d = opendir(check_dir());
    struct dirent *e;
    while (d && (e = readdir(d))) n += strstr(e->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

/* Remove `path` and, if it is a directory, everything in it; 0 on success. */
static inline int check_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *sub = malloc(n);
            if (!sub) break;
            snprintf(sub, n, "%s/%s", path, e->d_name);
            check_remove_tree(sub);
            free(sub);
        }
        if (d) closedir(d);
    }
    return remove(path);
}
#endif
