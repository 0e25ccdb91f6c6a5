/* impure.c: a deliberately impure object for the purity lint's self-test:
 * the lint must reject it, or it proves nothing. */
#include <stdio.h>
#include <time.h>

#include <jansson.h>

long stg_lint_impure(void);
long stg_lint_impure(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("%ld\n", (long)ts.tv_sec);
    /* jansson's file I/O is I/O too: the allowlist names jansson's
     * in-memory functions one by one. */
    json_t *j = json_load_file("/etc/stagger.json", 0, NULL);
    json_decref(j);
    return (long)ts.tv_nsec;
}
