/* test_core.c - the core layer's number formats (src/core/numfmt.c: exact
 * text reads back as the same bits, the short form for people) and the CSV
 * tokenizer under both readers (src/data/csv.c: bp_csv_read_matrix and
 * bp_csv_load read the same text the same way). */
#define _POSIX_C_SOURCE 200809L
#include "backprop.h"
#include "check.h"
#include "core/numfmt.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_exact(void)
{
    char b[BP_NUM_MAX];
    struct { double v; const char *want; } cases[] = {
        {0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"}, {1.1, "1.1"}, {-2.5, "-2.5"}, {0.0, "0"}, {-0.0, "-0.0"},
        {1e300, "1e+300"}, {5e-324, "4.94065645841247e-324"}, {0.58955454917751526, "0.5895545491775153"},
        {NAN, "nan"}, {INFINITY, "inf"}, {-INFINITY, "-inf"}, {123456789012345678.0, "1.2345678901234568e+17"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(!strcmp(bp_num_exact(b, cases[i].v), cases[i].want), "bp_num_exact(%.17g) = %s, want %s", cases[i].v,
              bp_num_exact(b, cases[i].v), cases[i].want);
    /* every finite double of random bits reads back as itself, and for a
     * normal one no shorter %g text would (a subnormal one has fewer digits
     * of its own, so %.15g may not be its shortest) */
    bp_rng r;
    bp_rng_seed(&r, 42);
    int bad = 0, longer = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = bp_rng_next(&r);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        const char *s = bp_num_exact(b, v);
        double back = strtod(s, NULL);
        bad += memcmp(&back, &v, sizeof v) != 0;
        char t[BP_NUM_MAX];
        snprintf(t, sizeof t, "%.14g", v);
        longer += isnormal(v) && strtod(t, NULL) == v && strlen(t) < strlen(s);
    }
    CHECK(bad == 0, "%d doubles did not read back", bad);
    CHECK(longer == 0, "%d doubles had a shorter exact text", longer);
    int fbad = 0;
    for (int i = 0; i < 100000; i++) {
        uint32_t bits = (uint32_t)bp_rng_next(&r);
        float v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        float back = strtof(bp_num_exact_f32(b, v), NULL);
        fbad += memcmp(&back, &v, sizeof v) != 0;
    }
    CHECK(fbad == 0, "%d floats did not read back", fbad);
    CHECK(!strcmp(bp_num_exact_f32(b, 0.1f), "0.1"), "0.1f is %s", bp_num_exact_f32(b, 0.1f));
    CHECK(!strcmp(bp_num_exact_f32(b, 0.7310586f), "0.7310586"), "sigmoid(1) in f32 is %s", b);
    CHECK(!strcmp(bp_num_exact_f32(b, -0.0f), "-0.0"), "-0.0f is %s", bp_num_exact_f32(b, -0.0f));
}

static void test_short_and_json(void)
{
    char b[BP_NUM_MAX];
    CHECK(!strcmp(bp_num_short(b, -0.0, 8), "0"), "short -0 is %s", b);
    CHECK(!strcmp(bp_num_short(b, 281.70005118123, 8), "281.70005"), "short is %s", b);
    CHECK(!strcmp(bp_num_short(b, 1.0 / 3, 6), "0.333333"), "short is %s", b);
    CHECK(!strcmp(bp_num_short(b, 1e-9, 8), "1e-09"), "short is %s", b);
    FILE *f = tmpfile();
    bp_json_num(f, 0.5);
    fputc(' ', f);
    bp_json_num(f, NAN);
    fputc(' ', f);
    bp_json_num(f, -INFINITY);
    fputc(' ', f);
    bp_json_num(f, -0.0);
    rewind(f);
    char line[64] = "";
    CHECK(fgets(line, sizeof line, f) && !strcmp(line, "0.5 null null -0.0"), "JSON numbers: '%s'", line);
    fclose(f);
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = check_path(name);
    check_write(p, text, strlen(text));
    return p;
}

static void test_csv_matrix(void)
{
    bp_mat m;
    bp_error err;
    /* CRLF, blank lines (also of blanks), blanks around fields, no last newline */
    const char *p = write_file("m.csv", "1, 2.5 ,3\r\n\n  \t\n-4,5e-1,  6\r\n7,8,9");
    CHECK(bp_csv_read_matrix(p, &m, &err) == BP_OK, "%s", err.msg);
    double want[] = {1, 2.5, 3, -4, 0.5, 6, 7, 8, 9};
    CHECK(m.rows == 3 && m.cols == 3 && !memcmp(m.data, want, sizeof want), "matrix %d x %d", m.rows, m.cols);
    /* the dataset reader sees the same numbers in the same text */
    bp_csv_options o;
    bp_csv_options_init(&o);
    o.header = BP_CSV_HEADER_NO;
    o.target = BP_CSV_UNLABELED;
    bp_dataset d;
    CHECK(bp_csv_load(p, &o, &d, &err) == BP_OK, "%s", err.msg);
    int same = d.n == 3 && d.features == 3;
    for (int i = 0; same && i < 9; i++) same = d.x[i] == (float)want[i];
    CHECK(same, "bp_csv_load read the matrix differently (%d x %d)", d.n, d.features);
    bp_dataset_free(&d);
    free(m.data);

    struct { const char *text, *want; } bad[] = {
        {"1,2\n1,oops\n", "bad.csv:2:3: field 2: expected a finite number, got 'oops'"},
        {"1,2\n\n1,2,3\n", "bad.csv:3: expected 2 fields like the rows above, got 3"},
        {"1,2,\n", "bad.csv:1:5: field 3: expected a finite number, got ''"},
        {"1,nan\n", "bad.csv:1:3: field 2: expected a finite number, got 'nan'"},
        {"1e-400\n", "bad.csv:1:1: field 1: expected a finite number, got '1e-400'"},
        {"1,1e999\n", "bad.csv:1:3: field 2: expected a finite number, got '1e999'"},
        {"\n  \n", "bad.csv: no rows of numbers"},
        {"1, 2 3\n", "bad.csv:1:4: field 2: expected a finite number, got '2 3'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = write_file("bad.csv", bad[i].text);
        memset(&err, 0, sizeof err);
        bp_status st = bp_csv_read_matrix(p, &m, &err);
        const char *msg = strstr(err.msg, "bad.csv");
        CHECK(st != BP_OK && msg && !strcmp(msg, bad[i].want), "'%s': got '%s', want '%s'", bad[i].text, err.msg,
              bad[i].want);
        CHECK(m.data == NULL && m.rows == 0, "a failed read leaves the matrix empty");
    }
    /* a UTF-8 byte order mark is skipped (the first row stays data); a NUL byte is refused */
    p = write_file("bom.csv", "\xEF\xBB\xBF" "1,2,0\n3,4,1\n");
    bp_csv_options_init(&o);
    CHECK(bp_csv_load(p, &o, &d, &err) == BP_OK && d.n == 2 && d.x[0] == 1, "BOM: %s (n %d)", err.msg, d.n);
    bp_dataset_free(&d);
    CHECK(bp_csv_read_matrix(p, &m, &err) == BP_OK && m.rows == 2 && ((double *)m.data)[0] == 1, "BOM matrix: %s", err.msg);
    free(m.data);
    p = write_file("nul.csv", "1,2,0\n3,\0" "4,1\n");
    check_write(p, "1,2,0\n3,\0" "4,1\n", 12);
    CHECK(bp_csv_load(p, &o, &d, &err) == BP_E_PARSE && strstr(err.msg, "nul.csv:2:3: a NUL byte"), "NUL: %s", err.msg);
    CHECK(bp_csv_read_matrix(p, &m, &err) == BP_E_PARSE && strstr(err.msg, "nul.csv:2:3: a NUL byte"), "NUL: %s", err.msg);
    /* the dataset reader takes what is finite in float32 and reports its own way */
    p = write_file("ds.csv", "1,2,0\n3,1e39,1\n");
    bp_csv_options_init(&o);
    CHECK(bp_csv_load(p, &o, &d, &err) == BP_E_VALUE && strstr(err.msg, "ds.csv:2:3: field 2: expected a finite number (float32 range), got '1e39'"),
          "float32 range: %s", err.msg);
}

int main(void)
{
    if (!check_tmpdir("bp_core")) return 2;
    test_exact();
    test_short_and_json();
    test_csv_matrix();
    check_remove_tree(check_dir());
    return check_done();
}
