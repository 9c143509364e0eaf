/* check.h - the smallest test harness: CHECK(cond, fmt, ...) counts and
 * reports; check_done() prints "N passed, M failed" and gives the exit code. */
#ifndef BP_CHECK_H
#define BP_CHECK_H
#include <stdio.h>

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

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}
#endif
