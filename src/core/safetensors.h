/* core/safetensors.h - reading and writing safetensors files (internal).
 *
 * The format (as used by PyTorch / Hugging Face):
 *   bytes 0..7     N, the header length, a little-endian uint64;
 *   bytes 8..8+N   the header: UTF-8 JSON, an object mapping each tensor name to
 *                  {"dtype": "F32", "shape": [d0, ...], "data_offsets": [b, e]}
 *                  plus an optional "__metadata__": {string: string, ...};
 *                  it may end in spaces (padding);
 *   the rest       the byte buffer: the raw little-endian tensor data; tensor t
 *                  occupies bytes [b, e) of it (relative to the buffer start).
 * The tensors must cover the byte buffer exactly: no overlaps, no holes, no
 * bytes after the last tensor.
 *
 * Only F32 and F64 tensors of 0 to 4 dimensions are supported.  Other dtypes
 * (BF16, F16, I64, ...) are recognised when reading and refused with a clear
 * error.  Files are little-endian; on a big-endian host read and write fail
 * with BP_E_FORMAT.
 *
 * Errors follow the library conventions: a bp_status is returned and the
 * caller's bp_error (may be NULL) gets one line naming the file, the place
 * (tensor name, header key, byte offset) and the problem.
 */
#ifndef BP_SAFETENSORS_H
#define BP_SAFETENSORS_H

#include "core/base.h"
#include <stddef.h>
#include <stdint.h>

/* The metadata key of the checksum every file written here carries:
 * "crc32:XXXXXXXX" over the byte buffer (all tensors, in order; zlib's
 * CRC-32). Other readers (PyTorch, Hugging Face) ignore it; bp_st_read
 * verifies it when it is there, so a damaged file is refused, and reads
 * files without one (written elsewhere) as before. */
#define BP_ST_CHECKSUM_KEY "checksum"

/* The most dimensions a tensor may have. */
#define BP_ST_MAX_DIMS 4

/* Header lengths above this are refused as damaged or foreign (100 MB). */
#define BP_ST_MAX_HEADER 100000000ULL

/* One tensor.  For writing, every field is filled by the caller and nothing is
 * taken over.  For reading, the descriptor, `name` and `data` are owned by the
 * bp_st_file they came from and stay valid until bp_st_free. */
typedef struct bp_st_tensor {
    const char *name;                /* UTF-8, unique in a file, not "__metadata__" */
    bp_dtype dtype;                  /* BP_F32 or BP_F64 */
    int ndim;                        /* 0 (a scalar) .. BP_ST_MAX_DIMS */
    int64_t shape[BP_ST_MAX_DIMS];   /* shape[0..ndim-1], each >= 0 */
    const void *data;                /* row-major little-endian elements; may be
                                        NULL only when nbytes == 0.  When read,
                                        aligned to the element size */
    size_t nbytes;                   /* product(shape) * element size */
} bp_st_tensor;

/* A file read into memory (opaque). */
typedef struct bp_st_file bp_st_file;

/* Write `n` tensors (in the order given, contiguous, the first at offset 0)
 * and `nmeta` metadata pairs (keys unique; may be 0 with NULL arrays) to
 * `path`.  The header is padded with spaces to a multiple of 8 bytes, so with
 * the 8-byte length prefix the data starts 8-byte aligned.
 * The write is atomic: a temporary file next to `path` is written, fsynced and
 * renamed over `path`; on any failure it is removed and an existing `path` is
 * left untouched.
 * Errors: BP_E_ARG for invalid descriptors (bad dtype/ndim/shape, nbytes not
 * matching the shape, NULL data with nbytes > 0, duplicate or reserved names,
 * duplicate metadata keys, text that is not UTF-8), BP_E_IO, BP_E_NOMEM. */
bp_status bp_st_write(const char *path, const bp_st_tensor *tensors, int n,
                      const char *const *meta_keys, const char *const *meta_values,
                      int nmeta, bp_error *err);

/* Read and validate the whole file at `path`.  On success *out receives a new
 * object owned by the caller (release with bp_st_free); on failure *out is
 * NULL.  Errors: BP_E_IO (cannot open or read), BP_E_NOMEM, BP_E_FORMAT (a
 * damaged or foreign file, or a dtype other than F32/F64). */
bp_status bp_st_read(const char *path, bp_st_file **out, bp_error *err);

/* Release a file and everything it owns.  Accepts NULL. */
void bp_st_free(bp_st_file *f);

/* Number of tensors in the file. */
int bp_st_count(const bp_st_file *f);

/* Tensor i (0-based, in header order), or NULL if i is out of range. */
const bp_st_tensor *bp_st_get(const bp_st_file *f, int i);

/* The tensor called `name`, or NULL if there is none. */
const bp_st_tensor *bp_st_find(const bp_st_file *f, const char *name);

/* The metadata value for `key` (owned by the file), or NULL if absent. */
const char *bp_st_meta(const bp_st_file *f, const char *key);

/* Number of metadata pairs, and pair i (0-based, in header order) through
 * *key and *value (owned by the file).  bp_st_meta_at returns 0 if i is out
 * of range (leaving *key and *value unchanged), 1 otherwise. */
int bp_st_meta_count(const bp_st_file *f);
int bp_st_meta_at(const bp_st_file *f, int i, const char **key, const char **value);

#endif /* BP_SAFETENSORS_H */
