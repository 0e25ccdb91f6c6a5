/* wire.c: encode and decode the one-frame peer and client messages.
 * Every length is checked against the frame before it is read. */
#include <string.h>

#include "stagger/limits.h"
#include "stagger/wire.h"

static const struct {
    int type;
    const char *name;
} msg_names[] = {
#define X(name, val, text) {val, text},
    STG_MSG_MAP(X)
#undef X
};

const char *stg_msg_name(int type) {
    for (size_t i = 0; i < sizeof msg_names / sizeof msg_names[0]; i++)
        if (msg_names[i].type == type) return msg_names[i].name;
    return NULL;
}

static const char *const outcome_names[] = {
#define X(name, val, text) [val] = text,
    STG_OUTCOME_MAP(X)
#undef X
};

const char *stg_outcome_name(int outcome) {
    if (outcome < 0 || (size_t)outcome >= sizeof outcome_names / sizeof outcome_names[0])
        return NULL;
    return outcome_names[outcome];
}

typedef struct {
    const uint8_t *p;
    size_t left;
    bool bad;
} rd_t;

static uint64_t rd(rd_t *r, unsigned n) {
    if (r->left < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = v << 8 | r->p[i];
    r->p += n;
    r->left -= n;
    return v;
}

typedef struct {
    uint8_t *p;
    size_t left;
    bool bad;
} wr_t;

static void wr(wr_t *w, uint64_t v, unsigned n) {
    if (w->left < n) {
        w->bad = true;
        return;
    }
    for (unsigned i = 0; i < n; i++) w->p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    w->p += n;
    w->left -= n;
}

static void wr_bytes(wr_t *w, const void *b, size_t n) {
    if (w->left < n) {
        w->bad = true;
        return;
    }
    memcpy(w->p, b, n);
    w->p += n;
    w->left -= n;
}

static int piggy_rd(rd_t *r, stg_msg_t *m, stg_diag_t *d) {
    m->npiggy = (uint8_t)rd(r, 1);
    if (m->npiggy > STG_PIGGY_MAX)
        return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "message", "%u liveness claims, at most %d",
                            m->npiggy, STG_PIGGY_MAX);
    for (unsigned i = 0; i < m->npiggy; i++) {
        m->piggy[i].member = (uint16_t)rd(r, 2);
        m->piggy[i].state = (uint8_t)rd(r, 1);
        m->piggy[i].inc = rd(r, 8);
        if (m->piggy[i].state > STG_LIVE_DEAD)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "message", "liveness state %u",
                                m->piggy[i].state);
    }
    return 0;
}

static void piggy_wr(wr_t *w, const stg_msg_t *m) {
    wr(w, m->npiggy, 1);
    for (unsigned i = 0; i < m->npiggy; i++) {
        wr(w, m->piggy[i].member, 2);
        wr(w, m->piggy[i].state, 1);
        wr(w, m->piggy[i].inc, 8);
    }
}

int stg_msg_peek_type(const uint8_t *buf, size_t len, stg_diag_t *d) {
    if (len < STG_WIRE_HEADER)
        return stg_diag_set(d, STG_REJECT_TOO_SHORT, "message",
                            "%zu bytes, a frame header is %u", len, STG_WIRE_HEADER);
    if (len > STG_WIRE_MAX)
        return stg_diag_set(d, STG_REJECT_TOO_LONG, "message", "%zu bytes, at most %u", len,
                            STG_WIRE_MAX);
    if (buf[0] != STG_PROTO_VERSION)
        return stg_diag_set(d, STG_REJECT_BAD_VERSION, "message",
                            "protocol version %u, this build speaks %u", buf[0], STG_PROTO_VERSION);
    if (!stg_msg_name(buf[1]))
        return stg_diag_set(d, STG_REJECT_BAD_TYPE, "message", "unknown message type %u", buf[1]);
    return buf[1];
}

/* The text of an error-rep or ok-rep: bounded, may be empty. */
static int reply_text(rd_t *r, stg_msg_t *m, stg_diag_t *d) {
    if (r->bad) return 0; /* the caller reports the truncation */
    if (r->left > STG_REPLY_TEXT_MAX)
        return stg_diag_set(d, STG_REJECT_TOO_LONG, "message", "%s text of %zu bytes, at most %u",
                            stg_msg_name(m->type), r->left, STG_REPLY_TEXT_MAX);
    m->blob = r->p;
    m->blob_len = r->left;
    r->p += r->left;
    r->left = 0;
    return 0;
}

int stg_msg_decode(const uint8_t *buf, size_t len, stg_msg_t *m, stg_diag_t *d) {
    int type = stg_msg_peek_type(buf, len, d);
    if (type < 0) return type;
    rd_t r = {buf + 2, len - 2, false};
    m->type = (uint8_t)type;
    m->serial = rd(&r, 8);
    m->npiggy = 0;
    m->nvv = 0;
    m->nrec = 0;
    m->blob = NULL;
    m->blob_len = 0;
    int rc = 0;
    switch (m->type) {
    case STG_MSG_PING:
        m->seq = (uint32_t)rd(&r, 4);
        if (r.left >= 8) memcpy(m->hash, r.p, 8);
        rd(&r, 8);
        m->nrecords_held = (uint16_t)rd(&r, 2);
        rc = piggy_rd(&r, m, d);
        break;
    case STG_MSG_ACK:
    case STG_MSG_NACK:
        m->seq = (uint32_t)rd(&r, 4);
        rc = piggy_rd(&r, m, d);
        break;
    case STG_MSG_SUSPECT:
        m->target = (uint16_t)rd(&r, 2);
        m->inc = rd(&r, 8);
        m->accuser = (uint16_t)rd(&r, 2);
        break;
    case STG_MSG_PING_REQ:
        m->seq = (uint32_t)rd(&r, 4);
        m->target = (uint16_t)rd(&r, 2);
        rc = piggy_rd(&r, m, d);
        break;
    case STG_MSG_SYNC:
        if (r.left >= 8) memcpy(m->hash, r.p, 8);
        rd(&r, 8);
        m->nrecords_held = (uint16_t)rd(&r, 2);
        break;
    case STG_MSG_DIGEST:
        m->want_reply = (uint8_t)rd(&r, 1);
        m->nvv = (uint16_t)rd(&r, 2);
        if (m->want_reply > 1 || m->nvv > STG_DIGEST_MAX)
            return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "message", "digest of %u entries",
                                m->nvv);
        for (unsigned i = 0; i < m->nvv; i++) {
            m->vv[i].member = (uint16_t)rd(&r, 2);
            m->vv[i].inc = rd(&r, 8);
            m->vv[i].seq = rd(&r, 8);
        }
        break;
    case STG_MSG_RECORDS:
        m->nrec = (uint8_t)rd(&r, 1);
        if (m->nrec == 0 || m->nrec > STG_RECORDS_MAX)
            return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "message", "%u records", m->nrec);
        for (unsigned i = 0; i < m->nrec && !r.bad; i++) {
            m->rec_len[i] = (uint16_t)rd(&r, 2);
            /* A length outside its limits is too short or too long; one
             * that runs past the frame disagrees with the bytes received. */
            if (!r.bad && m->rec_len[i] == 0)
                return stg_diag_set(d, STG_REJECT_TOO_SHORT, "message", "record %u is empty", i);
            if (m->rec_len[i] > STG_RECORD_ENV_MAX)
                return stg_diag_set(d, STG_REJECT_TOO_LONG, "message",
                                    "record %u of %u bytes, at most %u", i, m->rec_len[i],
                                    STG_RECORD_ENV_MAX);
            if (r.bad || m->rec_len[i] > r.left)
                return stg_diag_set(d, STG_REJECT_BAD_LENGTH, "message",
                                    "record %u length %u runs past the frame", i, m->rec_len[i]);
            m->rec[i] = r.p;
            r.p += m->rec_len[i];
            r.left -= m->rec_len[i];
        }
        break;
    case STG_MSG_RELEASE_WANT:
        if (r.left >= 8) memcpy(m->release, r.p, 8);
        rd(&r, 8);
        break;
    case STG_MSG_VOTE_REQ:
    case STG_MSG_START:
    case STG_MSG_SLOT_FREE:
    case STG_MSG_SLOT_QUERY:
    case STG_MSG_VOTE:
    case STG_MSG_START_ACK:
        m->slot = (uint8_t)rd(&r, 1);
        if (r.left >= 8) memcpy(m->release, r.p, 8);
        rd(&r, 8);
        m->attempt = rd(&r, 8);
        if (m->type == STG_MSG_VOTE || m->type == STG_MSG_START_ACK) {
            m->ok = (uint8_t)rd(&r, 1);
            m->reason = (uint8_t)rd(&r, 1);
            if (m->ok > 1)
                return stg_diag_set(d, STG_REJECT_BAD_VALUE, "message", "ok flag %u", m->ok);
        }
        if (m->slot > 1)
            return stg_diag_set(d, STG_REJECT_OUT_OF_RANGE, "message", "slot %u", m->slot);
        break;
    case STG_MSG_ERROR_REP:
        m->reason = (uint8_t)rd(&r, 1);
        /* Any code but 0: a newer peer may refuse for a reason this build
         * does not know (§11), and its client must still show the
         * refusal, by number, rather than fail to read it. */
        if (!r.bad && m->reason == STG_REJECT_NONE)
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "message", "error-rep reason %u",
                                m->reason);
        rc = reply_text(&r, m, d);
        break;
    case STG_MSG_OK_REP:
        m->outcome = (uint8_t)rd(&r, 1);
        if (!r.bad && !stg_outcome_name(m->outcome))
            return stg_diag_set(d, STG_REJECT_BAD_VALUE, "message", "ok-rep outcome %u",
                                m->outcome);
        rc = reply_text(&r, m, d);
        break;
    case STG_MSG_ROSTER:
    case STG_MSG_RELEASE:
    case STG_MSG_COMMAND:
    case STG_MSG_STATUS_REP:
        if (r.left == 0) return stg_diag_set(d, STG_REJECT_TOO_SHORT, "message", "empty body");
        m->blob = r.p;
        m->blob_len = r.left;
        r.p += r.left;
        r.left = 0;
        break;
    case STG_MSG_ROSTER_WANT:
    case STG_MSG_STATUS_REQ:
        break;
    }
    if (rc < 0) return rc;
    if (r.bad)
        return stg_diag_set(d, STG_REJECT_BAD_LENGTH, "message", "%s truncated",
                            stg_msg_name(m->type));
    if (r.left)
        return stg_diag_set(d, STG_REJECT_BAD_LENGTH, "message", "%s has %zu trailing bytes",
                            stg_msg_name(m->type), r.left);
    return 0;
}

int stg_msg_encode(const stg_msg_t *m, uint8_t *out, size_t cap) {
    wr_t w = {out, cap, false};
    wr(&w, STG_PROTO_VERSION, 1);
    wr(&w, m->type, 1);
    wr(&w, m->serial, 8);
    switch (m->type) {
    case STG_MSG_PING:
        wr(&w, m->seq, 4);
        wr_bytes(&w, m->hash, 8);
        wr(&w, m->nrecords_held, 2);
        piggy_wr(&w, m);
        break;
    case STG_MSG_ACK:
    case STG_MSG_NACK:
        wr(&w, m->seq, 4);
        piggy_wr(&w, m);
        break;
    case STG_MSG_SUSPECT:
        wr(&w, m->target, 2);
        wr(&w, m->inc, 8);
        wr(&w, m->accuser, 2);
        break;
    case STG_MSG_PING_REQ:
        wr(&w, m->seq, 4);
        wr(&w, m->target, 2);
        piggy_wr(&w, m);
        break;
    case STG_MSG_SYNC:
        wr_bytes(&w, m->hash, 8);
        wr(&w, m->nrecords_held, 2);
        break;
    case STG_MSG_DIGEST:
        wr(&w, m->want_reply, 1);
        wr(&w, m->nvv, 2);
        for (unsigned i = 0; i < m->nvv; i++) {
            wr(&w, m->vv[i].member, 2);
            wr(&w, m->vv[i].inc, 8);
            wr(&w, m->vv[i].seq, 8);
        }
        break;
    case STG_MSG_RECORDS:
        wr(&w, m->nrec, 1);
        for (unsigned i = 0; i < m->nrec; i++) {
            wr(&w, m->rec_len[i], 2);
            wr_bytes(&w, m->rec[i], m->rec_len[i]);
        }
        break;
    case STG_MSG_RELEASE_WANT:
        wr_bytes(&w, m->release, 8);
        break;
    case STG_MSG_VOTE_REQ:
    case STG_MSG_START:
    case STG_MSG_SLOT_FREE:
    case STG_MSG_SLOT_QUERY:
    case STG_MSG_VOTE:
    case STG_MSG_START_ACK:
        wr(&w, m->slot, 1);
        wr_bytes(&w, m->release, 8);
        wr(&w, m->attempt, 8);
        if (m->type == STG_MSG_VOTE || m->type == STG_MSG_START_ACK) {
            wr(&w, m->ok, 1);
            wr(&w, m->reason, 1);
        }
        break;
    case STG_MSG_ERROR_REP:
    case STG_MSG_OK_REP:
        wr(&w, m->type == STG_MSG_ERROR_REP ? m->reason : m->outcome, 1);
        if (m->blob_len > STG_REPLY_TEXT_MAX) w.bad = true;
        wr_bytes(&w, m->blob, m->blob_len);
        break;
    case STG_MSG_ROSTER:
    case STG_MSG_RELEASE:
    case STG_MSG_COMMAND:
    case STG_MSG_STATUS_REP:
        wr_bytes(&w, m->blob, m->blob_len);
        break;
    default:
        break;
    }
    if (w.bad) return STG_ENOSPACE;
    return (int)(cap - w.left);
}
