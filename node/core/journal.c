/* journal.c: the node's persisted state (the "journal" store): written
 * after each change, read back at start. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static json_t *b64_json(const uint8_t *b, size_t n) {
    if (!b || !n) return json_string("");
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    if (!s) return json_string("");
    sodium_bin2base64(s, cap, b, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

void stg__journal_save(stg_core_t *c) { c->journal_dirty = true; }

void stg__journal_write(stg_core_t *c, json_t *commands) {
    json_t *grants = json_array();
    for (unsigned s = 0; s < STG_BATCH_MAX; s++) {
        const grant_t *g = &c->grants[s];
        char hex[17];
        stg__id_hex(g->release, hex);
        json_array_append_new(grants, json_pack("{s:s, s:s, s:b, s:I, s:I}", "holder",
                                                g->holder >= 0 ? stg__mname(c, g->holder) : "",
                                                "release", hex, "started", g->started, "at_ms",
                                                (json_int_t)g->at_ms, "attempt",
                                                (json_int_t)g->attempt));
    }
    json_t *j = json_pack("{s:i, s:o, s:s, s:I, s:i, s:i, s:I, s:s, s:b, s:o, s:s, s:s}", "v", 1,
                          "release", b64_json(c->comps[0].release_env, c->comps[0].release_len), "phase",
                          stg_phase_name(c->phase), "since_ms", (json_int_t)c->phase_since_ms,
                          "slot", c->slot, "acks", (int)c->acks, "deadline_ms",
                          (json_int_t)c->deadline_ms, "detail", c->exec_detail, "halted",
                          c->halted, "grants", grants, "exec_version", c->exec_rel.version,
                          "exec_release", "");
    json_object_set_new(j, "emergency", json_boolean(c->emergency));
    json_object_set_new(j, "commands", commands);
    /* The executor's state by name: a restart resumes in the sub-state it
     * left. "phase" and "rollback_after_install" say the same for a daemon
     * before this one (a downgrade), which knew only those. */
    json_object_set_new(j, "state", json_string(stg__exec_state_name(c->exec_state)));
    json_object_set_new(j, "rollback_after_install",
                        json_boolean(c->exec_state == STG_EXEC_INSTALLING_THEN_ROLLBACK ||
                                     c->exec_state == STG_EXEC_VERIFYING_THEN_ROLLBACK));
    json_object_set_new(j, "slot_attempt", json_integer((json_int_t)c->slot_attempt));
    /* The running install announced a reboot: a restart resumes with its
     * health check (executor.c's cut_short). */
    if (c->install_away) json_object_set_new(j, "install_away", json_true());
    if (c->ncomps > 1 && c->failed_rel[0])
        json_object_set_new(j, "failed_release", json_string(c->failed_rel));
    json_t *cleared = json_array();
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (c->peers[i].cleared)
            json_array_append_new(cleared, json_pack("{s:s, s:I, s:I}", "name", stg__mname(c, (int)i),
                                                     "inc", (json_int_t)c->peers[i].cleared_inc,
                                                     "seq", (json_int_t)c->peers[i].cleared_seq));
    json_object_set_new(j, "cleared", cleared);
    if (c->promoted.on)
        json_object_set_new(j, "promoted",
                            json_pack("{s:I, s:I, s:s, s:s}", "serial", (json_int_t)c->promoted.serial,
                                      "seq", (json_int_t)c->promoted.seq, "producer",
                                      c->promoted.producer, "standby", c->promoted.standby));
    if (c->comps[0].abandoned) {
        char hex[17];
        stg__id_hex(c->comps[0].abandoned_id, hex);
        json_object_set_new(j, "abandoned", json_string(hex));
    }
    /* The other components' adopted releases (and what was abandoned of
     * them); each release names its component. */
    if (c->nknown > 1) {
        json_t *more = json_array();
        for (unsigned k = 1; k < c->nknown; k++) {
            const comp_t *x = &c->comps[k];
            if (!x->have_release) continue;
            json_t *e = json_pack("{s:o}", "release", b64_json(x->release_env, x->release_len));
            if (x->abandoned) {
                char hex[17];
                stg__id_hex(x->abandoned_id, hex);
                json_object_set_new(e, "abandoned", json_string(hex));
            }
            json_array_append_new(more, e);
        }
        json_object_set_new(j, "components", more);
    }
    if (c->emergency_pending) {
        json_t *ahead = json_array();
        for (unsigned k = 0; k < c->emergency_nahead; k++)
            json_array_append_new(ahead, json_string(stg__mname(c, c->emergency_ahead[k])));
        json_object_set_new(j, "emergency_pending",
                            json_pack("{s:o, s:I, s:b, s:b, s:o}", "env",
                                      b64_json(c->pending_env, c->pending_len), "at_ms",
                                      (json_int_t)c->emergency_at_ms, "force", c->emergency_force,
                                      "after_healthy", c->emergency_after_healthy, "ahead", ahead));
    }
    if (c->exec_have) {
        char hex[17];
        stg__id_hex(c->exec_id, hex);
        json_object_set_new(j, "exec_release", json_string(hex));
        json_object_set_new(j, "exec_env", b64_json(c->exec_env, c->exec_len));
    }
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (text) {
        stg__persist(c, STG_STORE_JOURNAL, text, strlen(text));
        free(text);
    }
}

static void b64_load(json_t *j, uint8_t **out, size_t *len) {
    const char *s = json_string_value(j);
    *out = NULL;
    *len = 0;
    if (!s || !*s) return;
    size_t cap = strlen(s);
    uint8_t *b = malloc(cap);
    if (!b) return;
    if (sodium_base642bin(b, cap, s, strlen(s), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(b);
        *len = 0;
        return;
    }
    *out = b;
}

/* The executor's state from the phase and flags of a journal written before
 * "state" was (or naming a state no step ends in). ELECTED and FAILED are
 * passed through within a step, so no journal should hold them, but an
 * older daemon's might: elected is an install that may have begun; failed
 * is a rollback to resume (with a slot, as the older daemon did) or, once
 * the rollback hook itself failed, the operator's to resolve. */
static stg_exec_state_t state_of(const stg_core_t *c, stg_phase_t ph, bool rollback_after_install) {
    switch (ph) {
    case STG_PHASE_ELECTED:
    case STG_PHASE_INSTALLING:
        return rollback_after_install ? STG_EXEC_INSTALLING_THEN_ROLLBACK : STG_EXEC_INSTALLING;
    case STG_PHASE_VERIFYING:
        return rollback_after_install ? STG_EXEC_VERIFYING_THEN_ROLLBACK : STG_EXEC_VERIFYING;
    case STG_PHASE_FAILED:
        return c->slot >= 0 && !strstr(c->exec_detail, "rollback hook failed")
                   ? STG_EXEC_ROLLING_BACK
                   : STG_EXEC_ROLLBACK_FAILED;
    case STG_PHASE_SOAKING: return STG_EXEC_SOAKING;
    case STG_PHASE_DONE: return STG_EXEC_DONE;
    case STG_PHASE_ROLLING_BACK: return STG_EXEC_ROLLING_BACK;
    case STG_PHASE_ROLLED_BACK: return STG_EXEC_ROLLED_BACK;
    default: return STG_EXEC_IDLE;
    }
}

void stg__journal_reset(stg_core_t *c) {
    c->slot = -1;
    c->avoid_slot = -1;
    c->exec_state = STG_EXEC_IDLE;
    c->phase = STG_PHASE_IDLE;
}

int stg__journal_open(const stg_core_t *c, const uint8_t *journal, size_t len, stg_journal_t *jr) {
    memset(jr, 0, sizeof *jr);
    jr->state = -1;
    if (!journal || !len) return -1;
    stg_diag_t d = {0};
    jr->j = stg_json_parse(journal, len, &d);
    if (!jr->j) return -1;
    b64_load(json_object_get(jr->j, "release"), &jr->rel_env, &jr->rel_len);
    jr->have_rel =
        jr->rel_env && stg__open_release(c, jr->rel_env, jr->rel_len, &jr->rel, jr->rel_id);
    const char *phname = json_string_value(json_object_get(jr->j, "phase"));
    int ph = phname ? stg_phase_from_name(phname) : -1;
    const char *stname = json_string_value(json_object_get(jr->j, "state"));
    jr->state = stname ? stg__exec_state_from_name(stname) : -1;
    if (jr->state >= 0) ph = (int)stg__exec_state_phase((stg_exec_state_t)jr->state);
    jr->phase = ph;
    b64_load(json_object_get(jr->j, "exec_env"), &jr->exec_env, &jr->exec_len);
    json_t *more = json_object_get(jr->j, "components");
    for (size_t k = 0; k < json_array_size(more) && jr->nmore < STG_COMPONENTS_MAX - 1; k++) {
        json_t *e = json_array_get(more, k);
        unsigned n = jr->nmore;
        b64_load(json_object_get(e, "release"), &jr->more_env[n], &jr->more_len[n]);
        if (!jr->more_env[n]) continue;
        if (!stg__open_release(c, jr->more_env[n], jr->more_len[n], &jr->more_rel[n],
                               jr->more_id[n])) {
            free(jr->more_env[n]);
            jr->more_env[n] = NULL;
            continue;
        }
        const char *ab = json_string_value(json_object_get(e, "abandoned"));
        size_t hn = 0;
        jr->more_abandoned[n] = ab &&
                                sodium_hex2bin(jr->more_ab_id[n], 8, ab, strlen(ab), NULL, &hn,
                                               NULL) == 0 && hn == 8;
        jr->nmore++;
    }
    jr->have_exec = ph > 0 && jr->exec_env &&
                    stg__open_release(c, jr->exec_env, jr->exec_len, &jr->exec_rel, jr->exec_id);
    return 0;
}

stg_exec_state_t stg__journal_exec(stg_core_t *c, const stg_journal_t *jr) {
    json_t *j = jr->j;
    c->phase_since_ms = json_integer_value(json_object_get(j, "since_ms"));
    c->slot = (int)json_integer_value(json_object_get(j, "slot"));
    c->acks = (unsigned)json_integer_value(json_object_get(j, "acks"));
    c->deadline_ms = json_integer_value(json_object_get(j, "deadline_ms"));
    c->install_away = json_is_true(json_object_get(j, "install_away"));
    const char *fr = json_string_value(json_object_get(j, "failed_release"));
    snprintf(c->failed_rel, sizeof c->failed_rel, "%s", fr && strlen(fr) == 16 ? fr : "");
    const char *det = json_string_value(json_object_get(j, "detail"));
    snprintf(c->exec_detail, sizeof c->exec_detail, "%s", det ? det : "");
    /* A journal before the state was written, or one naming a state no
     * step ends in, is read by its phase and flags. */
    int st = jr->state;
    if (st < 0 || st == STG_EXEC_ELECTED || st == STG_EXEC_FAILED)
        st = (int)state_of(c, (stg_phase_t)jr->phase,
                           json_is_true(json_object_get(j, "rollback_after_install")));
    return (stg_exec_state_t)st;
}

void stg__journal_rest(stg_core_t *c, const stg_journal_t *jr, int holders[STG_BATCH_MAX]) {
    json_t *j = jr->j;
    c->halted = json_is_true(json_object_get(j, "halted"));
    /* A promote of this roster swaps its roles again; a newer roster
     * states the roles itself. */
    json_t *pr = json_object_get(j, "promoted");
    const char *prod = json_string_value(json_object_get(pr, "producer"));
    if (prod && json_integer_value(json_object_get(pr, "serial")) == c->roster->serial)
        stg__promote(c, prod, json_integer_value(json_object_get(pr, "seq")));
    c->emergency = json_is_true(json_object_get(j, "emergency"));
    const char *ab = json_string_value(json_object_get(j, "abandoned"));
    size_t hn = 0;
    if (ab && sodium_hex2bin(c->R->abandoned_id, 8, ab, strlen(ab), NULL, &hn, NULL) == 0 && hn == 8)
        c->R->abandoned = true;
    /* "forgive" of journals before 0.2 is ignored: a resume now clears the
     * failure on the node that failed, which its journal's phase shows. */
    size_t ci;
    json_t *ce;
    json_array_foreach(json_object_get(j, "cleared"), ci, ce) {
        const char *name = json_string_value(json_object_get(ce, "name"));
        int m = name ? stg_roster_find_name(c->roster, name) : -1;
        if (m < 0) continue;
        c->peers[m].cleared = true;
        c->peers[m].cleared_inc = json_integer_value(json_object_get(ce, "inc"));
        c->peers[m].cleared_seq = json_integer_value(json_object_get(ce, "seq"));
    }
    json_t *ep = json_object_get(j, "emergency_pending");
    b64_load(json_object_get(ep, "env"), &c->pending_env, &c->pending_len);
    if (c->pending_env) {
        c->emergency_pending = true;
        stg_release_t prel;
        uint8_t pid[8];
        comp_t *pk = stg__open_release(c, c->pending_env, c->pending_len, &prel, pid)
                         ? stg__comp_named(c, prel.component) : NULL;
        c->emergency_comp = pk ? stg__comp_index(c, pk) : 0;
        c->emergency_at_ms = json_integer_value(json_object_get(ep, "at_ms"));
        /* Journals before these were written: no gate, no waiting, as then. */
        c->emergency_force = !json_object_get(ep, "force") || json_is_true(json_object_get(ep, "force"));
        c->emergency_after_healthy = json_is_true(json_object_get(ep, "after_healthy"));
        c->emergency_nahead = 0;
        json_t *ahead = json_object_get(ep, "ahead");
        for (size_t k = 0; k < json_array_size(ahead); k++) {
            const char *name = json_string_value(json_array_get(ahead, k));
            int m = name ? stg_roster_find_name(c->roster, name) : -1;
            if (m >= 0) c->emergency_ahead[c->emergency_nahead++] = m;
        }
    }
    json_t *gs = json_object_get(j, "grants");
    for (unsigned s = 0; s < STG_BATCH_MAX && s < json_array_size(gs); s++) {
        json_t *g = json_array_get(gs, s);
        const char *holder = json_string_value(json_object_get(g, "holder"));
        const char *rh = json_string_value(json_object_get(g, "release"));
        int h = holder && *holder ? stg_roster_find_name(c->roster, holder) : -1;
        size_t n = 0;
        if (h < 0 || !rh ||
            sodium_hex2bin(c->grants[s].release, 8, rh, strlen(rh), NULL, &n, NULL) != 0 || n != 8)
            continue;
        holders[s] = h;
        c->grants[s].started = json_is_true(json_object_get(g, "started"));
        c->grants[s].at_ms = json_integer_value(json_object_get(g, "at_ms"));
        c->grants[s].attempt = (uint64_t)json_integer_value(json_object_get(g, "attempt"));
    }
    c->slot_attempt = (uint64_t)json_integer_value(json_object_get(j, "slot_attempt"));
}


void stg__journal_close(stg_journal_t *jr) {
    free(jr->rel_env);
    free(jr->exec_env);
    for (unsigned k = 0; k < jr->nmore; k++) free(jr->more_env[k]);
    json_decref(jr->j);
    memset(jr, 0, sizeof *jr);
}

void stg__rollout_save(stg_core_t *c) {
    stg__journal_save(c);
    stg__own_changed(c);
}
