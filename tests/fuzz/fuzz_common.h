/* fuzz_common.h - what the libFuzzer targets share: the per-process temp
 * file for the loaders that take a path, the sink for reports, and the
 * process-wide setup.  Only the public API (backprop.h) is used. */
#ifndef BP_FUZZ_COMMON_H
#define BP_FUZZ_COMMON_H

#include "backprop.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* One file per process and per name, under $TMPDIR (run.sh points it at its
 * own temp dir) or /tmp: created on first use, rewritten on every run,
 * removed at exit. */
#define FUZZ_MAX_FILES 2
static char fuzz_paths[FUZZ_MAX_FILES][256];
static int fuzz_npaths;

static FILE *fuzz_null;

static inline void fuzz_cleanup(void)
{
    for (int i = 0; i < fuzz_npaths; i++) remove(fuzz_paths[i]);
    if (fuzz_null) fclose(fuzz_null);
    fuzz_null = NULL;
}

/* The path of temp file `slot` (0 or 1), named after `tag` (e.g. "model.json"). */
static inline const char *fuzz_path(int slot, const char *tag)
{
    if (!fuzz_paths[slot][0]) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = "/tmp";
        snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "%s/bp_fuzz_%ld_%s", dir, (long)getpid(), tag);
        if (slot + 1 > fuzz_npaths) fuzz_npaths = slot + 1;
    }
    return fuzz_paths[slot];
}

/* Write `n` bytes to temp file `slot` and return its path (abort if /tmp fails:
 * that is the machine, not the library). */
static inline const char *fuzz_write(int slot, const char *tag, const uint8_t *data, size_t n)
{
    const char *p = fuzz_path(slot, tag);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

/* The input as a NUL-terminated string (the caller frees it). */
static inline char *fuzz_strdup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Reports go nowhere, but through the real stdio path. */
static inline FILE *fuzz_devnull(void)
{
    if (!fuzz_null && !(fuzz_null = fopen("/dev/null", "w"))) abort();
    return fuzz_null;
}

/* Safetensors files carry a CRC-32 of their tensor bytes in __metadata__
 * ("checksum": "crc32:XXXXXXXX"), which a mutation of those bytes almost
 * always breaks.  If the input has one that does not match, return a copy with
 * the right one (the caller frees it and runs that too, so that mutated
 * tensors reach the checks behind the checksum); else NULL. */
static inline uint8_t *fuzz_fix_crc(const uint8_t *data, size_t size)
{
    if (size < 8) return NULL;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    if (hlen > size - 8) return NULL;
    const char *h = (const char *)data + 8, *key = "\"crc32:";
    size_t kl = strlen(key), pos = 0;
    for (size_t i = 0; i + kl + 8 <= hlen && !pos; i++)
        if (!memcmp(h + i, key, kl)) pos = 8 + i + kl;
    if (!pos) return NULL;
    const uint8_t *d = data + 8 + hlen;
    size_t dn = size - 8 - (size_t)hlen;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < dn;) {
        size_t chunk = dn - off > (1u << 30) ? (1u << 30) : dn - off;
        crc = crc32(crc, d + off, (uInt)chunk);
        off += chunk;
    }
    char hex[9];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
    if (!memcmp(data + pos, hex, 8)) return NULL;
    uint8_t *copy = malloc(size);
    if (!copy) abort();
    memcpy(copy, data, size);
    memcpy(copy + pos, hex, 8);
    return copy;
}

/* With BP_FUZZ_VERBOSE=1 in the environment, say what each loader returned
 * (to check that a seed loads: build-fuzz/fuzz_X FILE...). Returns s. */
static int fuzz_verbose = -1;
static inline bp_status fuzz_note(const char *what, bp_status s, const bp_error *err)
{
    if (fuzz_verbose < 0) fuzz_verbose = getenv("BP_FUZZ_VERBOSE") != NULL;
    if (fuzz_verbose) fprintf(stderr, "%s: %s%s%s\n", what, bp_status_name(s), s ? ": " : "", s ? err->msg : "");
    return s;
}

/* Once per process (every target's LLVMFuzzerInitialize): the clean-up at
 * exit, and one thread for the products (OpenBLAS reads OPENBLAS_NUM_THREADS
 * when it loads; run.sh sets it too). */
static inline void fuzz_setup(void)
{
    atexit(fuzz_cleanup);
    bp_set_threads(1);
}

/* The two entry points libFuzzer calls (declared here: -Wmissing-prototypes). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_setup();
    return 0;
}

#endif
