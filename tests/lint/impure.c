/* impure.c: a deliberately impure object for the purity lint's self-test:
 * the lint must reject it, or it proves nothing. */
#include <stdio.h>
#include <time.h>

long stg_lint_impure(void);
long stg_lint_impure(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("%ld\n", (long)ts.tv_sec);
    return (long)ts.tv_nsec;
}
