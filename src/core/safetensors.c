/* core/safetensors.c - reading and writing safetensors files (see safetensors.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/safetensors.h"
#include "core/error.h"
#include "core/file.h"
#include "core/mat.h"

#include <errno.h>
#include <jansson.h>
#include <zlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ULL(x) ((unsigned long long)(x))

struct bp_st_file {
    json_t *header;             /* tensor names and metadata point into it */
    unsigned char *data;        /* the byte buffer after the header */
    int n;
    bp_st_tensor *tensors;
    void **copies;              /* per tensor: an aligned copy of its data, or NULL */
    int nmeta;
    const char **meta_keys, **meta_values;
};

/* Every dtype name of the safetensors spec, so foreign ones get a clear error. */
static const char *const known_dtypes[] = {
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "I16", "U16", "F16", "BF16",
    "I32", "U32", "I64", "U64", "C64", "F4", "F6_E2M3", "F6_E3M2", NULL};

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static const char *jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* *r = a * b; returns 0 on overflow. */
static int mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* Bytes needed by a shape of elements of size `es`; 0 on overflow. */
static int shape_bytes(const int64_t *shape, int ndim, size_t es, uint64_t *out)
{
    uint64_t p = es;
    for (int d = 0; d < ndim; d++)
        if (!mul_ok(p, (uint64_t)shape[d], &p)) return 0;
    *out = p;
    return 1;
}

static const char *shape_str(char *buf, size_t cap, const int64_t *shape, int ndim)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

static const char *dtype_str(bp_dtype t) { return t == BP_F64 ? "F64" : "F32"; }

static int is_utf8(const char *s)
{
    json_t *j = json_string(s);
    if (!j) return 0;
    json_decref(j);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* Build the header JSON (compact, metadata first, tensors in order). */
static bp_status build_header(const char *path, const bp_st_tensor *ts, int n,
                              const char *const *mk, const char *const *mv, int nmeta,
                              json_t **out, bp_error *err)
{
    json_t *root = json_object();
    if (!root) return bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
    bp_status s = BP_OK;
    {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta)) {
            s = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        for (int i = 0; i < nmeta; i++) {
            if (!mk[i] || !mv[i]) {
                s = bp_err(err, BP_E_ARG, "%s: metadata pair %d has a NULL key or value", path, i);
                goto done;
            }
            if (!strcmp(mk[i], BP_ST_CHECKSUM_KEY)) {
                s = bp_err(err, BP_E_ARG, "%s: metadata key '%s' is reserved (the writer stores the checksum there)",
                           path, mk[i]);
                goto done;
            }
            if (!is_utf8(mk[i]) || !is_utf8(mv[i])) {
                s = bp_err(err, BP_E_ARG, "%s: metadata key '%s': key or value is not valid UTF-8", path, mk[i]);
                goto done;
            }
            if (json_object_get(meta, mk[i])) {
                s = bp_err(err, BP_E_ARG, "%s: duplicate metadata key '%s'", path, mk[i]);
                goto done;
            }
            if (json_object_set_new(meta, mk[i], json_string(mv[i]))) {
                s = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
                goto done;
            }
        }
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const bp_st_tensor *t = &ts[i];
        char sb[128];
        uint64_t need = 0;
        if (!t->name) { s = bp_err(err, BP_E_ARG, "%s: tensor %d has no name", path, i); goto done; }
        if (!strcmp(t->name, "__metadata__") || !is_utf8(t->name)) {
            s = bp_err(err, BP_E_ARG, "%s: tensor %d: name '%s' is reserved or not valid UTF-8", path, i, t->name);
            goto done;
        }
        if (json_object_get(root, t->name)) {
            s = bp_err(err, BP_E_ARG, "%s: duplicate tensor name '%s'", path, t->name);
            goto done;
        }
        if (t->dtype != BP_F32 && t->dtype != BP_F64) {
            s = bp_err(err, BP_E_ARG, "%s: tensor '%s': dtype %d is not F32 or F64", path, t->name, (int)t->dtype);
            goto done;
        }
        if (t->ndim < 0 || t->ndim > BP_ST_MAX_DIMS) {
            s = bp_err(err, BP_E_ARG, "%s: tensor '%s': ndim %d is not in 0..%d", path, t->name, t->ndim, BP_ST_MAX_DIMS);
            goto done;
        }
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0) {
                s = bp_err(err, BP_E_ARG, "%s: tensor '%s': shape[%d] is %lld (negative)", path, t->name, d, (long long)t->shape[d]);
                goto done;
            }
        int fits = shape_bytes(t->shape, t->ndim, bp_dtype_size(t->dtype), &need);
        if (!fits || need != t->nbytes) {
            s = bp_err(err, BP_E_ARG, "%s: tensor '%s': nbytes is %zu but shape %s of %s needs %s%llu", path, t->name,
                       t->nbytes, shape_str(sb, sizeof sb, t->shape, t->ndim), dtype_str(t->dtype),
                       fits ? "" : "more than ", fits ? ULL(need) : ULL(UINT64_MAX));
            goto done;
        }
        if (!t->data && t->nbytes > 0) {
            s = bp_err(err, BP_E_ARG, "%s: tensor '%s': data is NULL but nbytes is %zu", path, t->name, t->nbytes);
            goto done;
        }
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d]))) { json_decref(shape); shape = NULL; }
        json_t *e = shape ? json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_str(t->dtype), "shape", shape,
                                      "data_offsets", (json_int_t)offset, (json_int_t)(offset + t->nbytes))
                          : NULL;
        if (!e || json_object_set_new(root, t->name, e)) {
            s = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        offset += t->nbytes;
    }
    {   /* a checksum of the tensor bytes, which other readers ignore and bp_st_read verifies */
        uLong crc = crc32(0L, Z_NULL, 0);
        for (int i = 0; i < n; i++)
            for (size_t done = 0; done < ts[i].nbytes;) {
                size_t chunk = ts[i].nbytes - done > (1u << 30) ? (1u << 30) : ts[i].nbytes - done;
                crc = crc32(crc, (const Bytef *)ts[i].data + done, (uInt)chunk);
                done += chunk;
            }
        char v[32];
        snprintf(v, sizeof v, "crc32:%08lx", (unsigned long)crc);
        if (json_object_set_new(json_object_get(root, "__metadata__"), BP_ST_CHECKSUM_KEY, json_string(v))) {
            s = bp_err(err, BP_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
done:
    if (s != BP_OK) json_decref(root);
    else *out = root;
    return s;
}

bp_status bp_st_write(const char *path, const bp_st_tensor *tensors, int n,
                      const char *const *meta_keys, const char *const *meta_values,
                      int nmeta, bp_error *err)
{
    if (!path) return bp_err(err, BP_E_ARG, "safetensors write: path is NULL");
    if (!host_is_little_endian())
        return bp_err(err, BP_E_FORMAT, "%s: cannot write safetensors (little-endian) on a big-endian host", path);
    if (n < 0 || nmeta < 0 || (n > 0 && !tensors) || (nmeta > 0 && (!meta_keys || !meta_values)))
        return bp_err(err, BP_E_ARG, "%s: invalid tensor or metadata list (n %d, nmeta %d)", path, n, nmeta);

    json_t *root = NULL;
    bp_status s = build_header(path, tensors, n, meta_keys, meta_values, nmeta, &root, err);
    if (s != BP_OK) return s;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return bp_err(err, BP_E_NOMEM, "%s: out of memory", path);

    size_t len = strlen(text), padded = (len + 7) & ~(size_t)7;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));

    bp_atomic_file af;
    s = bp_atomic_open(&af, path, err);
    if (s != BP_OK) { free(text); return s; }
    int ok = fwrite(lenb, 1, 8, af.fp) == 8 && fwrite(text, 1, len, af.fp) == len;
    for (size_t i = len; ok && i < padded; i++) ok = fputc(' ', af.fp) != EOF;
    for (int i = 0; ok && i < n; i++)
        if (tensors[i].nbytes) ok = fwrite(tensors[i].data, 1, tensors[i].nbytes, af.fp) == tensors[i].nbytes;
    free(text);
    if (!ok) {
        s = bp_err(err, BP_E_IO, "%s: write failed: %s", path, strerror(errno));
        bp_atomic_abort(&af);
        return s;
    }
    return bp_atomic_commit(&af, err);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct range { uint64_t b, e; int i; } range;

static int range_cmp(const void *pa, const void *pb)
{
    const range *a = pa, *b = pb;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;
    return a->i - b->i;
}

/* Validate one tensor entry of the header and fill *t (except data) and *r. */
static bp_status parse_tensor(const char *path, const char *name, json_t *entry, uint64_t dsize,
                              bp_st_tensor *t, range *r, bp_error *err)
{
    const bp_status F = BP_E_FORMAT;
    if (!json_is_object(entry))
        return bp_err(err, F, "%s: tensor '%s': entry is %s, not an object", path, name, jtype(entry));
    const char *k;
    json_t *v;
    json_object_foreach(entry, k, v)
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return bp_err(err, F, "%s: tensor '%s': unknown key '%s'", path, name, k);
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    json_t *jv[3];
    for (int i = 0; i < 3; i++)
        if (!(jv[i] = json_object_get(entry, keys[i])))
            return bp_err(err, F, "%s: tensor '%s': missing \"%s\"", path, name, keys[i]);

    /* dtype */
    if (!json_is_string(jv[0]))
        return bp_err(err, F, "%s: tensor '%s': \"dtype\" is %s, not a string", path, name, jtype(jv[0]));
    const char *dt = json_string_value(jv[0]);
    if (!strcmp(dt, "F32")) t->dtype = BP_F32;
    else if (!strcmp(dt, "F64")) t->dtype = BP_F64;
    else {
        for (int i = 0; known_dtypes[i]; i++)
            if (!strcmp(dt, known_dtypes[i]))
                return bp_err(err, F, "%s: tensor '%s' has dtype %s; only F32 and F64 are supported", path, name, dt);
        return bp_err(err, F, "%s: tensor '%s' has unknown dtype '%s'; only F32 and F64 are supported", path, name, dt);
    }
    size_t es = bp_dtype_size(t->dtype);

    /* shape */
    if (!json_is_array(jv[1]))
        return bp_err(err, F, "%s: tensor '%s': \"shape\" is %s, not an array", path, name, jtype(jv[1]));
    size_t nd = json_array_size(jv[1]);
    if (nd > BP_ST_MAX_DIMS)
        return bp_err(err, F, "%s: tensor '%s': shape has %zu dimensions; at most %d are supported", path, name, nd, BP_ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t d = 0; d < nd; d++) {
        json_t *x = json_array_get(jv[1], d);
        if (!json_is_integer(x))
            return bp_err(err, F, "%s: tensor '%s': shape[%zu] is %s, not a non-negative integer", path, name, d, jtype(x));
        if (json_integer_value(x) < 0)
            return bp_err(err, F, "%s: tensor '%s': shape[%zu] is %lld; dimensions must be non-negative", path, name, d,
                          (long long)json_integer_value(x));
        t->shape[d] = (int64_t)json_integer_value(x);
    }

    /* data_offsets */
    if (!json_is_array(jv[2]) || json_array_size(jv[2]) != 2)
        return bp_err(err, F, "%s: tensor '%s': \"data_offsets\" is %s; it must be an array of 2 integers [begin, end]",
                      path, name, json_is_array(jv[2]) ? "an array of the wrong length" : jtype(jv[2]));
    uint64_t off[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_array_get(jv[2], i);
        if (!json_is_integer(x))
            return bp_err(err, F, "%s: tensor '%s': data_offsets[%zu] is %s, not a non-negative integer", path, name, i, jtype(x));
        if (json_integer_value(x) < 0)
            return bp_err(err, F, "%s: tensor '%s': data_offsets[%zu] is %lld; offsets must be non-negative", path, name, i,
                          (long long)json_integer_value(x));
        off[i] = (uint64_t)json_integer_value(x);
    }
    if (off[1] < off[0])
        return bp_err(err, F, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                      ULL(off[0]), ULL(off[1]));
    if (off[1] > dsize)
        return bp_err(err, F, "%s: tensor '%s': data_offsets [%llu, %llu] are out of range: the data buffer has %llu bytes",
                      path, name, ULL(off[0]), ULL(off[1]), ULL(dsize));
    uint64_t need = 0;
    char sb[128];
    int fits = shape_bytes(t->shape, t->ndim, es, &need);
    if (!fits || need != off[1] - off[0])
        return bp_err(err, F, "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes but shape %s of %s needs %s%llu",
                      path, name, ULL(off[0]), ULL(off[1]), ULL(off[1] - off[0]), shape_str(sb, sizeof sb, t->shape, t->ndim),
                      dt, fits ? "" : "more than ", fits ? ULL(need) : ULL(UINT64_MAX));
    t->name = name;
    t->nbytes = (size_t)need;
    r->b = off[0];
    r->e = off[1];
    return BP_OK;
}

/* Validate the parsed header against the data size and fill f. */
static bp_status parse_header(bp_st_file *f, const char *path, uint64_t dsize, bp_error *err)
{
    const bp_status F = BP_E_FORMAT;
    json_t *root = f->header;
    if (!json_is_object(root))
        return bp_err(err, F, "%s: header is %s, not an object", path, jtype(root));
    json_t *meta = json_object_get(root, "__metadata__");
    const char *k;
    json_t *v;
    if (meta) {
        if (!json_is_object(meta))
            return bp_err(err, F, "%s: header key \"__metadata__\" is %s; it must be an object of strings", path, jtype(meta));
        size_t nm = json_object_size(meta);
        f->meta_keys = bp_calloc(nm, sizeof *f->meta_keys, err);
        f->meta_values = bp_calloc(nm, sizeof *f->meta_values, err);
        if (!f->meta_keys || !f->meta_values) return BP_E_NOMEM;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v))
                return bp_err(err, F, "%s: __metadata__ key '%s' is %s; metadata values must be strings", path, k, jtype(v));
            f->meta_keys[f->nmeta] = k;
            f->meta_values[f->nmeta++] = json_string_value(v);
        }
    }
    size_t nt = json_object_size(root) - (meta != NULL);
    range *r = bp_calloc(nt, sizeof *r, err);
    f->tensors = bp_calloc(nt, sizeof *f->tensors, err);
    f->copies = bp_calloc(nt, sizeof *f->copies, err);
    if (!r || !f->tensors || !f->copies) { free(r); return BP_E_NOMEM; }
    bp_status s = BP_OK;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) continue;
        s = parse_tensor(path, k, v, dsize, &f->tensors[f->n], &r[f->n], err);
        if (s != BP_OK) goto done;
        r[f->n].i = f->n;
        f->n++;
    }

    /* The tensors must tile the byte buffer exactly. */
    qsort(r, nt, sizeof *r, range_cmp);
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t j = 0; j < nt; j++) {
        const char *name = f->tensors[r[j].i].name;
        if (r[j].b < pos) {
            s = bp_err(err, F, "%s: tensor '%s' (data_offsets [%llu, %llu]) overlaps tensor '%s' (data_offsets [%llu, %llu])",
                       path, name, ULL(r[j].b), ULL(r[j].e), prev, ULL(r[j - 1].b), ULL(r[j - 1].e));
            goto done;
        }
        if (r[j].b > pos) {
            s = bp_err(err, F, "%s: data bytes %llu..%llu are not covered by any tensor (a hole %s tensor '%s')",
                       path, ULL(pos), ULL(r[j].b), prev ? "after" : "before", prev ? prev : name);
            goto done;
        }
        pos = r[j].e;
        prev = name;
    }
    if (pos < dsize) {
        s = bp_err(err, F, "%s: %llu extra bytes at the end of the file (data bytes %llu..%llu) belong to no tensor",
                   path, ULL(dsize - pos), ULL(pos), ULL(dsize));
        goto done;
    }

    /* Point every tensor at its data, copying the few that are misaligned. */
    for (size_t j = 0; j < nt; j++) {
        bp_st_tensor *t = &f->tensors[r[j].i];
        unsigned char *p = f->data + r[j].b;
        if ((uintptr_t)p % bp_dtype_size(t->dtype) != 0) {
            if (!(f->copies[r[j].i] = bp_malloc(t->nbytes, err))) { s = BP_E_NOMEM; goto done; }
            memcpy(f->copies[r[j].i], p, t->nbytes);
            p = f->copies[r[j].i];
        }
        t->data = p;
    }
done:
    free(r);
    return s;
}

bp_status bp_st_read(const char *path, bp_st_file **out, bp_error *err)
{
    if (!out) return bp_err(err, BP_E_ARG, "safetensors read: out is NULL");
    *out = NULL;
    if (!path) return bp_err(err, BP_E_ARG, "safetensors read: path is NULL");
    if (!host_is_little_endian())
        return bp_err(err, BP_E_FORMAT, "%s: cannot read safetensors (little-endian) on a big-endian host", path);

    FILE *fp = fopen(path, "rb");
    if (!fp) return bp_err(err, BP_E_IO, "%s: cannot open: %s", path, strerror(errno));
    bp_st_file *f = NULL;
    char *hdr = NULL;
    bp_status s = BP_OK;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) { s = bp_err(err, BP_E_IO, "%s: cannot stat: %s", path, strerror(errno)); goto done; }
    if (!S_ISREG(st.st_mode)) { s = bp_err(err, BP_E_IO, "%s: not a regular file", path); goto done; }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        s = bp_err(err, BP_E_FORMAT, "%s: file is %llu bytes, shorter than the 8-byte header length that starts a safetensors file",
                   path, ULL(size));
        goto done;
    }
    unsigned char lenb[8];
    if (fread(lenb, 1, 8, fp) != 8) { s = bp_err(err, BP_E_IO, "%s: read error at byte offset 0", path); goto done; }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    if (hlen > BP_ST_MAX_HEADER) {
        s = bp_err(err, BP_E_FORMAT, "%s: header length %llu (byte offset 0) is absurd (limit %llu); damaged or not a safetensors file",
                   path, ULL(hlen), ULL(BP_ST_MAX_HEADER));
        goto done;
    }
    if (hlen > size - 8) {
        s = bp_err(err, BP_E_FORMAT, "%s: header length %llu (byte offset 0) is larger than the %llu bytes after it; truncated or not a safetensors file",
                   path, ULL(hlen), ULL(size - 8));
        goto done;
    }
    uint64_t dsize = size - 8 - hlen;
    if (dsize > SIZE_MAX) { s = bp_err(err, BP_E_NOMEM, "%s: too large for memory", path); goto done; }
    if (!(hdr = bp_malloc((size_t)hlen + 1, err)) || !(f = bp_calloc(1, sizeof *f, err)) ||
        !(f->data = bp_malloc((size_t)dsize, err))) { s = BP_E_NOMEM; goto done; }
    if (fread(hdr, 1, (size_t)hlen, fp) != hlen || fread(f->data, 1, (size_t)dsize, fp) != dsize) {
        s = bp_err(err, BP_E_IO, "%s: read error or file changed while reading", path);
        goto done;
    }
    json_error_t je;
    f->header = json_loadb(hdr, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!f->header) {
        s = bp_err(err, BP_E_FORMAT, "%s: header is not valid JSON: %s (line %d, column %d, byte offset %lld)",
                   path, je.text, je.line, je.column, 8LL + (long long)je.position);
        goto done;
    }
    s = parse_header(f, path, dsize, err);
    const char *sum = s == BP_OK ? bp_st_meta(f, BP_ST_CHECKSUM_KEY) : NULL;
    if (sum) {
        unsigned long want;
        char tail;
        if (sscanf(sum, "crc32:%8lx%c", &want, &tail) != 1 || strlen(sum) != 14 ||
            strspn(sum + 6, "0123456789abcdef") != 8) {   /* exactly as written: lowercase hex */
            s = bp_err(err, BP_E_FORMAT, "%s: __metadata__.%s is '%.40s', not crc32:XXXXXXXX", path,
                       BP_ST_CHECKSUM_KEY, sum);
            goto done;
        }
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t off = 0; off < dsize;) {
            uint64_t chunk = dsize - off > (1u << 30) ? (1u << 30) : dsize - off;
            crc = crc32(crc, (const Bytef *)f->data + off, (uInt)chunk);
            off += chunk;
        }
        if (crc != want)
            s = bp_err(err, BP_E_FORMAT, "%s: the tensor data does not match the file's checksum (crc32 %08lx, the "
                       "file says %08lx): the file is damaged", path, (unsigned long)crc, want);
    }
done:
    fclose(fp);
    free(hdr);
    if (s != BP_OK) bp_st_free(f);
    else *out = f;
    return s;
}

void bp_st_free(bp_st_file *f)
{
    if (!f) return;
    for (int i = 0; f->copies && i < f->n; i++) free(f->copies[i]);
    free(f->copies);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->data);
    json_decref(f->header);
    free(f);
}

int bp_st_count(const bp_st_file *f) { return f ? f->n : 0; }

const bp_st_tensor *bp_st_get(const bp_st_file *f, int i)
{
    return f && i >= 0 && i < f->n ? &f->tensors[i] : NULL;
}

const bp_st_tensor *bp_st_find(const bp_st_file *f, const char *name)
{
    for (int i = 0; f && name && i < f->n; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *bp_st_meta(const bp_st_file *f, const char *key)
{
    for (int i = 0; f && key && i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int bp_st_meta_count(const bp_st_file *f) { return f ? f->nmeta : 0; }

int bp_st_meta_at(const bp_st_file *f, int i, const char **key, const char **value)
{
    if (!f || i < 0 || i >= f->nmeta) return 0;
    if (key) *key = f->meta_keys[i];
    if (value) *value = f->meta_values[i];
    return 1;
}
