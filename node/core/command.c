/* command.c: operator-signed emergency commands in the core: check, apply
 * exactly once, audit, flood, and catch up members that missed them.
 *
 * A command is applied when it passes every check of stg_command_open and
 * its sequence is above the highest applied one; that sequence is
 * persisted with the command before anything else happens, so a replay, also
 * after a restart, changes nothing. Applied commands ride the partner
 * overlay (docs/protocol.md §10): the member a client handed one to sends
 * it to its partners, and every member that applies it passes it on to its
 * own at once, once (a repeat is below its sequence), all over standing
 * connections. They are kept (the last few) so that a partner whose record
 * shows an older sequence is sent what it missed, if it has not expired.
 * One a client hands in is taken only when every member has the capability
 * its action needs (§11): the member a client reached checks that, once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

#define CATCH_UP_EVERY_MS 1000
/* A partner whose record still shows an older sequence this long after we
 * applied ours missed the flood: by then its record would have caught up
 * (a cmd_seq-only change is pushed CMD_SEQ_PUSH_MS after it, §7.4). */
#define CATCH_UP_AFTER_MS (4 * CMD_SEQ_PUSH_MS)
/* Such a partner is sent what it missed at most this often. */
#define CATCH_UP_TICK_MS 5000

static void audit(stg_core_t *c, const char *verdict, const stg_command_t *cmd, unsigned nsig,
                  int from, const char *why) {
    char line[640];
    int n = snprintf(line, sizeof line,
                     "{\"at_ms\":%lld,\"verdict\":\"%s\",\"seq\":%lld,\"action\":\"%s\","
                     "%s%s\"signers\":%u,\"from\":\"%s\",\"why\":\"",
                     (long long)c->now, verdict, cmd ? (long long)cmd->seq : 0LL,
                     cmd ? stg_cmd_name(cmd->action) : "",
                     cmd && cmd->force ? "\"force\":true," : "",
                     cmd && cmd->after_healthy ? "\"after_healthy\":true," : "", nsig,
                     from >= 0 ? stg__mname(c, from) : "client");
    /* why is our own text or a decoder message; keep it valid JSON. */
    for (const char *p = why; *p && n < (int)sizeof line - 8; p++)
        if (*p >= 0x20 && *p != '"' && *p != '\\') line[n++] = *p;
    n += snprintf(line + n, sizeof line - (size_t)n, "\"}\n");
    stg__persist(c, STG_STORE_AUDIT, line, (size_t)n);
}

/* What the journal keeps of commands: the highest applied sequence and the
 * last few envelopes (for catch-up). It is written in the same atomic file
 * as the rollout state, so a command's sequence and its effects reach the
 * disk together or not at all. */
json_t *stg__command_state(const stg_core_t *c) {
    json_t *hist = json_array();
    for (unsigned i = 0; i < c->ncmd_hist; i++) {
        size_t cap = sodium_base64_encoded_len(c->cmd_hist[i].len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        if (!b64) continue;
        sodium_bin2base64(b64, cap, c->cmd_hist[i].env, c->cmd_hist[i].len,
                          sodium_base64_VARIANT_ORIGINAL);
        json_array_append_new(hist, json_string(b64));
        free(b64);
    }
    return json_pack("{s:I, s:o}", "applied_seq", (json_int_t)c->cmd_seq, "history", hist);
}

static void remember(stg_core_t *c, const uint8_t *env, size_t len, const stg_command_t *cmd) {
    if (c->ncmd_hist == STG_CMD_HISTORY) {
        free(c->cmd_hist[0].env);
        memmove(c->cmd_hist, c->cmd_hist + 1, (STG_CMD_HISTORY - 1) * sizeof c->cmd_hist[0]);
        c->ncmd_hist--;
    }
    uint8_t *copy = malloc(len);
    if (!copy) return;
    memcpy(copy, env, len);
    cmd_hist_t *h = &c->cmd_hist[c->ncmd_hist++];
    *h = (cmd_hist_t){copy, len, cmd->seq, cmd->action, cmd->expires_at_s, c->now, ""};
    snprintf(h->reason, sizeof h->reason, "%s", cmd->reason);
}

/* A refused command: counted, and said in status (last_refusal) and the
 * audit log with the reason's name, so that both say what status counts. */
static void refuse(stg_core_t *c, const stg_diag_t *d, const stg_command_t *cmd, unsigned nsig,
                   int from) {
    stg__reject(c, d, from);
    snprintf(c->cmd_refusal, sizeof c->cmd_refusal, "%s (%s)", d->msg, stg_reject_name(d->reason));
    audit(c, "refused", cmd, nsig, from, c->cmd_refusal);
}

static bool echo(const stg_core_t *c, const uint8_t *env, size_t len) {
    for (unsigned i = 0; i < c->ncmd_hist; i++)
        if (c->cmd_hist[i].len == len && memcmp(c->cmd_hist[i].env, env, len) == 0) return true;
    return false;
}

/* peer >= 0: to that member; otherwise flooded as if received from
 * `from` (-1: from a client, so to every partner; stg__flood). */
static void send_command(stg_core_t *c, int peer, int from, const uint8_t *env, size_t len) {
    stg_msg_t m;
    memset(&m, 0, sizeof m);
    m.type = STG_MSG_COMMAND;
    m.blob = env;
    m.blob_len = len;
    if (peer >= 0) stg__send(c, peer, &m);
    else stg__flood(c, from, &m);
}

/* Abandon gives up on each component's release that a member failed on
 * (the one that halted the fleet), or on the primary's when none failed;
 * rollback on the primary's and on each that failed (docs/protocol.md §10):
 * a failed OS release abandoned does not take a good node release with it. */
static void abandon(stg_core_t *c, bool primary) {
    unsigned n = 0;
    for (unsigned k = 0; k < c->nknown; k++) {
        comp_t *x = &c->comps[k];
        comp_t *was = stg__judge(c, x);
        bool failed = x->have_release && stg__failed_member(c) >= 0;
        c->R = was;
        if (!failed && !(k == 0 && primary)) continue;
        if (!x->have_release) continue;
        x->abandoned = true;
        memcpy(x->abandoned_id, x->release_id, 8);
        n++;
    }
    if (!n && c->comps[0].have_release) {
        c->comps[0].abandoned = true;
        memcpy(c->comps[0].abandoned_id, c->comps[0].release_id, 8);
    }
}

static void apply(stg_core_t *c, const stg_command_t *cmd) {
    const stg_member_t *me = &c->roster->members[c->self];
    bool targeted = stg_command_targets(cmd, me->name);
    switch (cmd->action) {
    case STG_CMD_HALT: c->halted = true; break;
    case STG_CMD_RESUME:
        c->halted = false;
        /* Our own failure, if any, no longer holds the release back: we
         * leave it for idle, and our record says so to every peer. No
         * clock is compared; a peer's failure is forgiven when that peer
         * applies this command too. */
        c->failed_rel[0] = '\0';
        stg__exec_forgive(c, cmd->seq);
        break;
    case STG_CMD_ABANDON: abandon(c, false); break;
    case STG_CMD_ROLLBACK:
        abandon(c, true);
        if (targeted) stg__rollout_emergency_rollback(c, cmd->seq);
        break;
    case STG_CMD_UPDATE:
        /* Every member adopts the release (the command carried it to all, so
         * it is not flooded again); the targets start at once. */
        stg__rollout_emergency_update(c, cmd, targeted && (!me->holdback || cmd->include_holdback));
        break;
    case STG_CMD_CLEAR_GRANTS: stg__clear_grants(c, cmd); break;
    case STG_CMD_PROMOTE: stg__promote(c, cmd->targets[0], cmd->seq); break;
    default: break;
    }
    stg__rollout_save(c);
}

void stg__command_msg(stg_core_t *c, const uint8_t *env, size_t len, int from) {
    if (c->self < 0) return;
    /* A relayed copy of a command applied here already: the common case of a
     * flood, dropped before any signature is checked. */
    if (from >= 0 && echo(c, env, len)) return;
    stg_command_t *cmd = malloc(sizeof *cmd);
    if (!cmd) return;
    stg_diag_t d = {0};
    unsigned nsig = 0;
    if (stg_command_open(env, len, c->roster, c->now, cmd, &nsig, &d) != 0) {
        refuse(c, &d, cmd->seq ? cmd : NULL, nsig, from);
        free(cmd);
        return;
    }
    if (cmd->seq <= c->cmd_seq) {
        stg_diag_set(&d, STG_REJECT_REPLAY, "command",
                     "%s #%lld is not above the last applied #%lld", stg_cmd_name(cmd->action),
                     (long long)cmd->seq, (long long)c->cmd_seq);
        refuse(c, &d, cmd, nsig, from);
        free(cmd);
        return;
    }
    /* A command a member that lacks its capability would refuse (an older
     * staggerd reads an action it does not know as a bad value) is not
     * taken from a client: the fleet would split into members that applied
     * it and members that did not (docs/protocol.md §10, §11). Nothing is
     * applied or flooded; the client hears which members lack it. One
     * relayed by a member was checked by the member a client reached, and
     * is applied as before, whatever this node's view of the records. */
    if (from < 0 && stg__cmd_capable(c, cmd, &d) != 0) {
        refuse(c, &d, cmd, nsig, from);
        free(cmd);
        return;
    }
    c->cmd_seq = cmd->seq;
    c->cmd_applied_ms = c->now;
    remember(c, env, len, cmd);
    /* On at once, before our own disk write: passing on a signed command
     * is not applying it, and no member need wait for our fsync (COMMAND
     * sends are barrier-free, emit.c). The node a client handed it to
     * sends it to its partners (everyone, in a full mesh); each member
     * relays it once, at once, to its other partners (a few others in a
     * full mesh), over standing connections only: the flood crosses the
     * overlay in its diameter's hops, O(N x partners) messages, and never
     * opens a connection on demand. A member still missing it is caught
     * up by its partners through the records' cmd_seq. Sent before
     * apply(), so no member hears of an update's release before the
     * command that makes its start an emergency one. */
    send_command(c, -1, from, env, len);
    /* The sequence and the effects go to disk in one journal write (at the
     * end of apply, or earlier with a phase change): a crash before it
     * leaves the command unapplied here, to be caught up from the others; a
     * crash after it cannot make the command apply twice. Hooks start after
     * the write. The new cmd_seq rides our record: apply() ends in
     * stg__rollout_save, which re-signs it and pushes it to our partners.
     * A record whose only change is cmd_seq is not relayed further
     * (gossip.c only_cmd_seq, protocol §7.4): every member's changes so
     * after every command, and relaying them all was N x N x partners
     * messages, seconds at 64 members; summaries spread it instead. */
    apply(c, cmd);
    audit(c, "applied", cmd, nsig, from, cmd->reason);
    stg__log(c, STG_LOG_WARNING, "cmd", "applied operator command #%lld %s (%u signature%s)%s%s",
             (long long)cmd->seq, stg_cmd_name(cmd->action), nsig, nsig == 1 ? "" : "s",
             cmd->reason[0] ? ": " : "", cmd->reason);
    c->cmd_refusal[0] = '\0';
    free(cmd);
}

/* A partner's record shows an older sequence: send what it missed. Only
 * to partners, over the standing connections (everyone, in a full mesh):
 * a member beyond them is caught up by its own partners, which hold its
 * record too. */
void stg__command_catch_up(stg_core_t *c, int idx, int64_t their_seq) {
    if (their_seq >= c->cmd_seq || idx == c->self || !c->partner[idx]) return;
    peer_t *p = &c->peers[idx];
    if (p->cmd_sent_ms && c->now - p->cmd_sent_ms < CATCH_UP_EVERY_MS) return;
    p->cmd_sent_ms = c->now;
    for (unsigned i = 0; i < c->ncmd_hist; i++)
        if (c->cmd_hist[i].seq > their_seq && c->cmd_hist[i].expires_at_s * 1000 > c->now)
            send_command(c, idx, -1, c->cmd_hist[i].env, c->cmd_hist[i].len);
}

/* A partner that missed a flood and has had no news since (its record
 * unchanged, so nothing above calls catch-up) is caught up from the tick:
 * a flood that follows the tree (§7.8) reaches a member once, so one lost
 * message would otherwise leave it behind until its record next changed. */
void stg__command_tick(stg_core_t *c) {
    if (!c->cmd_seq || (c->cmd_applied_ms && c->now - c->cmd_applied_ms < CATCH_UP_AFTER_MS))
        return;
    for (unsigned i = 0; i < c->roster->nmembers; i++) {
        peer_t *p = &c->peers[i];
        if (!c->partner[i] || !p->have || p->rec.cmd_seq >= c->cmd_seq || !stg__usable(c, (int)i) ||
            (p->cmd_sent_ms && c->now - p->cmd_sent_ms < CATCH_UP_TICK_MS))
            continue;
        stg__command_catch_up(c, (int)i, p->rec.cmd_seq);
    }
}

/* The command state from the journal's "commands" member (member given)
 * or from a whole file, the commands.json of earlier versions (NULL). */
void stg__command_load(stg_core_t *c, const uint8_t *text, size_t len, const char *member) {
    if (!text || !len) return;
    stg_diag_t d = {0};
    json_t *file = stg_json_parse(text, len, &d);
    if (!file) return;
    json_t *j = member ? json_object_get(file, member) : file;
    if (!json_is_object(j)) {
        json_decref(file);
        return;
    }
    c->cmd_seq = json_integer_value(json_object_get(j, "applied_seq"));
    json_t *hist = json_object_get(j, "history");
    for (size_t i = 0; i < json_array_size(hist) && c->ncmd_hist < STG_CMD_HISTORY; i++) {
        const char *b64 = json_string_value(json_array_get(hist, i));
        if (!b64) continue;
        size_t cap = strlen(b64), n = 0;
        uint8_t *env = malloc(cap);
        stg_command_t *cmd = malloc(sizeof *cmd);
        stg_envelope_t e;
        if (env && cmd &&
            sodium_base642bin(env, cap, b64, cap, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
            stg_envelope_parse(env, n, &e, NULL) == 0 &&
            stg_command_decode(e.payload, e.payload_len, cmd, NULL) == 0)
            remember(c, env, n, cmd);
        free(env);
        free(cmd);
    }
    json_decref(file);
}

void stg__command_free(stg_core_t *c) {
    for (unsigned i = 0; i < c->ncmd_hist; i++) free(c->cmd_hist[i].env);
    c->ncmd_hist = 0;
}
