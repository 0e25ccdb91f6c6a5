/* status.c: read-only views of a core: members, the executor, grants, and
 * the status JSON of docs/protocol.md §8. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

const stg_roster_t *stg_core_roster(const stg_core_t *c) { return c->roster; }

int stg_core_self(const stg_core_t *c) { return c->self; }

const stg_core_stats_t *stg_core_stats(const stg_core_t *c) { return &c->stats; }

void stg_core_member(const stg_core_t *c, int idx, stg_member_view_t *out) {
    memset(out, 0, sizeof *out);
    if (idx < 0 || (unsigned)idx >= c->roster->nmembers) return;
    const peer_t *p = &c->peers[idx];
    out->have_record = p->have;
    if (p->have) out->rec = p->rec;
    out->live = p->live;
    out->known = p->have;
    stg_core_member_live(c, idx, &out->away_left_ms, &out->rebooting);
    out->last_heard_ms = idx == c->self ? c->now : p->last_heard_ms;
}

stg_live_t stg_core_member_live(const stg_core_t *c, int idx, int64_t *away_left_ms,
                                bool *rebooting) {
    *away_left_ms = 0;
    if (rebooting) *rebooting = false;
    if (idx < 0 || (unsigned)idx >= c->roster->nmembers) return STG_LIVE_ALIVE;
    if (stg__away(c, idx)) *away_left_ms = c->peers[idx].away_until_ms - c->now;
    if (rebooting) *rebooting = stg__rebooting(c, idx);
    return c->peers[idx].live;
}

stg_health_t stg_core_shown_health(const stg_core_t *c, int idx) {
    return stg__shown_health(c, idx);
}

void stg_core_exec(const stg_core_t *c, stg_exec_view_t *out) {
    memset(out, 0, sizeof *out);
    out->phase = c->phase;
    out->slot = c->slot;
    out->acks = c->acks;
    out->have_release = c->exec_have;
    if (c->exec_have) {
        out->release = c->exec_rel;
        memcpy(out->release_id, c->exec_id, 8);
    }
    out->since_ms = c->phase_since_ms;
    out->emergency = c->emergency;
    snprintf(out->detail, sizeof out->detail, "%s", c->exec_detail);
}

void stg_core_exec_brief(const stg_core_t *c, stg_exec_brief_t *out) {
    memset(out, 0, sizeof *out);
    out->phase = c->phase;
    out->slot = c->slot;
    out->acks = c->acks;
    out->have_release = c->exec_have;
    if (c->exec_have) memcpy(out->release_id, c->exec_id, 8);
    out->since_ms = c->phase_since_ms;
    out->emergency = c->emergency;
}

int64_t stg_core_cmd_seq(const stg_core_t *c) { return c->cmd_seq; }

int64_t stg_core_away_left(const stg_core_t *c) {
    return c->away_until_ms > c->now ? c->away_until_ms - c->now : 0;
}

bool stg_core_away_sent(const stg_core_t *c) {
    return stg_core_away_left(c) > 0 && c->pushed_have && c->pushed.away_ms > 0 &&
           !c->own_dirty && c->nheld == 0;
}
bool stg_core_journal_ok(const stg_core_t *c) { return !c->write_failed; }

unsigned stg_core_held_actions(const stg_core_t *c) { return c->nheld; }

bool stg_core_halted(const stg_core_t *c) { return c->halted; }

stg_caps_t stg_core_fleet_caps(const stg_core_t *c) { return stg__fleet_caps(c); }

int stg_core_cmd_capable(const stg_core_t *c, const stg_command_t *cmd, stg_diag_t *d) {
    return stg__cmd_capable(c, cmd, d);
}

/* A set of capabilities as the names of §7.3, in this build's order. */
static json_t *caps_json(stg_caps_t set) {
    json_t *a = json_array();
    for (int k = 0; k < STG_CAP__COUNT; k++)
        if (set & STG_CAPS_OF(k))
            json_array_append_new(a, json_string(stg_cap_name((stg_cap_t)k)));
    return a;
}

int stg_core_failed_member(const stg_core_t *c, const uint8_t id[8]) {
    for (unsigned i = 0; i < c->roster->nmembers; i++)
        if (stg__failed_on(c, (int)i, id)) return (int)i;
    return -1;
}

const stg_release_t *stg_core_release(const stg_core_t *c, uint8_t id[8]) {
    return stg_core_release_of(c, 0, id);
}

unsigned stg_core_ncomponents(const stg_core_t *c) { return c->ncomps; }

const char *stg_core_component(const stg_core_t *c, unsigned k) {
    return k < c->ncomps ? c->comps[k].name : NULL;
}

const stg_release_t *stg_core_release_of(const stg_core_t *c, unsigned k, uint8_t id[8]) {
    if (k >= c->ncomps || !c->comps[k].have_release) return NULL;
    if (id) memcpy(id, c->comps[k].release_id, 8);
    return &c->comps[k].release;
}

int stg_core_grant(const stg_core_t *c, unsigned slot, uint8_t release_id[8], bool *started) {
    if (slot >= STG_BATCH_MAX) return -1;
    if (release_id) memcpy(release_id, c->grants[slot].release, 8);
    if (started) *started = c->grants[slot].started;
    return c->grants[slot].holder;
}


json_t *stg__rollout_status(const stg_core_t *c, int64_t now) {
    json_t *o = json_object();
    json_object_set_new(o, "waiting", json_string(c->R->waiting));
    json_object_set_new(o, "halted", json_boolean(c->halted));
    if (!c->R->have_release) {
        json_object_set_new(o, "release", json_null());
        return o;
    }
    char hex[17];
    stg__id_hex(c->R->release_id, hex);
    json_object_set_new(o, "release",
                        json_pack("{s:s, s:s, s:s, s:I}", "component", c->R->release.component,
                                  "version", c->R->release.version, "id", hex, "created_at",
                                  (json_int_t)c->R->release.created_at_s));
    json_t *wave = json_array();
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        /* With several components, a wave is this component's: members
         * whose record is about its release (another's wave is in that
         * component's own rollout object). */
        if (!stg__updating(c, (int)i) ||
            (c->nknown > 1 && !stg__rec_about(c, (int)i, c->R->release_id)))
            continue;
        const peer_t *p = &c->peers[i];
        json_t *w = json_pack("{s:s, s:s, s:I}", "name", stg__mname(c, (int)i), "phase",
                              stg_phase_name(p->rec.phase), "since_ms", (json_int_t)p->rec.phase_since_ms);
        if (stg__rec_phase(c, (int)i) == STG_PHASE_SOAKING) {
            int64_t left = p->rec.phase_since_ms + stg__soak_s(c, c->R->release.component) * 1000 - now;
            json_object_set_new(w, "soak_left_ms", json_integer(left > 0 ? left : 0));
        }
        json_array_append_new(wave, w);
    }
    json_object_set_new(o, "wave", wave);
    int el[STG_MEMBERS_MAX];
    unsigned n = stg__eligible(c, el);
    json_t *next = json_array();
    for (unsigned i = 0; i < n && i < c->roster->policy.batch; i++)
        json_array_append_new(next, json_string(stg__mname(c, el[i])));
    json_object_set_new(o, "next", next);
    json_object_set_new(o, "pending", json_integer((json_int_t)stg__pending_count(c)));
    int f = stg__failed_member(c);
    json_object_set_new(o, "failed", f >= 0 ? json_pack("{s:s, s:s}", "node", stg__mname(c, f),
                                                        "detail", c->peers[f].rec.phase_detail)
                                            : json_null());
    proof_t pf = stg__proof(c, now);
    json_object_set_new(o, "proof", json_pack("{s:b, s:I, s:I, s:I}", "holds", pf.holds,
                                              "soak_left_ms", (json_int_t)pf.soak_left_ms,
                                              "epochs_left", (json_int_t)pf.epochs_left,
                                              "next_boundary_ms",
                                              (json_int_t)pf.next_boundary_ms));
    return o;
}

json_t *stg__command_status(const stg_core_t *c) {
    json_t *recent = json_array();
    for (unsigned i = c->ncmd_hist; i-- > 0;) {
        const cmd_hist_t *h = &c->cmd_hist[i];
        json_t *by = json_array();
        for (unsigned m = 0; m < c->roster->nmembers; m++) {
            int64_t seq = (int)m == c->self ? c->cmd_seq : c->peers[m].rec.cmd_seq;
            if (seq >= h->seq) json_array_append_new(by, json_string(stg__mname(c, (int)m)));
        }
        json_array_append_new(recent, json_pack("{s:I, s:s, s:s, s:I, s:o}", "seq",
                                                (json_int_t)h->seq, "action",
                                                stg_cmd_name(h->action), "reason", h->reason,
                                                "applied_at_ms", (json_int_t)h->applied_ms,
                                                "applied_by", by));
    }
    return json_pack("{s:I, s:s, s:o}", "applied_seq", (json_int_t)c->cmd_seq, "last_refusal",
                     c->cmd_refusal, "recent", recent);
}

json_t *stg_core_status_json(const stg_core_t *c, int64_t now_ms) {
    static const char *const live_names[] = {"alive", "suspect", "dead"};
    const stg_roster_t *r = c->roster;
    json_t *members = json_array();
    unsigned count[STG_HEALTH__COUNT] = {0};
    for (unsigned i = 0; i < r->nmembers; i++) {
        const peer_t *p = &c->peers[i];
        const stg_member_t *m = &r->members[i];
        stg_health_t shown = stg_core_shown_health(c, (int)i);
        count[shown]++;
        int64_t heard = (int)i == c->self ? now_ms : p->last_heard_ms;
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:o, s:I, s:I}", "name", m->name,
            "role", stg_role_name(m->role), "flavour", m->flavour, "version",
            p->have ? p->rec.version : "", "health", stg_health_name(shown), "detail",
            p->have ? p->rec.detail : "", "phase", p->have ? stg_phase_name(p->rec.phase) : "",
            "phase_detail", p->have ? p->rec.phase_detail : "", "cmd_seq",
            (json_int_t)((int)i == c->self ? c->cmd_seq : (p->have ? p->rec.cmd_seq : 0)),
            "liveness",
            stg__rebooting(c, (int)i)          ? "rebooting"
            : p->have || (int)i == c->self ? live_names[p->live]
                                           : "unknown",
            "self",
            (int)i == c->self, "heard_ago_ms",
            heard ? json_integer(now_ms - heard) : json_null(), "incarnation",
            (json_int_t)(p->have ? p->rec.inc : 0), "seq", (json_int_t)(p->have ? p->rec.seq : 0));
        json_object_set_new(o, "stagger", json_string(p->have ? p->rec.stagger : ""));
        json_object_set_new(o, "release", json_string(p->have ? p->rec.release : ""));
        json_object_set_new(o, "build", json_string(p->have ? p->rec.build : ""));
        json_object_set_new(o, "tip", p->have && p->rec.tip.have
                                          ? json_pack("{s:I, s:I, s:s}", "block",
                                                      (json_int_t)p->rec.tip.block, "slot",
                                                      (json_int_t)p->rec.tip.slot, "hash",
                                                      p->rec.tip.hash)
                                          : json_null());
        json_object_set_new(o, "forging",
                            !p->have || p->rec.forging == STG_FORGING_UNKNOWN
                                ? json_null()
                                : json_boolean(p->rec.forging == STG_FORGING_YES));
        json_object_set_new(o, "caps", caps_json(p->have ? p->rec.caps : 0));
        json_t *comps = json_array();
        for (unsigned k = 0; p->have && k < p->rec.ncomps; k++) {
            const stg_comp_rec_t *e = &p->rec.comps[k];
            json_array_append_new(comps, json_pack("{s:s, s:s, s:s, s:s}", "component",
                                                   e->component, "version", e->version,
                                                   "health", stg_health_name(e->health), "build",
                                                   e->build));
        }
        json_object_set_new(o, "components", comps);
        /* An announced absence (a planned reboot), what is left of it on our
         * clock; ours, what our record still announces. */
        int64_t away = (int)i == c->self ? stg_core_away_left(c)
                       : stg__away(c, (int)i) ? p->away_until_ms - c->now : 0;
        if (away > 0) json_object_set_new(o, "away_left_ms", json_integer((json_int_t)away));
        json_object_set_new(o, "stage", json_integer(m->stage));
        json_object_set_new(o, "holdback", json_boolean(m->holdback));
#if STG_SELFTEST_NEXT
        json_object_set_new(o, "selftest_note", json_string(p->have ? p->rec.selftest_note : ""));
#endif
        /* A clock beyond what the rules allow (docs/operations.md, clocks). */
        if ((int)i != c->self && p->skew_over >= 2)
            json_object_set_new(o, "clock_skew_ms", json_integer((json_int_t)p->skew_ms));
        json_array_append_new(members, o);
    }
    json_t *store = json_pack("{s:b, s:s, s:I, s:I, s:i}", "ok", !c->write_failed, "error",
                              c->write_error, "writes", (json_int_t)c->stats.journal_writes,
                              "failures", (json_int_t)c->stats.journal_write_failures,
                              "waiting_actions", (int)c->nheld);
    json_t *rej = json_object();
    for (int k = 1; k < STG_REJECT__COUNT; k++)
        if (c->stats.rejects[k])
            json_object_set_new(rej, stg_reject_name((stg_reject_t)k),
                                json_integer((json_int_t)c->stats.rejects[k]));
    const char *state = count[STG_HEALTH_HEALTHY] == r->nmembers ? "healthy" : "degraded";
    int f[STG_MEMBERS_MAX];
    unsigned nf = stg__forgers(c, f, STG_MEMBERS_MAX);
    json_t *forgers = json_array();
    for (unsigned k = 0; k < nf; k++) json_array_append_new(forgers, json_string(stg__mname(c, f[k])));
    json_t *fork = json_null();
    if (c->fork.on) {
        json_t *nw = json_array(), *old = json_array();
        for (unsigned k = 0; k < c->fork.nnew; k++)
            json_array_append_new(nw, json_string(stg__mname(c, c->fork.new_m[k])));
        for (unsigned k = 0; k < c->fork.nold; k++)
            json_array_append_new(old, json_string(stg__mname(c, c->fork.old_m[k])));
        fork = json_pack("{s:s, s:I, s:I, s:o, s:o}", "version", c->R->release.version,
                         "since_block", (json_int_t)c->fork.since_block, "last_block",
                         (json_int_t)c->fork.last_block, "new", nw, "old", old);
    }
    json_t *doc = json_pack("{s:i, s:s, s:I, s:s, s:I, s:o, s:{s:s, s:i, s:i, s:i, s:i}, s:o, s:o, s:o, "
                     "s:o, s:o}",
                     "schema", 1, "fleet", r->fleet, "serial", (json_int_t)r->serial, "self",
                     c->self >= 0 ? r->members[c->self].name : "", "now_ms",
                     (json_int_t)now_ms, "members", members, "summary", "state", state,
                     "members", (int)r->nmembers, "healthy", (int)count[STG_HEALTH_HEALTHY],
                     "unhealthy", (int)count[STG_HEALTH_UNHEALTHY], "unknown",
                     (int)count[STG_HEALTH_UNKNOWN], "rejects", rej, "rollout",
                     stg__rollout_status(c, now_ms), "commands", stg__command_status(c),
                     "journal", store, "forgers", forgers);
    if (doc) json_object_set_new(doc, "fork", fork);
    if (doc) {
        /* The other components' rollouts, each judged as the primary's is. */
        stg_core_t *w = (stg_core_t *)c; /* c->R: a cursor, not state */
        json_t *more = json_array();
        for (unsigned k = 1; k < c->ncomps; k++) {
            comp_t *was = stg__judge(w, &w->comps[k]);
            json_t *ro = stg__rollout_status(c, now_ms);
            json_object_set_new(ro, "component", json_string(c->comps[k].name));
            json_array_append_new(more, ro);
            w->R = was;
        }
        json_object_set_new(json_object_get(doc, "rollout"), "components", more);
    }
    if (doc) json_object_set_new(doc, "capabilities", caps_json(stg__fleet_caps(c)));
#if STG_SELFTEST_NEXT
    if (doc)
        json_object_set_new(doc, "selftest",
                            json_pack("{s:I, s:I, s:I}", "hello_sent",
                                      (json_int_t)c->selftest.hello_sent, "hello_received",
                                      (json_int_t)c->selftest.hello_received, "notes_via_old",
                                      (json_int_t)c->selftest.notes_via_old));
#endif
    if (doc)
        json_object_set_new(doc, "promoted",
                            c->promoted.on ? json_pack("{s:s, s:s, s:I}", "producer",
                                                       c->promoted.producer, "standby",
                                                       c->promoted.standby, "seq",
                                                       (json_int_t)c->promoted.seq)
                                           : json_null());
    else json_decref(fork);
    return doc;
}
