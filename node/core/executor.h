/* executor.h: the executor's internal states (executor.c), a superset of
 * the public phase. The record carries only the phase (stg_phase_t, on the
 * wire, a closed list); the journal carries the state by name, so a restart
 * resumes in the sub-state it left. docs/architecture.md, "The executor's
 * state table", draws the machine. */
#ifndef STAGGER_CORE_EXECUTOR_H
#define STAGGER_CORE_EXECUTOR_H

#include "stagger/record.h"

/* state, its name in the journal, the phase our record shows for it */
#define STG_EXEC_STATE_MAP(X)                                                    \
    X(IDLE, "idle", IDLE)                                                        \
    X(ELECTED, "elected", ELECTED)                                               \
    X(INSTALLING, "installing", INSTALLING)                                      \
    /* the operator's rollback came during the install: it fails when the      \
     * install ends */                                                           \
    X(INSTALLING_THEN_ROLLBACK, "installing-then-rollback", INSTALLING)          \
    X(VERIFYING, "verifying", VERIFYING)                                         \
    /* restarted during the install: it may not have happened; the old         \
     * version seen healthy runs it again */                                    \
    X(VERIFYING_AFTER_CUT_SHORT, "verifying-after-cut-short", VERIFYING)         \
    /* restarted during an install the operator had ordered rolled back */     \
    X(VERIFYING_THEN_ROLLBACK, "verifying-then-rollback", VERIFYING)             \
    X(SOAKING, "soaking", SOAKING)                                               \
    X(DONE, "done", DONE)                                                        \
    X(FAILED, "failed", FAILED)                                                  \
    X(ROLLING_BACK, "rolling-back", ROLLING_BACK)                                \
    X(ROLLED_BACK, "rolled-back", ROLLED_BACK)                                   \
    /* the rollback hook failed too: only the operator's resume moves it */    \
    X(ROLLBACK_FAILED, "rollback-failed", FAILED)

typedef enum {
#define X(name, text, phase) STG_EXEC_##name,
    STG_EXEC_STATE_MAP(X)
#undef X
    STG_EXEC__COUNT
} stg_exec_state_t;

const char *stg__exec_state_name(stg_exec_state_t s);
int stg__exec_state_from_name(const char *s); /* -1 when unknown */
stg_phase_t stg__exec_state_phase(stg_exec_state_t s);

#endif
