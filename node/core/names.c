/* names.c: the name tables of the core's enums (hooks, denials, stores,
 * the executor's states) and the release id. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const char *const hook_names[] = {
#define X(name, text) text,
    STG_HOOK_MAP(X)
#undef X
};

static const char *const deny_texts[] = {
#define X(name, text) text,
    STG_DENY_MAP(X)
#undef X
};

static const char *const store_names[] = {
#define X(name, text) text,
    STG_STORE_MAP(X)
#undef X
};

const char *stg_store_name(stg_store_t s) {
    return (unsigned)s < STG_STORE__COUNT ? store_names[s] : "unknown";
}

bool stg_phase_updating(stg_phase_t p) {
    return p == STG_PHASE_ELECTED || p == STG_PHASE_INSTALLING || p == STG_PHASE_VERIFYING ||
           p == STG_PHASE_SOAKING || p == STG_PHASE_FAILED || p == STG_PHASE_ROLLING_BACK;
}

const char *stg_hook_name(stg_hook_kind_t h) {
    return (unsigned)h < STG_HOOK__COUNT ? hook_names[h] : "unknown";
}

const char *stg_deny_text(stg_deny_t d) {
    return (unsigned)d < STG_DENY__COUNT ? deny_texts[d] : "unknown";
}

void stg_release_id(const uint8_t *payload, size_t len, uint8_t id[8]) {
    crypto_generichash(id, 8, payload, len, NULL, 0);
}

void stg__id_hex(const uint8_t id[8], char out[17]) { sodium_bin2hex(out, 17, id, 8); }

/* A release envelope opened against our roster, and its id. */
bool stg__open_release(const stg_core_t *c, const uint8_t *env, size_t len, stg_release_t *rel,
                       uint8_t id[8]) {
    stg_envelope_t e;
    stg_diag_t d = {0};
    if (stg_release_open(env, len, c->roster, rel, &d) != 0 ||
        stg_envelope_parse(env, len, &e, NULL) != 0)
        return false;
    stg_release_id(e.payload, e.payload_len, id);
    return true;
}

/* The executor's states (executor.h): name and the phase each shows. */
static const struct {
    const char *name;
    stg_phase_t phase;
} states[] = {
#define X(name, text, ph) {text, STG_PHASE_##ph},
    STG_EXEC_STATE_MAP(X)
#undef X
};

const char *stg__exec_state_name(stg_exec_state_t s) {
    return (unsigned)s < STG_EXEC__COUNT ? states[s].name : "?";
}

int stg__exec_state_from_name(const char *s) {
    for (unsigned i = 0; i < STG_EXEC__COUNT; i++)
        if (strcmp(s, states[i].name) == 0) return (int)i;
    return -1;
}

stg_phase_t stg__exec_state_phase(stg_exec_state_t s) {
    assert((unsigned)s < STG_EXEC__COUNT);
    return states[s].phase;
}
