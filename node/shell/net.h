/* net.h: staggerd's transport: one CURVE ROUTER inbox with its ZAP handler,
 * one CURVE DEALER per peer, all on one libuv loop. No policy lives here:
 * who is admitted and what a message means are the caller's decisions.
 *
 * Connections are made on demand: a peer's DEALER is opened by the first
 * send to it and closed once nothing has been sent on it for the idle-close
 * time (STG_NET_IDLE_CLOSE_MS), because each live connection costs ~45 KiB on
 * each side. The next send opens it again.
 *
 * Wire rule: a message is exactly one frame (its body). The sender's identity
 * is the User-Id the ZAP handler gave its connection, taken from the body
 * frame; the caller re-checks it against its current roster on every message,
 * because ZAP runs only at the handshake.
 *
 * Threading: one thread owns the loop, every stg_net_t and every socket.
 * Callbacks run on that thread, from inside the loop. */
#ifndef STAGGER_NET_H
#define STAGGER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "stagger/proto.h"

#define STG_NET_PEERS_MAX 256u          /* peer ids are 0..255 */
#define STG_NET_FRAME_MAX (256u * 1024) /* ZMQ_MAXMSGSIZE, encrypted bytes */
#define STG_NET_USER_ID_MAX 64          /* with the NUL */
#define STG_NET_ZAP_DOMAIN "stagger"
#define STG_NET_IDLE_CLOSE_MS 60000u    /* see stg_net_set_idle_close */

/* Where a message came from, so it can be answered with stg_net_reply. A
 * plain value: copy it freely; it stays usable while that connection lives. */
typedef struct {
    uint8_t len;
    uint8_t id[255];
} stg_net_route_t;

typedef enum {
    STG_NET_PEER_UP,          /* handshake with the peer succeeded */
    STG_NET_PEER_DOWN,        /* an established connection ended (not by
                                 * our idle close, which is no news) */
    STG_NET_PEER_REFUSED,     /* handshake failed; a rebuild is scheduled */
} stg_net_peer_event_t;

typedef struct {
    /* ZAP: may this X25519 client key connect? On true, write the identity
     * the caller will see in on_msg (normally the Ed25519 key in base64) as
     * a non-empty NUL-terminated string into user_id. Called once per
     * handshake, and once at start-up with a random key, which it must
     * refuse (stg_net_new fails otherwise). Required. */
    bool (*admit)(void *ctx, const uint8_t x25519_client_key[32],
                  char user_id[STG_NET_USER_ID_MAX]);
    /* A one-frame message arrived: on the inbox (route set, for
     * stg_net_reply), or as an answer on the connection to a peer (route
     * NULL; user_id is that peer's). user_id, route and body are borrowed,
     * valid until the callback returns. Required. */
    void (*on_msg)(void *ctx, const char *user_id, const stg_net_route_t *route,
                   const uint8_t *body, size_t len);
    /* Connection news about an outgoing peer socket. Optional (NULL). An
     * idle close (stg_net_set_idle_close) is our own doing, not news: it
     * emits no DOWN; the next send opens the socket and UP follows. */
    void (*on_peer)(void *ctx, unsigned peer_id, stg_net_peer_event_t ev,
                    int detail);
} stg_net_callbacks_t;

typedef struct {
    uint64_t zap_allowed;        /* handshakes admitted */
    uint64_t zap_denied;         /* handshakes refused by admit or domain */
    uint64_t zap_malformed;      /* ZAP requests we could not parse (400) */
    uint64_t frames_bad;         /* inbox messages of != 1 body frame */
    uint64_t rx_msgs;            /* messages handed to on_msg */
    uint64_t rx_unexpected;      /* messages arriving on a peer DEALER */
    uint64_t rx_no_user_id;      /* inbox messages without a User-Id */
    uint64_t tx_msgs;            /* messages queued by send and reply */
    uint64_t tx_dropped;         /* send/reply refused: queue full, no route */
    uint64_t handshake_failures; /* outgoing handshakes refused, all peers */
    uint64_t rebuilds;           /* DEALERs rebuilt after a refusal */
    uint64_t opened;             /* DEALERs created, rebuilds included */
    uint64_t idle_closed;        /* DEALERs closed after the idle time */
} stg_net_stats_t;

typedef struct {
    uint64_t handshake_failures;
    uint64_t rebuilds;
    bool open;                   /* a DEALER exists (sent on lately) */
    bool connected;              /* open, and its last news was a successful
                                  * handshake */
    uint32_t backoff_ms;         /* delay before the next rebuild */
} stg_net_peer_info_t;

typedef struct stg_net stg_net_t;

/* Bind the inbox at bind_endpoint ("tcp://0.0.0.0:7400", "tcp://127.0.0.1:*")
 * with CURVE keys derived from me, the ZAP handler bound first. Before it
 * returns, it proves the guard works: a client with a random key must be
 * refused at the handshake, or stg_net_new fails. me and cb are borrowed
 * for the call only (keys are copied into libzmq); ctx is passed to every
 * callback. Caller owns the result (stg_net_close). NULL on failure, with a
 * message in err. */
stg_net_t *stg_net_new(uv_loop_t *loop, const stg_seckey_t *me,
                       const char *bind_endpoint, const stg_net_callbacks_t *cb,
                       void *ctx, char *err, size_t errcap);

/* The endpoint actually bound (a "*" port resolved). Borrowed, valid until
 * stg_net_close. */
const char *stg_net_endpoint(const stg_net_t *net);

/* Record where peer_id (< STG_NET_PEERS_MAX) is and its key; no socket or
 * connection is made until the first stg_net_send to it. The same endpoint
 * and key again changes nothing; a new endpoint or key closes the open
 * socket, if any (its queued messages are lost), and the next send uses the
 * new ones. endpoint and peer_key are copied. 0, STG_EINVAL, or -ENOMEM. */
int stg_net_peer_set(stg_net_t *net, unsigned peer_id, const char *endpoint,
                     const stg_pubkey_t *peer_key);
/* Forget peer_id and close its socket, if open; queued messages are lost. */
void stg_net_peer_drop(stg_net_t *net, unsigned peer_id);
/* 0, or STG_ENOTFOUND for a peer that is not set. */
int stg_net_peer_info(const stg_net_t *net, unsigned peer_id,
                      stg_net_peer_info_t *out);

/* Queue one frame to peer_id without blocking. buf is copied. Opens the
 * peer's socket if it is closed; libzmq holds the message until the
 * connection is up. A refused handshake is retried by rebuilding the
 * socket, 200 ms doubling to 10 s, for as long as it stays open. 0;
 * STG_ENOTFOUND (no such peer); -EMSGSIZE; -EAGAIN when the queue is full,
 * or -errno when the socket cannot be made (the message is dropped and
 * counted). */
int stg_net_send(stg_net_t *net, unsigned peer_id, const void *buf, size_t len);
/* Close a peer's socket once nothing has been sent on it for ms
 * (default STG_NET_IDLE_CLOSE_MS; 0 = never). Messages still queued on it
 * and answers still on the way are lost; no on_peer DOWN is emitted. One
 * sweep every min(ms / 4, 5 s) does it, so a socket closes between ms and
 * ms + min(ms / 4, 5 s) after its last send. */
void stg_net_set_idle_close(stg_net_t *net, uint32_t ms);
/* Answer the sender of a message (a peer or a staggerctl client). route and
 * buf are borrowed for the call. 0; -EHOSTUNREACH (gone), -EAGAIN (full),
 * -EMSGSIZE; drops are counted. */
int stg_net_reply(stg_net_t *net, const stg_net_route_t *route, const void *buf,
                  size_t len);

void stg_net_stats(const stg_net_t *net, stg_net_stats_t *out);

/* Close every socket and handle. Must not be called from a stg_net callback.
 * Sets *net to NULL; the memory is freed once the loop has run the close
 * callbacks, after which the loop can finish. */
void stg_net_close(stg_net_t **net);

/* The libzmq context, for tests and diagnostics only. Borrowed. */
void *stg_net_zmq_context(stg_net_t *net);

/* ---- internal, shared with node/ctl/client.c --------------------------- */
/* Read one socket-monitor event (unaligned frame, copied). 1 for an event,
 * 0 when none is waiting, STG_EREJECT for a malformed one. */
int stg__net_read_event(void *zsock, uint16_t *ev, uint32_t *val);
/* Make zsock a CURVE client of server (all keys X25519). 0 or -errno. */
int stg__net_curve_client(void *zsock, const uint8_t server[32],
                          const uint8_t pk[32], const uint8_t sk[32]);

#endif
