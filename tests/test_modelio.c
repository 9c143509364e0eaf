/* test_modelio.c - tests of src/io/model_st.c and src/io/model_json.c: safetensors model files (bit-exact
 * round trips, strict rejection of damaged and foreign files, atomic writes)
 * and JSON model export. Exit status 0 iff all pass. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "core/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files in the directory whose name contains ".tmp." (leftovers of an atomic write). */
static int temp_files(void) { return check_count_entries(".tmp."); }

/* A 3-layer net: 3 -> 4 tanh -> 5 relu -> 2 (softmax or linear), random
 * parameters with a few awkward values (-0, a subnormal, a huge one). */
static bp_net *make_net(bp_dtype dt, bp_layout layout, int bias_mask, int softmax, uint64_t seed)
{
    bp_net_spec s;
    memset(&s, 0, sizeof s);
    s.inputs = 3;
    s.nlayers = 3;
    s.layers[0] = (bp_layer_spec){4, BP_ACT_TANH, bias_mask & 1, 0};
    s.layers[1] = (bp_layer_spec){5, BP_ACT_RELU, (bias_mask >> 1) & 1, 0};
    s.layers[2] = (bp_layer_spec){2, softmax ? BP_ACT_SOFTMAX : BP_ACT_LINEAR, (bias_mask >> 2) & 1, 0};
    s.layout = layout;
    s.loss = softmax ? BP_LOSS_CE : BP_LOSS_NONE;
    s.reduction = softmax ? BP_MEAN : BP_SUM;
    bp_net *net;
    bp_error err;
    if (bp_net_new(&s, dt, &net, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    bp_net_init(net, BP_INIT_SMALL_UNIFORM, seed);
    bp_mat W = bp_net_weight(net, 1);
    bp_mat_set(&W, 0, 0, -0.0);
    bp_mat_set(&W, 1, 1, dt == BP_F64 ? 4.9e-320 : 1e-40);
    bp_mat_set(&W, 0, 2, 1.2345678901234567e30);
    bp_mat_set(&W, 1, 0, 1.0 / 3.0);
    return net;
}

static int same_spec(const bp_net_spec *a, const bp_net_spec *b)
{
    if (a->inputs != b->inputs || a->nlayers != b->nlayers || a->layout != b->layout || a->loss != b->loss ||
        a->reduction != b->reduction)
        return 0;
    for (int l = 0; l < a->nlayers; l++)
        if (a->layers[l].units != b->layers[l].units || a->layers[l].act != b->layers[l].act ||
            a->layers[l].bias != b->layers[l].bias)
            return 0;
    return 1;
}

/* Same spec, dtype and parameter bytes. */
static int same_net(bp_net *a, bp_net *b)
{
    return a && b && same_spec(bp_net_get_spec(a), bp_net_get_spec(b)) && bp_net_dtype(a) == bp_net_dtype(b) &&
           bp_net_nparams(a) == bp_net_nparams(b) &&
           !memcmp(bp_net_params(a), bp_net_params(b), bp_net_nparams(a) * (bp_net_dtype(a) == BP_F64 ? 8 : 4));
}

static void make_scaler(bp_scaler *sc, int n)
{
    sc->features = n;
    sc->mean = malloc(n * sizeof(float));
    sc->std = malloc(n * sizeof(float));
    for (int j = 0; j < n; j++) {
        sc->mean[j] = 0.1f * (float)j - 1.0f / 3.0f;
        sc->std[j] = 1.0f + (float)j / 7.0f;
    }
}

static bp_status load(const char *path, bp_net **net, bp_error *err)
{
    return bp_net_load(path, BP_F64, net, NULL, err);
}

/* Load must fail with BP_E_FORMAT and a message naming the file (and `needle`). */
static void expect_format(const char *path, const char *needle, const char *what)
{
    bp_net *net = (bp_net *)1;
    bp_error err = {0};
    bp_status st = load(path, &net, &err);
    CHECK(st == BP_E_FORMAT, "%s: status %s, want format error (%s)", what, bp_status_name(st), err.msg);
    CHECK(net == NULL, "%s: *out not NULL on failure", what);
    CHECK(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", what, err.msg);
    CHECK(!needle || strstr(err.msg, needle), "%s: message lacks '%s': %s", what, needle, err.msg);
    CHECK(!strchr(err.msg, '\n'), "%s: message is more than one line", what);
    if (st == BP_OK) bp_net_free(net);
}

static void test_round_trips(void)
{
    bp_error err;
    for (int dt = 0; dt < 2; dt++)
        for (int layout = 0; layout < 2; layout++)
            for (int bias = 0; bias < 8; bias += 3) /* 0, 3, 6: none, first two, last two */
                for (int with_sc = 0; with_sc < 2; with_sc++) {
                    bp_net *a = make_net((bp_dtype)dt, (bp_layout)layout, bias, with_sc, 10 + bias), *b = NULL, *c = NULL;
                    bp_scaler sc = {0}, sc2 = {0};
                    if (with_sc) make_scaler(&sc, 3);
                    const char *p = check_path("rt.safetensors");
                    bp_status st = bp_net_save(a, with_sc ? &sc : NULL, p, &err);
                    CHECK(st == BP_OK, "save: %s", err.msg);
                    st = bp_net_load(p, (bp_dtype)dt, &b, &sc2, &err);
                    CHECK(st == BP_OK, "load: %s", err.msg);
                    CHECK(same_net(a, b), "round trip %s layout %d bias %d scaler %d not bit-exact",
                          bp_dtype_name((bp_dtype)dt), layout, bias, with_sc);
                    CHECK(sc2.features == (with_sc ? 3 : 0), "scaler features %d", sc2.features);
                    if (with_sc && sc2.features == 3)
                        CHECK(!memcmp(sc.mean, sc2.mean, 12) && !memcmp(sc.std, sc2.std, 12), "scaler not bit-exact");
                    /* the other dtype: the same numbers, converted */
                    st = bp_net_load(p, (bp_dtype)!dt, &c, NULL, &err);
                    CHECK(st == BP_OK && bp_net_dtype(c) == (bp_dtype)!dt, "load as other dtype: %s", err.msg);
                    for (int l = 0; st == BP_OK && l < 3; l++) {
                        bp_mat Wa = bp_net_weight(a, l), Wc = bp_net_weight(c, l);
                        int ok = Wa.rows == Wc.rows && Wa.cols == Wc.cols;
                        for (int i = 0; ok && i < Wa.rows; i++)
                            for (int j = 0; j < Wa.cols; j++) {
                                double x = bp_mat_get(&Wa, i, j), y = bp_mat_get(&Wc, i, j);
                                ok &= dt == BP_F32 ? x == y : (double)(float)x == y;
                            }
                        CHECK(ok, "layer %d converted weights differ", l);
                    }
                    /* on disk: W is units x fan_in whatever the layout */
                    bp_st_file *f;
                    if (bp_st_read(p, &f, &err) == BP_OK) {
                        const bp_st_tensor *t = bp_st_find(f, "layers.0.weight");
                        bp_mat W = bp_net_weight(a, 0);
                        CHECK(t && t->ndim == 2 && t->shape[0] == 4 && t->shape[1] == 3 && t->dtype == (bp_dtype)dt,
                              "layers.0.weight is not 4 x 3 %s", bp_dtype_name((bp_dtype)dt));
                        double w21 = dt == BP_F64 ? ((const double *)t->data)[2 * 3 + 1] : ((const float *)t->data)[2 * 3 + 1];
                        double want = layout == BP_OUT_IN ? bp_mat_get(&W, 2, 1) : bp_mat_get(&W, 1, 2);
                        CHECK(w21 == want, "layers.0.weight[2][1] is %g, want %g", w21, want);
                        CHECK(!strcmp(bp_st_meta(f, "format"), "backprop") && !strcmp(bp_st_meta(f, "version"), "1"),
                              "format/version metadata");
                        CHECK((bp_st_find(f, "layers.0.bias") != NULL) == ((bias & 1) != 0), "layers.0.bias presence");
                        const bp_st_tensor *m = bp_st_find(f, "scaler.mean");
                        CHECK(with_sc ? m && m->dtype == BP_F32 && m->ndim == 1 && m->shape[0] == 3 : !m, "scaler.mean tensor");
                        CHECK(bp_st_count(f) == 3 + ((bias & 1) != 0) + ((bias & 2) != 0) + ((bias & 4) != 0) + 2 * with_sc,
                              "tensor count %d", bp_st_count(f));
                        if (layout == BP_IN_OUT && bias == 6 && with_sc && dt == BP_F64)
                            CHECK(!strcmp(bp_st_meta(f, "architecture"),
                                          "{\"inputs\":3,\"weight_layout\":\"in_out\",\"layers\":["
                                          "{\"units\":4,\"activation\":\"tanh\",\"bias\":false},"
                                          "{\"units\":5,\"activation\":\"relu\",\"bias\":true},"
                                          "{\"units\":2,\"activation\":\"softmax\",\"bias\":true}],"
                                          "\"loss\":\"cross_entropy\",\"reduction\":\"mean\"}"),
                                  "architecture: %s", bp_st_meta(f, "architecture"));
                        bp_st_free(f);
                    }
                    bp_net_free(a); bp_net_free(b); bp_net_free(c);
                    bp_scaler_free(&sc); bp_scaler_free(&sc2);
                }
    CHECK(temp_files() == 0, "temporary files left behind");
}

static void test_json_export(void)
{
    bp_error err;
    double xs[] = {1, 2, 3, -0.5, 1.0 / 3.0, 1e-300, 0, -0.0, 7};
    double ys[] = {1, 0, 0, 1, 0.25, 0.75};
    bp_mat x = {3, 3, BP_F64, xs}, y = {3, 2, BP_F64, ys};
    for (int dt = 0; dt < 2; dt++)
        for (int layout = 0; layout < 2; layout++)
            for (int softmax = 0; softmax < 2; softmax++) {
                bp_net *a = make_net((bp_dtype)dt, (bp_layout)layout, softmax ? 5 : 2, softmax, 99);
                const char *p = check_path("m.json");
                bp_status st = bp_model_save_json(a, &x, softmax ? &y : NULL, p, &err);
                CHECK(st == BP_OK, "save_json: %s", err.msg);
                bp_model *m = NULL;
                st = bp_model_load(p, (bp_dtype)dt, &m, &err);
                CHECK(st == BP_OK, "the exported JSON does not load: %s", err.msg);
                if (st) { bp_net_free(a); continue; }
                CHECK(same_net(a, bp_model_net(m)), "JSON round trip %s layout %d not exact", bp_dtype_name((bp_dtype)dt), layout);
                bp_mat mx, my;
                CHECK(bp_model_data(m, &mx, &my) == 1 && mx.rows == 3 && !memcmp(mx.data, xs, sizeof xs), "data.x differs");
                CHECK(softmax ? my.rows == 3 && !memcmp(my.data, ys, sizeof ys) : my.rows == 0, "data.y differs");
                bp_model_free(m);
                /* an f32 net's numbers are exact in f64 too (an exact widening) */
                if (dt == BP_F32 && bp_model_load(p, BP_F64, &m, &err) == BP_OK) {
                    bp_net *w;
                    bp_net_clone(a, BP_F64, &w, &err);
                    CHECK(same_net(w, bp_model_net(m)), "f32 net read as f64 is not the exact widening");
                    bp_net_free(w);
                    bp_model_free(m);
                }
                /* no data */
                CHECK(bp_model_save_json(a, NULL, NULL, p, &err) == BP_OK, "save_json without data: %s", err.msg);
                if (bp_model_load(p, BP_F64, &m, &err) == BP_OK) {
                    CHECK(bp_model_data(m, NULL, NULL) == 0, "data appeared from nowhere");
                    bp_model_free(m);
                }
                bp_net_free(a);
            }
    /* readable: one matrix row per line */
    bp_net *a = make_net(BP_F64, BP_OUT_IN, 7, 0, 5);
    const char *p = check_path("m.json");
    bp_model_save_json(a, &x, NULL, p, &err);
    size_t n;
    char *text = (char *)check_slurp(p, &n);
    text[n] = 0;
    CHECK(strstr(text, "\n  \"inputs\": 3,\n") && strstr(text, "\n      \"W\": [\n        [") &&
          strstr(text, "\n        [-0.0, ") && strstr(text, "\"x\": [\n      [1, 2, 3],\n      [-0.5, 0.3333333333333333, 1e-300],\n"),
          "layout of the JSON text:\n%s", text);
    CHECK(!strstr(text, "\"loss\""), "loss none should be omitted");
    free(text);
    /* bad input: nothing written, an existing file untouched */
    bp_mat xbad = {3, 2, BP_F64, xs};
    CHECK(bp_model_save_json(a, &xbad, NULL, p, &err) == BP_E_SHAPE, "x of the wrong width accepted");
    double nan_x[9];
    memcpy(nan_x, xs, sizeof xs);
    nan_x[4] = NAN;
    bp_mat xn = {3, 3, BP_F64, nan_x};
    CHECK(bp_model_save_json(a, &xn, NULL, p, &err) == BP_E_VALUE && strstr(err.msg, "data.x[1][1]"), "NaN in x: %s", err.msg);
    bp_model *m;
    CHECK(bp_model_load(p, BP_F64, &m, &err) == BP_OK, "previous JSON damaged: %s", err.msg);
    bp_model_free(m);
    CHECK(bp_model_save_json(a, NULL, NULL, check_path("no/such/dir/m.json"), &err) == BP_E_IO, "json into a missing dir");
    CHECK(temp_files() == 0, "temporary files left behind");
    bp_net_free(a);
}

/* Rewrite the file `src` with different metadata (NULL: drop the key). */
static void rewrite_meta(const char *src, const char *dst, const char *format, const char *version, const char *arch)
{
    bp_st_file *f;
    bp_error err;
    if (bp_st_read(src, &f, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    bp_st_tensor t[16];
    int n = bp_st_count(f);
    for (int i = 0; i < n; i++) t[i] = *bp_st_get(f, i);
    const char *k[3], *v[3];
    int nm = 0;
    if (format) { k[nm] = "format"; v[nm++] = format; }
    if (version) { k[nm] = "version"; v[nm++] = version; }
    if (arch) { k[nm] = "architecture"; v[nm++] = arch; }
    if (bp_st_write(dst, t, n, k, v, nm, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    bp_st_free(f);
}

/* dst = src with element i of tensor `name` (f32) set to v, and src's metadata. */
static void rewrite_value(const char *src, const char *dst, const char *name, size_t i, float v)
{
    bp_st_file *f;
    bp_error err;
    if (bp_st_read(src, &f, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    bp_st_tensor t[16];
    void *copy = NULL;
    int n = bp_st_count(f);
    for (int k = 0; k < n; k++) {
        t[k] = *bp_st_get(f, k);
        if (!strcmp(t[k].name, name)) {
            copy = malloc(t[k].nbytes);
            memcpy(copy, t[k].data, t[k].nbytes);
            ((float *)copy)[i] = v;
            t[k].data = copy;
        }
    }
    const char *mk[8], *mv[8];
    int nm = 0;
    for (int k = 0; k < bp_st_meta_count(f) && nm < 8; k++)
        if (bp_st_meta_at(f, k, &mk[nm], &mv[nm]) && strcmp(mk[nm], BP_ST_CHECKSUM_KEY)) nm++;
    if (bp_st_write(dst, t, n, mk, mv, nm, &err)) { fprintf(stderr, "%s\n", err.msg); exit(2); }
    free(copy);
    bp_st_free(f);
}

static void test_damaged(void)
{
    bp_error err;
    bp_net *a = make_net(BP_F32, BP_OUT_IN, 7, 1, 3);
    bp_scaler sc = {0};
    make_scaler(&sc, 3);
    const char *good = check_path("good.safetensors"), *bad = check_path("bad.safetensors");
    CHECK(bp_net_save(a, &sc, good, &err) == BP_OK, "save: %s", err.msg);
    size_t n;
    unsigned char *b = check_slurp(good, &n);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | b[i];

    size_t cuts[] = {0, 1, 7, 8, 9, 8 + hlen / 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 1, n - 4, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu bytes", cuts[i], n);
        check_write(bad, b, cuts[i]);
        expect_format(bad, NULL, what);
    }
    /* every single-bit flip (and case flip) of a header byte is caught */
    int flips_ok = 1;
    for (size_t i = 0; i < 8 + hlen; i++)
        for (int m = 0; m < 2; m++) {
            unsigned char mask = m ? 0x20 : 0x01;
            b[i] ^= mask;
            check_write(bad, b, n);
            bp_net *net = NULL;
            bp_status st = load(bad, &net, &err);
            if (st != BP_E_FORMAT || !strstr(err.msg, bad)) {
                if (flips_ok) fprintf(stderr, "flip 0x%02x at byte %zu: %s: %s\n", mask, i, bp_status_name(st), st ? err.msg : "");
                flips_ok = 0;
            }
            bp_net_free(net);
            b[i] ^= mask;
        }
    CHECK(flips_ok, "a flipped header byte was not rejected as a format error");

    /* a shape changed in the header (same byte count, so the file stays valid safetensors) */
    char *h = memchr(b, '{', n);
    char *shp = h ? strstr(h, "\"shape\":[4,3]") : NULL;
    CHECK(shp != NULL, "shape [4,3] not found in the header");
    if (shp) {
        memcpy(shp, "\"shape\":[3,4]", 13);
        check_write(bad, b, n);
        expect_format(bad, "layers.0.weight' has shape [3, 4]; the architecture needs [4, 3]", "changed shape");
        memcpy(shp, "\"shape\":[4,3]", 13);
    }
    /* NaN and Inf in the data, a zero std (written through the API, so that the checksum fits) */
    rewrite_value(good, bad, "layers.1.weight", 6, NAN); /* element [1, 2] of a 5 x 4 */
    expect_format(bad, "'layers.1.weight' element [1, 2] is nan", "NaN weight");
    rewrite_value(good, bad, "layers.1.weight", 6, -INFINITY);
    expect_format(bad, "element [1, 2] is -inf", "Inf weight");
    rewrite_value(good, bad, "scaler.std", 1, 0);
    expect_format(bad, "'scaler.std' element [1] is 0", "zero std");
    /* every single-bit flip of the tensor data is caught by the checksum */
    int dflips_ok = 1;
    for (size_t i = 8 + hlen; i < n; i += 3) {
        b[i] ^= (unsigned char)(1u << (i % 8));
        check_write(bad, b, n);
        bp_net *net = NULL;
        bp_status st = load(bad, &net, &err);
        if (st != BP_E_FORMAT || !strstr(err.msg, "checksum")) {
            if (dflips_ok) fprintf(stderr, "data flip at byte %zu: %s: %s\n", i, bp_status_name(st), st ? err.msg : "");
            dflips_ok = 0;
        }
        bp_net_free(net);
        b[i] ^= (unsigned char)(1u << (i % 8));
    }
    CHECK(dflips_ok, "a flipped data bit was not rejected");
    free(b);

    /* metadata problems */
    char arch[1024];
    bp_st_file *f;
    bp_st_read(good, &f, &err);
    snprintf(arch, sizeof arch, "%s", bp_st_meta(f, "architecture"));
    bp_st_free(f);
    rewrite_meta(good, bad, "backprop", "2", arch);
    expect_format(bad, "version is \"2\"", "version 2");
    rewrite_meta(good, bad, "backprop", NULL, arch);
    expect_format(bad, "version is missing", "no version");
    rewrite_meta(good, bad, "backprop", "1", NULL);
    expect_format(bad, "architecture is missing", "no architecture");
    rewrite_meta(good, bad, "backprop", "1", "{\"inputs\":3,");
    expect_format(bad, "__metadata__.architecture: invalid JSON", "architecture not JSON");
    static const struct { const char *from, *to, *needle; } edits[] = {
        {"\"inputs\":3", "\"inputs\":0", "architecture: inputs: expected an integer"},
        {"\"inputs\":3", "\"inputs\":3.0", "architecture: inputs: expected an integer"},
        {"\"inputs\":3", "\"inputs\":4", "'layers.0.weight' has shape [4, 3]; the architecture needs [4, 4]"},
        {"\"units\":5", "\"units\":5,\"W\":1", "architecture: layers[1]: unknown key \"W\""},
        {",\"bias\":true}", "}", "architecture: layers[0]: missing key \"bias\""},
        {"\"relu\"", "\"gelu\"", "architecture: layers[1].activation: unknown name \"gelu\""},
        {"\"bias\":true}", "\"bias\":1}", "architecture: layers[0].bias: expected true, false or \"trick\""},
        {"\"mean\"", "\"avg\"", "architecture: reduction: unknown name"},
        {"\"cross_entropy\"", "\"bce\"", "bce needs a sigmoid output"},
        {"\"tanh\"", "\"softmax\"", "softmax is allowed on the last layer only"},
        {",\"reduction\":\"mean\"", ",\"reduction\":\"mean\",\"x\":1", "architecture: $: unknown key \"x\""},
        {"\"units\":4,\"activation\":\"tanh\",\"bias\":true", "\"units\":4,\"activation\":\"tanh\",\"bias\":false",
         "'layers.0.bias' is present but the architecture says layer 0 has no bias"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char *at = strstr(arch, edits[i].from), edited[1200];
        CHECK(at != NULL, "'%s' not in %s", edits[i].from, arch);
        if (!at) continue;
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - arch), arch, edits[i].to, at + strlen(edits[i].from));
        rewrite_meta(good, bad, "backprop", "1", edited);
        expect_format(bad, edits[i].needle, edits[i].to);
    }

    /* missing and extra tensors */
    bp_st_read(good, &f, &err);
    bp_st_tensor t[16];
    int nt = bp_st_count(f), k = 0;
    for (int i = 0; i < nt; i++)
        if (strcmp(bp_st_get(f, i)->name, "layers.2.bias")) t[k++] = *bp_st_get(f, i);
    const char *mk[] = {"format", "version", "architecture"}, *mv[] = {"backprop", "1", arch};
    bp_st_write(bad, t, k, mk, mv, 3, &err);
    expect_format(bad, "tensor 'layers.2.bias' is missing", "missing bias");
    for (int i = 0; i < nt; i++) t[i] = *bp_st_get(f, i);
    float extra[2] = {1, 2};
    t[nt] = (bp_st_tensor){"optimizer.m", BP_F32, 1, {2}, extra, 8};
    bp_st_write(bad, t, nt + 1, mk, mv, 3, &err);
    expect_format(bad, "unexpected tensor 'optimizer.m'", "extra tensor");
    k = 0;
    for (int i = 0; i < nt; i++)
        if (strcmp(bp_st_get(f, i)->name, "scaler.std")) t[k++] = *bp_st_get(f, i);
    bp_st_write(bad, t, k, mk, mv, 3, &err);
    expect_format(bad, "tensor 'scaler.std' is missing", "half a scaler");
    bp_st_free(f);

    /* the file is untouched by a load, and still good */
    bp_net *c = NULL;
    CHECK(bp_net_load(good, BP_F32, &c, NULL, &err) == BP_OK && same_net(a, c), "good file no longer loads: %s", err.msg);
    bp_net_free(c);
    bp_net_free(a);
    bp_scaler_free(&sc);
}

static void test_foreign(void)
{
    bp_error err;
    float w[6] = {1, 2, 3, 4, 5, 6};
    bp_st_tensor t[7];
    static const char *names[] = {"embed.weight", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "head.weight", "head.bias"};
    for (int i = 0; i < 7; i++) t[i] = (bp_st_tensor){names[i], BP_F32, 2, {2, 3}, w, sizeof w};
    const char *p = check_path("foreign.safetensors");
    CHECK(bp_st_write(p, t, 2, NULL, NULL, 0, &err) == BP_OK, "write foreign: %s", err.msg);
    expect_format(p, "not a backprop model (no __metadata__.format = backprop); it holds tensors: embed.weight, fc1.weight",
                  "foreign file");
    CHECK(bp_st_write(p, t, 7, NULL, NULL, 0, &err) == BP_OK, "write foreign: %s", err.msg);
    expect_format(p, "tensors: embed.weight, fc1.weight, fc1.bias, fc2.weight, fc2.bias, ... (7 in all)", "foreign, 7 tensors");
    const char *k[] = {"format"}, *v[] = {"pt"};
    CHECK(bp_st_write(p, t, 1, k, v, 1, &err) == BP_OK, "write foreign: %s", err.msg);
    expect_format(p, "__metadata__.format is \"pt\", not backprop", "format pt");
    CHECK(bp_st_write(p, t, 0, NULL, NULL, 0, &err) == BP_OK, "write empty: %s", err.msg);
    expect_format(p, "it holds no tensors", "empty safetensors");

    /* not safetensors at all */
    const char *j = check_path("model.json");
    check_write(j, "{\n  \"inputs\": 2,\n  \"layers\": []\n}\n", 33);
    expect_format(j, "looks like a JSON model file", "a JSON model");
    unsigned char rnd[300];
    for (int i = 0; i < 300; i++) rnd[i] = (unsigned char)(i * 7919 + 13);
    check_write(p, rnd, sizeof rnd);
    expect_format(p, NULL, "random bytes");
    bp_net *net;
    CHECK(bp_net_load(check_path("absent.safetensors"), BP_F32, &net, NULL, &err) == BP_E_IO && strstr(err.msg, "absent"),
          "missing file: %s", err.msg);
}

static void test_atomic(void)
{
    bp_error err;
    bp_net *a = make_net(BP_F64, BP_IN_OUT, 7, 0, 1), *b = make_net(BP_F64, BP_IN_OUT, 7, 0, 2), *c = NULL;
    const char *p = check_path("atomic.safetensors");
    CHECK(bp_net_save(a, NULL, check_path("missing-dir/x.safetensors"), &err) == BP_E_IO && strstr(err.msg, "missing-dir"),
          "save into a missing directory: %s", err.msg);
    struct stat st;
    CHECK(stat(check_path("missing-dir"), &st) != 0, "the missing directory was created");
    CHECK(bp_net_save(a, NULL, p, &err) == BP_OK, "save: %s", err.msg);
    CHECK(bp_net_save(b, NULL, p, &err) == BP_OK, "save over: %s", err.msg);
    CHECK(bp_net_load(p, BP_F64, &c, NULL, &err) == BP_OK && same_net(b, c), "the second save did not replace the first");
    bp_net_free(c);
    c = NULL;
    CHECK(temp_files() == 0, "temporary files left behind");
    /* a save that fails leaves the previous file as it was */
    bp_mat W = bp_net_weight(a, 2);
    bp_mat_set(&W, 1, 0, NAN);
    CHECK(bp_net_save(a, NULL, p, &err) == BP_E_VALUE && strstr(err.msg, "layer 2"), "NaN weight saved: %s", err.msg);
    bp_scaler sc = {0};
    make_scaler(&sc, 2);
    bp_mat_set(&W, 1, 0, 0.5);
    CHECK(bp_net_save(a, &sc, p, &err) == BP_E_ARG, "scaler of the wrong size accepted");
    bp_scaler_free(&sc);
    make_scaler(&sc, 3);
    sc.std[2] = 0;
    CHECK(bp_net_save(a, &sc, p, &err) == BP_E_ARG, "scaler with std 0 accepted");
    bp_scaler_free(&sc);
    if (geteuid() != 0) { /* a directory we may not write into (root may write anywhere) */
        chmod(check_dir(), 0555);
        CHECK(bp_net_save(a, NULL, p, &err) == BP_E_IO, "save into a read-only directory: %s", err.msg);
        chmod(check_dir(), 0755);
    }
    CHECK(bp_net_load(p, BP_F64, &c, NULL, &err) == BP_OK && same_net(b, c), "a failed save damaged the previous file");
    CHECK(temp_files() == 0, "temporary files left behind");
    bp_net_free(a); bp_net_free(b); bp_net_free(c);
}

/* Numbers beyond the float32 range are refused, not turned into inf, when a
 * model is loaded (or given data) in f32; in f64 they load. */
static void test_f32_range(void)
{
    bp_error err;
    bp_net *a = make_net(BP_F64, BP_OUT_IN, 7, 1, 3);
    ((double *)bp_net_params(a))[5] = 1e300;
    const char *p = check_path("big.safetensors");
    CHECK(bp_net_save(a, NULL, p, &err) == BP_OK, "save: %s", err.msg);
    bp_net *b = NULL;
    CHECK(bp_net_load(p, BP_F32, &b, NULL, &err) == BP_E_VALUE && strstr(err.msg, "'layers.0.weight' element [1, 2] is 1e+300") &&
              strstr(err.msg, "--dtype f64"), "F64 1e300 as f32: %s", err.msg);
    CHECK(b == NULL, "nothing loaded");
    CHECK(bp_net_load(p, BP_F64, &b, NULL, &err) == BP_OK, "the same in f64: %s", err.msg);
    bp_net_free(b);
    bp_net_free(a);
    const char *json = "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1e39, 0]]}]}";
    bp_model *m = NULL;
    CHECK(bp_model_parse(json, strlen(json), "m.json", BP_F32, &m, &err) == BP_E_VALUE &&
              strstr(err.msg, "m.json: layers[0].W[0][0]: 1e+39 does not fit float32"), "JSON W 1e39 in f32: %s", err.msg);
    CHECK(bp_model_parse(json, strlen(json), "m.json", BP_F64, &m, &err) == BP_OK, "in f64: %s", err.msg);
    bp_model_free(m);
    const char *json2 = "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\"}], \"loss\": \"squared\", "
                        "\"data\": {\"x\": [[1, 2]], \"y\": [[-4e38]]}}";
    CHECK(bp_model_parse(json2, strlen(json2), "d.json", BP_F32, &m, &err) == BP_E_VALUE && strstr(err.msg, "data.y[0][0]"),
          "JSON data in f32: %s", err.msg);
    CHECK(bp_model_parse(json2, strlen(json2), "d.json", BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    bp_model_free(m);
    json2 = "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\"}]}";
    CHECK(bp_model_parse(json2, strlen(json2), "d.json", BP_F32, &m, &err) == BP_OK, "%s", err.msg);
    double xv[2] = {1, 1e39};
    bp_mat x = {1, 2, BP_F64, xv};
    CHECK(bp_model_set_data(m, &x, NULL, &err) == BP_E_VALUE && strstr(err.msg, "row 1, column 2: 1e+39 does not fit float32"),
          "--x in f32: %s", err.msg);
    bp_model_free(m);
}

/* A JSON model's "scaler": checked when read, applied to data.x and to a new
 * x, kept (with the data as given) by bp_model_save. */
static void test_json_scaler(void)
{
    bp_error err;
    bp_model *m = NULL;
    static const struct { const char *scaler, *want; } bad[] = {
        {"{\"mean\": [1, 2]}", "scaler.std: missing"},
        {"{\"mean\": [1, 2], \"std\": [1, 0]}", "scaler.std[1]: must be positive"},
        {"{\"mean\": [1], \"std\": [1]}", "scaler.mean: expected 2 numbers"},
        {"{\"divide\": -3}", "scaler.divide: must be positive"},
        {"{\"range\": [2, 1]}", "scaler.range: lo 2 is above hi 1"},
        {"{\"scale\": 2}", "unknown key \"scale\""},
        {"[1]", "scaler: expected an object"},
    };
    char text[512];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\"}], "
                 "\"scaler\": %s}", bad[i].scaler);
        CHECK(bp_model_parse(text, strlen(text), "s.json", BP_F64, &m, &err) != BP_OK && strstr(err.msg, bad[i].want),
              "scaler %s: %s", bad[i].scaler, err.msg);
    }
    const char *good = "{\"inputs\": 2, \"layers\": [{\"units\": 1, \"activation\": \"linear\", \"W\": [[1, 1]], "
                       "\"b\": [0]}], \"loss\": \"squared\", \"scaler\": {\"divide\": 10, \"mean\": [1, 2], \"std\": [2, 4]}, "
                       "\"data\": {\"x\": [[30, 100]], \"y\": [[1]]}}";
    CHECK(bp_model_parse(good, strlen(good), "g.json", BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    bp_mat x, y;
    bp_model_data(m, &x, &y);
    /* (30/10 - 1)/2 = 1, (100/10 - 2)/4 = 2 */
    CHECK(bp_mat_get(&x, 0, 0) == 1 && bp_mat_get(&x, 0, 1) == 2, "data.x scaled: %g %g", bp_mat_get(&x, 0, 0),
          bp_mat_get(&x, 0, 1));
    double nx[2] = {50, 60};
    bp_mat xm = {1, 2, BP_F64, nx};
    CHECK(bp_model_set_data(m, &xm, NULL, &err) == BP_OK, "%s", err.msg);
    bp_model_data(m, &x, &y);
    CHECK(bp_mat_get(&x, 0, 0) == 2 && bp_mat_get(&x, 0, 1) == 1, "a new x scaled: %g %g", bp_mat_get(&x, 0, 0),
          bp_mat_get(&x, 0, 1));
    double nx2[4] = {1, 2, 3, 4};
    bp_mat x2 = {2, 2, BP_F64, nx2};
    CHECK(bp_model_set_data(m, &x2, NULL, &err) == BP_E_SHAPE && strstr(err.msg, "give y for these rows too"),
          "a new x of another height with the old y: %s", err.msg);
    const char *p = check_path("scaled.json");
    CHECK(bp_model_save(m, p, &err) == BP_OK, "%s", err.msg);
    bp_model_free(m);
    CHECK(bp_model_read(p, BP_F64, &m, &err) == BP_OK, "%s", err.msg);
    const bp_scaler *sc = m ? bp_model_scaler(m) : NULL;
    CHECK(sc && sc->divide == 10 && sc->mean[1] == 2 && sc->std[1] == 4, "the scaler read back");
    bp_model_data(m, &x, &y);
    CHECK(bp_mat_get(&x, 0, 0) == 2 && bp_mat_get(&x, 0, 1) == 1, "the data saved as given: %g %g", bp_mat_get(&x, 0, 0),
          bp_mat_get(&x, 0, 1));
    bp_model_free(m);
}

/* Class names: set and checked, kept by clone, saved and read back by both
 * kinds of model file, and a damaged class_names refused. */
static void test_class_names(void)
{
    bp_error err;
    bp_net *a = make_net(BP_F32, BP_OUT_IN, 7, 1, 5), *b = NULL;
    static const char *const two[] = {"cat", "dog \"big\", \xc3\xa9t\xc3\xa9"};
    static const char *const three[] = {"a", "b", "c"};
    static const char *const dup[] = {"cat", "cat"};
    static const char *const ctl[] = {"cat", "d\tog"};
    static const char *const utf[] = {"cat", "d\xc3og"};
    CHECK(bp_net_classes(a) == 2 && !bp_net_class_names(a), "a new net has 2 classes and no names");
    CHECK(bp_net_set_class_names(a, three, 3, &err) == BP_E_SHAPE && strstr(err.msg, "3 class names for a network of 2"),
          "%s", err.msg);
    CHECK(bp_net_set_class_names(a, dup, 2, &err) == BP_E_VALUE && strstr(err.msg, "the same name, \"cat\""), "%s",
          err.msg);
    CHECK(bp_net_set_class_names(a, ctl, 2, &err) == BP_E_VALUE && strstr(err.msg, "control character"), "%s", err.msg);
    CHECK(bp_net_set_class_names(a, utf, 2, &err) == BP_E_VALUE && strstr(err.msg, "not UTF-8"), "%s", err.msg);
    CHECK(bp_net_set_class_names(a, two, 2, &err) == BP_OK, "%s", err.msg);
    CHECK(bp_net_clone(a, BP_F64, &b, &err) == BP_OK && bp_net_class_names(b) &&
          !strcmp(bp_net_class_names(b)[1], two[1]), "clone keeps the names");
    bp_net_free(b);
    b = NULL;

    const char *st = check_path("named.safetensors"), *js = check_path("named.json");
    CHECK(bp_net_save(a, NULL, st, &err) == BP_OK, "%s", err.msg);
    CHECK(load(st, &b, &err) == BP_OK && bp_net_class_names(b) && !strcmp(bp_net_class_names(b)[0], "cat") &&
          !strcmp(bp_net_class_names(b)[1], two[1]), "safetensors keeps the names: %s", err.msg);
    bp_model *m = NULL;
    CHECK(b && bp_model_from_net(b, NULL, &m, &err) == BP_OK && bp_model_save(m, js, &err) == BP_OK, "%s", err.msg);
    bp_model_free(m);
    m = NULL;
    CHECK(bp_model_read(js, BP_F64, &m, &err) == BP_OK && bp_net_class_names(bp_model_net(m)) &&
          !strcmp(bp_net_class_names(bp_model_net(m))[1], two[1]), "JSON keeps the names: %s", err.msg);
    bp_model_free(m);
    bp_net_set_class_names(a, NULL, 0, &err);
    CHECK(!bp_net_class_names(a), "names removed");
    bp_net_free(a);

    /* JSON: the wrong number, a non-string */
    static const struct { const char *names, *want; } bad[] = {
        {"[\"a\"]", "class_names: expected 2 names (one per class), got 1"},
        {"[\"a\", 3]", "class_names[1]: expected a string, got"},
        {"\"a\"", "class_names: expected an array of 2 names"},
        {"[\"a\", \"a\"]", "the same name"},
    };
    char text[512];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "{\"inputs\": 2, \"layers\": [{\"units\": 2, \"activation\": \"softmax\"}], "
                 "\"loss\": \"cross_entropy\", \"class_names\": %s}", bad[i].names);
        CHECK(bp_model_parse(text, strlen(text), "c.json", BP_F64, &m, &err) != BP_OK && strstr(err.msg, bad[i].want),
              "class_names %s: %s", bad[i].names, err.msg);
    }
    /* safetensors: a class_names that is not an array of the right size */
    bp_st_file *f = NULL;
    CHECK(bp_st_read(st, &f, &err) == BP_OK, "%s", err.msg);
    if (f) {
        const char *keys[8], *values[8];
        int nm = 0;
        for (int i = 0; i < bp_st_meta_count(f) && nm < 8; i++) {
            bp_st_meta_at(f, i, &keys[nm], &values[nm]);
            if (!strcmp(keys[nm], BP_ST_CHECKSUM_KEY)) continue;
            if (!strcmp(keys[nm], "class_names")) values[nm] = "[\"only one\"]";
            nm++;
        }
        bp_st_tensor t[16];
        int n = bp_st_count(f);
        for (int i = 0; i < n && i < 16; i++) t[i] = *bp_st_get(f, i);
        const char *bad_st = check_path("badnames.safetensors");
        CHECK(bp_st_write(bad_st, t, n, keys, values, nm, &err) == BP_OK, "%s", err.msg);
        expect_format(bad_st, "__metadata__.class_names is not a JSON array of 2 names", "class_names of 1 name");
        bp_st_free(f);
    }
}

int main(void)
{
    if (!check_tmpdir("bp_modelio")) return 2;
    test_json_scaler();
    test_class_names();
    test_f32_range();
    test_round_trips();
    test_json_export();
    test_damaged();
    test_foreign();
    test_atomic();
    int rc = check_done();
    if (rc == 0) {
        if (check_remove_tree(check_dir()) != 0) fprintf(stderr, "could not remove %s\n", check_dir());
    } else {
        fprintf(stderr, "files kept in %s\n", check_dir());
    }
    return rc;
}
