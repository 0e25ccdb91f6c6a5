/* upcall.c: a module that calls up, for the layering lint's self-test:
 * layers.sh places it on the bottom layer, so its call into the executor
 * must make the lint fail, or a pass proves nothing. */
#include "internal.h"

void stg_lint_upcall(stg_core_t *c);
void stg_lint_upcall(stg_core_t *c) { stg__start_update(c); }
