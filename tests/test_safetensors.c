/* test_safetensors.c - tests of src/core/safetensors.c: round trips, a hand-made
 * file, every rejection case, atomic writes. Exit status 0 iff all pass. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/safetensors.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A file image: 8-byte LE length, header + `pad` spaces, then `dlen` data bytes. */
static unsigned char *image(const char *hdr, size_t pad, const void *data, size_t dlen, size_t *len)
{
    size_t h = strlen(hdr) + pad;
    unsigned char *b = malloc(8 + h + dlen + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, strlen(hdr));
    memset(b + 8 + strlen(hdr), ' ', pad);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    *len = 8 + h + dlen;
    return b;
}

/* Entries of the directory that look like leftover temporary files. */
static int temp_files(void) { return check_count_entries(".tmp"); }

/* Read `bytes` from a file called `label` and expect BP_E_FORMAT with a message
 * holding the path and the facts f1, f2 (either may be NULL). */
static void reject_raw(const char *label, const void *bytes, size_t n, const char *f1, const char *f2)
{
    const char *path = check_path(label);
    check_write(path, bytes, n);
    bp_st_file *f = (bp_st_file *)1;
    bp_error e = {0};
    bp_status s = bp_st_read(path, &f, &e);
    CHECK(s == BP_E_FORMAT && f == NULL, "%s: status %d (%s)", label, (int)s, e.msg);
    CHECK(strstr(e.msg, path) && (!f1 || strstr(e.msg, f1)) && (!f2 || strstr(e.msg, f2)) && !strchr(e.msg, '\n'),
          "%s: message lacks '%s' / '%s': %s", label, f1 ? f1 : "", f2 ? f2 : "", e.msg);
    remove(path);
}

static void reject(const char *label, const char *hdr, size_t dlen, const char *f1, const char *f2)
{
    static const unsigned char zeros[64];
    size_t n;
    unsigned char *b = image(hdr, 0, zeros, dlen, &n);
    reject_raw(label, b, n, f1, f2);
    free(b);
}

static void test_round_trip(void)
{
    uint64_t nan_bits = 0x7ff8dead00000001ULL, x = 88172645463325252ULL;
    double scalar, m[2][3];
    float v[3], q[1][2][1][2];
    memcpy(&scalar, &nan_bits, 8);
    unsigned char *fill[] = {(unsigned char *)m, (unsigned char *)v, (unsigned char *)q};
    size_t sizes[] = {sizeof m, sizeof v, sizeof q};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizes[k]; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; fill[k][i] = (unsigned char)x; }
    m[0][0] = -0.0;
    v[0] = 1e-40f; /* subnormal */

    /* v (12 bytes) comes before m, so m lands at an offset that is not a
     * multiple of 8: the reader must still hand out aligned data. */
    bp_st_tensor ts[] = {
        {"scalar", BP_F64, 0, {0}, &scalar, 8},
        {"layers.0.bias", BP_F32, 1, {3}, v, sizeof v},
        {"W", BP_F64, 2, {2, 3}, m, sizeof m},
        {"q", BP_F32, 4, {1, 2, 1, 2}, q, sizeof q},
        {"empty", BP_F32, 2, {0, 5}, NULL, 0},
    };
    const char *mk[] = {"format", "note"}, *mv[] = {"pt", "h\xc3\xa9llo \"quoted\""};
    const char *path = check_path("rt.safetensors");
    bp_error e = {0};
    bp_status s = bp_st_write(path, ts, 5, mk, mv, 2, &e);
    CHECK(s == BP_OK, "write: %s", e.msg);

    size_t n;
    unsigned char *raw = check_slurp(path, &n);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = (h << 8) | raw[i];
    CHECK(h % 8 == 0 && n == 8 + h + 8 + 12 + 48 + 16, "layout: header %llu, size %zu", (unsigned long long)h, n);
    CHECK(raw[8] == '{' && memcmp(raw + 8 + h, &scalar, 8) == 0, "data starts right after the header");
    free(raw);

    bp_st_file *f = NULL;
    s = bp_st_read(path, &f, &e);
    CHECK(s == BP_OK && f, "read: %s", e.msg);
    if (!f) return;
    CHECK(bp_st_count(f) == 5, "count %d", bp_st_count(f));
    for (int i = 0; i < 5; i++) {
        const bp_st_tensor *t = bp_st_get(f, i);
        CHECK(t && !strcmp(t->name, ts[i].name) && t->dtype == ts[i].dtype && t->ndim == ts[i].ndim &&
                  t->nbytes == ts[i].nbytes && memcmp(t->shape, ts[i].shape, sizeof(int64_t) * (size_t)t->ndim) == 0,
              "tensor %d descriptor", i);
        CHECK(t && (t->nbytes == 0 || memcmp(t->data, ts[i].data, t->nbytes) == 0), "tensor %d bits", i);
        CHECK(t && (uintptr_t)t->data % (t->dtype == BP_F64 ? 8 : 4) == 0, "tensor %d alignment", i);
    }
    CHECK(bp_st_get(f, 5) == NULL && bp_st_get(f, -1) == NULL, "get out of range");
    CHECK(bp_st_find(f, "W") == bp_st_get(f, 2) && bp_st_find(f, "nope") == NULL, "find");
    CHECK(bp_st_meta(f, "format") && !strcmp(bp_st_meta(f, "format"), "pt"), "meta format");
    CHECK(bp_st_meta(f, "note") && !strcmp(bp_st_meta(f, "note"), mv[1]), "meta note");
    CHECK(bp_st_meta(f, "absent") == NULL, "meta absent");
    const char *k = NULL, *val = NULL;
    CHECK(bp_st_meta_count(f) == 3 && bp_st_meta_at(f, 1, &k, &val) && !strcmp(k, "note") && bp_st_meta_at(f, 2, &k, &val) &&
              !strcmp(k, BP_ST_CHECKSUM_KEY) && !strncmp(val, "crc32:", 6) && !bp_st_meta_at(f, 3, &k, &val),
          "meta_at: the caller's pairs, then the checksum");
    bp_st_free(f);

    /* No tensors and no metadata is a valid (empty) file. */
    s = bp_st_write(path, NULL, 0, NULL, NULL, 0, &e);
    f = NULL;
    CHECK(s == BP_OK && bp_st_read(path, &f, &e) == BP_OK && bp_st_count(f) == 0 && bp_st_meta_count(f) == 1,
          "empty file (its checksum only): %s", e.msg);
    bp_st_free(f);
    remove(path);
}

static void test_hand_made(void)
{
    /* 1.5f and -2.0f, little-endian */
    const unsigned char d[8] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    size_t n;
    unsigned char *b = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, d, 8, &n);
    const char *path = check_path("hand.safetensors");
    check_write(path, b, n);
    free(b);
    bp_st_file *f = NULL;
    bp_error e = {0};
    CHECK(bp_st_read(path, &f, &e) == BP_OK, "hand-made: %s", e.msg);
    const bp_st_tensor *t = bp_st_find(f, "a");
    CHECK(bp_st_count(f) == 1 && t && t->dtype == BP_F32 && t->ndim == 1 && t->shape[0] == 2 && t->nbytes == 8 &&
              ((const float *)t->data)[0] == 1.5f && ((const float *)t->data)[1] == -2.0f,
          "hand-made tensor a");
    CHECK(bp_st_meta_count(f) == 0, "hand-made: no metadata");
    bp_st_free(f);

    /* Padded header, metadata, a scalar F64 after the F32 (offset 8). */
    unsigned char d2[16];
    double two = 2.0;
    memcpy(d2, d, 8);
    memcpy(d2 + 8, &two, 8);
    b = image("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
              "\"s\":{\"shape\":[],\"data_offsets\":[8,16],\"dtype\":\"F64\"}}", 5, d2, 16, &n);
    check_write(path, b, n);
    free(b);
    f = NULL;
    CHECK(bp_st_read(path, &f, &e) == BP_OK, "hand-made 2: %s", e.msg);
    t = bp_st_find(f, "s");
    CHECK(bp_st_count(f) == 2 && t && t->ndim == 0 && t->dtype == BP_F64 && *(const double *)t->data == 2.0,
          "hand-made scalar");
    CHECK(bp_st_meta(f, "k") && !strcmp(bp_st_meta(f, "k"), "v"), "hand-made metadata");
    bp_st_free(f);
    remove(path);
}

static void test_rejections(void)
{
    bp_error e = {0};
    bp_st_file *f = (bp_st_file *)1;
    CHECK(bp_st_read("/nonexistent/x.safetensors", &f, &e) == BP_E_IO && !f && strstr(e.msg, "/nonexistent/x.safetensors"),
          "missing file: %s", e.msg);

    reject_raw("short", "\x08\0\0\0\0", 5, "5 bytes", "shorter");
    const unsigned char big[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    reject_raw("hlen_past_end", big, sizeof big, "header length 100", "larger than the 8 bytes");
    const unsigned char absurd[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}'};
    reject_raw("hlen_absurd", absurd, sizeof absurd, "header length 1099511627776", "absurd");
    const unsigned char nul[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, ' ', ' ', ' ', ' ', ' '};
    reject_raw("nul_in_header", nul, sizeof nul, "not valid JSON", NULL);

    reject("bad_json", "{\"a\":{\"dtype\":\"F32\",}}", 0, "not valid JSON", "line 1, column");
    reject("bad_utf8", "{\"\xff\":1}", 0, "not valid JSON", "byte 0xff");
    reject("not_object", "[1,2]", 0, "header is an array, not an object", NULL);
    reject("dup_key", "{\"a\":{},\"a\":{}}", 0, "duplicate object key", "\"a\"");
    reject("dup_inner_key",
           "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "duplicate", "dtype");
    reject("entry_not_object", "{\"a\":[1]}", 0, "tensor 'a': entry is an array", NULL);
    reject("no_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a'", "missing \"dtype\"");
    reject("no_shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a'", "missing \"shape\"");
    reject("no_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a'", "missing \"data_offsets\"");
    reject("unknown_key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "tensor 'a'",
           "unknown key 'x'");
    reject("dtype_type", "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "\"dtype\" is an integer");
    reject("bf16", "{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
           "tensor 'x' has dtype BF16; only F32 and F64 are supported", NULL);
    reject("unknown_dtype", "{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'x'",
           "unknown dtype 'F33'");
    reject("shape_type", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16, "tensor 'a'",
           "\"shape\" is an integer");
    reject("shape_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "shape[1] is -1");
    reject("shape_real", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "shape[0] is a real number");
    reject("shape_string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "shape[0] is a string");
    reject("shape_5d", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "tensor 'a'",
           "5 dimensions");
    reject("offsets_len", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "tensor 'a'",
           "array of 2 integers");
    reject("offsets_negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "tensor 'a'",
           "data_offsets[0] is -4");
    reject("offsets_real", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, "tensor 'a'",
           "data_offsets[1] is a real number");
    reject("offsets_range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
           "tensor 'a': data_offsets [0, 16] are out of range", "has 8 bytes");
    reject("offsets_reversed", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
           "tensor 'a': data_offsets [8, 4]", "end before");
    reject("size_mismatch", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24,
           "tensor 'a': data_offsets [0, 24] span 24 bytes", "shape [2, 3] of F64 needs 48");
    reject("size_overflow",
           "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "tensor 'a'",
           "needs more than");
    reject("overlap",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
           "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])", NULL);
    reject("hole",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16,
           "data bytes 8..12 are not covered", "after tensor 'a'");
    reject("hole_at_start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
           "data bytes 0..4 are not covered", "before tensor 'a'");
    reject("extra_bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 7,
           "3 extra bytes at the end", "4..7");
    reject("extra_bytes_no_tensors", "{}", 5, "5 extra bytes", NULL);
    reject("meta_not_object", "{\"__metadata__\":[\"a\"]}", 0, "\"__metadata__\" is an array", NULL);
    reject("meta_value", "{\"__metadata__\":{\"epoch\":3}}", 0, "__metadata__ key 'epoch' is an integer",
           "must be strings");
}

static void test_atomic(void)
{
    const char *path = check_path("atomic.safetensors");
    float a[4] = {1, 2, 3, 4};
    bp_st_tensor t = {"a", BP_F32, 1, {4}, a, sizeof a};
    bp_error e = {0};
    CHECK(bp_st_write(path, &t, 1, NULL, NULL, 0, &e) == BP_OK, "write A: %s", e.msg);
    size_t n0, n1;
    unsigned char *before = check_slurp(path, &n0), *after;

    /* Invalid descriptors: refused with BP_E_ARG, A untouched. */
    bp_st_tensor bad[2] = {t, t};
    bad[1].name = "b";
    bad[1].data = NULL;
    CHECK(bp_st_write(path, bad, 2, NULL, NULL, 0, &e) == BP_E_ARG && strstr(e.msg, "'b'") && strstr(e.msg, "NULL"),
          "NULL data: %s", e.msg);
    bad[1] = t;
    CHECK(bp_st_write(path, bad, 2, NULL, NULL, 0, &e) == BP_E_ARG && strstr(e.msg, "duplicate tensor name 'a'"),
          "duplicate name: %s", e.msg);
    bad[1].name = "c";
    bad[1].nbytes = 12;
    CHECK(bp_st_write(path, bad, 2, NULL, NULL, 0, &e) == BP_E_ARG && strstr(e.msg, "needs 16"), "nbytes: %s", e.msg);
    bad[1].ndim = 2;
    bad[1].shape[0] = bad[1].shape[1] = (int64_t)1 << 40;
    CHECK(bp_st_write(path, bad, 2, NULL, NULL, 0, &e) == BP_E_ARG && strstr(e.msg, "needs more than"), "overflow: %s", e.msg);
    bad[1] = t;
    bad[1].name = "__metadata__";
    CHECK(bp_st_write(path, bad, 2, NULL, NULL, 0, &e) == BP_E_ARG, "reserved name: %s", e.msg);
    const char *k2[] = {"k", "k"}, *v2[] = {"1", "2"};
    CHECK(bp_st_write(path, &t, 1, k2, v2, 2, &e) == BP_E_ARG && strstr(e.msg, "duplicate metadata key 'k'"),
          "duplicate meta: %s", e.msg);

    /* An I/O failure midway (file size limit, works as root too): the temp
     * file is removed and A stays intact. */
    static float huge[1 << 18]; /* 1 MiB */
    bp_st_tensor h = {"huge", BP_F32, 1, {1 << 18}, huge, sizeof huge};
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 65536;
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    int limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    bp_status s = bp_st_write(path, &h, 1, NULL, NULL, 0, &e);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    CHECK(limited && s == BP_E_IO && strstr(e.msg, path), "midway failure: status %d: %s", (int)s, e.msg);

    after = check_slurp(path, &n1);
    CHECK(after && n0 == n1 && memcmp(before, after, n0) == 0, "file A unchanged");
    CHECK(temp_files() == 0, "no temporary file left behind");
    free(before);
    free(after);
    remove(path);
}

int main(void)
{
    if (!check_tmpdir("bp_st_test")) return 2;
    test_round_trip();
    test_hand_made();
    test_rejections();
    test_atomic();
    CHECK(rmdir(check_dir()) == 0, "files left in %s", check_dir());
    return check_done();
}
