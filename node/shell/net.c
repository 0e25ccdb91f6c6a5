/* net.c: staggerd's ZeroMQ transport on libuv (see net.h); the only place
 * the daemon touches sockets. The traps it avoids are in PITFALLS.md. */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "net.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
/* Draft-only macro in 4.3.4, but Debian's libzmq handles the option. */
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define DRAIN_BUDGET 64        /* messages per socket per loop turn */
#define LINGER_MS 100
#define PEER_SNDHWM 256
#define BACKOFF_MIN_MS 200u
#define BACKOFF_MAX_MS 10000u
#define RECONNECT_MAX_MS 10000
#define SELFCHECK_MS 10000 /* 3 s was not enough for 64 peers starting on 2 busy cores */
#define ZAP_FRAMES_MAX 8       /* a CURVE request has 7 */
#define SWEEP_MAX_MS 5000u     /* idle-close sweep period, at most */
/* zmq_close returns before libzmq's own threads free the socket's pipes
 * (a few ms; LINGER_MS with messages unsent), so trimming at once is futile. */
#define TRIM_DELAY_MS (LINGER_MS + 100u)
/* Connections peers open to us and close again free memory too, and we
 * hear nothing of it: trim now and then anyway (well under 1 ms). */
#define TRIM_EVERY_MS 60000u

#define MON_EVENTS                                                             \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |   \
     ZMQ_EVENT_DISCONNECTED)
#define HANDSHAKE_FAILED                                                       \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                                    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

typedef enum { Z_ROUTER, Z_ZAP, Z_DEALER, Z_MONITOR } zkind_t;

/* A ZeroMQ socket and the uv_poll on its ZMQ_FD. Freed in the poll's close
 * callback, so a pointer held across a user callback stays readable and
 * `closed` tells whether to go on. */
typedef struct {
    uv_poll_t poll;
    void *s;
    stg_net_t *net;
    unsigned peer_id;
    zkind_t kind;
    bool watched;
    bool closed;
    bool dirty; /* may be readable: its fd fired, or we used it, since it last was not */
} zsock_t;

typedef struct {
    unsigned id;
    char endpoint[STG_ENDPOINT_MAX + 1];
    stg_pubkey_t key;
    uint8_t server_curve[32];
    zsock_t *dealer;
    zsock_t *mon;
    uv_timer_t *timer; /* rebuild after a refused handshake; active only while open */
    uint64_t last_send_ms; /* uv_now of the last send, for the idle close */
    stg_net_peer_info_t info;
} peer_t;

struct stg_net {
    uv_loop_t *loop;
    void *zctx;
    stg_net_callbacks_t cb;
    void *ctx;
    uint8_t curve_pk[32];
    uint8_t *curve_sk; /* sodium_malloc'd, 32 bytes */
    zsock_t *router;
    zsock_t *zap;
    peer_t *peers[STG_NET_PEERS_MAX];
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    uv_timer_t sweep; /* idle close; unreferenced, runs while a DEALER is open */
    uint32_t idle_close_ms;
    uint64_t trim_at_ms; /* uv_now for malloc_trim after idle closes; 0: none due */
    uint64_t trimmed_ms; /* uv_now of the last malloc_trim */
    bool loop_handles; /* prepare/check/idle/sweep initialised */
    unsigned open_handles;
    bool closing;
    int in_cb;
    unsigned mon_seq;
    char endpoint[256];
    stg_net_stats_t st;
    /* start-up self-check */
    bool probing;
    bool probe_seen;
    uint8_t probe_key[32];
};

static int zerr(void) { return errno ? -errno : -EIO; }

static void setf(char *err, size_t cap, const char *fmt, const char *a, int rc) {
    if (err && cap) snprintf(err, cap, fmt, a, stg_strerror(rc));
}

/* ---- handle bookkeeping ---------------------------------------------- */

static void handle_gone(stg_net_t *net) {
    assert(net->open_handles > 0);
    if (--net->open_handles == 0 && net->closing) {
        sodium_free(net->curve_sk);
        free(net);
    }
}

static void on_zsock_closed(uv_handle_t *h) {
    zsock_t *z = h->data;
    stg_net_t *net = z->net;
    free(z);
    handle_gone(net);
}

/* A peer's timer carries {net, peer}: the peer is freed at once on drop,
 * the timer only here. */
static void on_timer_closed(uv_handle_t *h) {
    stg_net_t *net = ((stg_net_t **)h->data)[0];
    free(h->data);
    free(h);
    handle_gone(net);
}

static void on_loop_handle_closed(uv_handle_t *h) { handle_gone(h->data); }

/* The fd fired: commands are waiting in the socket's mailbox, so its
 * ZMQ_EVENTS must be read again. Only such sockets, and those we sent on,
 * are visited: reading ZMQ_EVENTS costs a system call or two, and doing it
 * for every member's socket on every loop turn made each message cost O(N). */
static void on_poll(uv_poll_t *h, int status, int events) {
    (void)status, (void)events;
    ((zsock_t *)h->data)->dirty = true;
}
static void nop_idle(uv_idle_t *h) { (void)h; }

static zsock_t *zsock_new(stg_net_t *net, int type, zkind_t kind, unsigned peer_id,
                          int *rc) {
    zsock_t *z = calloc(1, sizeof *z);
    if (!z) {
        *rc = -ENOMEM;
        return NULL;
    }
    z->s = zmq_socket(net->zctx, type);
    if (!z->s) {
        *rc = zerr();
        free(z);
        return NULL;
    }
    z->net = net;
    z->kind = kind;
    z->peer_id = peer_id;
    int linger = kind == Z_DEALER || kind == Z_ROUTER ? LINGER_MS : 0;
    zmq_setsockopt(z->s, ZMQ_LINGER, &linger, sizeof linger);
    return z;
}

/* Put the socket on the loop: the poll only wakes the loop; the check
 * handle decides from ZMQ_EVENTS, because ZMQ_FD is edge-triggered. */
static int zsock_watch(zsock_t *z) {
    int fd;
    size_t n = sizeof fd;
    if (zmq_getsockopt(z->s, ZMQ_FD, &fd, &n) != 0) return zerr();
    int rc = uv_poll_init(z->net->loop, &z->poll, fd);
    if (rc < 0) return rc;
    z->poll.data = z;
    z->watched = true;
    z->net->open_handles++;
    z->dirty = true;
    return uv_poll_start(&z->poll, UV_READABLE, on_poll);
}

/* Stop the uv handle before zmq_close, so libuv never watches a descriptor
 * libzmq has handed back to the kernel. */
static void zsock_close(zsock_t **pz) {
    zsock_t *z = *pz;
    if (!z) return;
    *pz = NULL;
    z->closed = true;
    if (z->watched) uv_close((uv_handle_t *)&z->poll, on_zsock_closed);
    zmq_close(z->s);
    z->s = NULL;
    if (!z->watched) free(z);
}

/* Reading ZMQ_EVENTS processes the socket's pending commands, which is
 * what re-arms its fd: once it says "nothing to read", the fd fires before
 * anything new arrives, so the socket need not be looked at until then. */
static bool readable(zsock_t *z) {
    int ev = 0;
    size_t n = sizeof ev;
    if (!z || z->closed) return false;
    if (zmq_getsockopt(z->s, ZMQ_EVENTS, &ev, &n) != 0) return false;
    z->dirty = (ev & ZMQ_POLLIN) != 0;
    return z->dirty;
}

/* Discard the rest of a multi-frame message. */
static void skip_rest(void *s) {
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        more = zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}

/* ---- ZAP ------------------------------------------------------------- */

static bool frame_is(zmq_msg_t *m, const char *text) {
    size_t n = strlen(text);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), text, n) == 0;
}

static void zap_reply(void *s, zmq_msg_t *reqid, const char *status,
                      const char *text, const char *user_id) {
    zmq_send(s, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, reqid ? zmq_msg_data(reqid) : "", reqid ? zmq_msg_size(reqid) : 0,
             ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, status, strlen(status), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, text, strlen(text), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, user_id, strlen(user_id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, "", 0, ZMQ_DONTWAIT);
}

/* Answer one ZAP request (RFC 27). Every request gets exactly one reply,
 * malformed ones included: libzmq stalls later handshakes otherwise.
 * Returns false when nothing was waiting. */
static bool zap_one(stg_net_t *net) {
    void *s = net->zap->s;
    zmq_msg_t f[ZAP_FRAMES_MAX];
    int n = 0;
    bool more = true, overflow = false;
    while (more) {
        if (n == ZAP_FRAMES_MAX) {
            overflow = true;
            skip_rest(s);
            break;
        }
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            if (n == 0) return false;
            break; /* a REP delivers whole messages; cannot happen */
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    /* 0 version, 1 request id, 2 domain, 3 address, 4 routing id,
     * 5 mechanism, 6 the client's long-term key */
    zmq_msg_t *reqid = n > 1 ? &f[1] : NULL;
    if (overflow || n != 7 || !frame_is(&f[0], "1.0") || zmq_msg_size(&f[6]) != 32) {
        net->st.zap_malformed++;
        zap_reply(s, reqid, "400", "malformed request", "");
    } else if (!frame_is(&f[2], STG_NET_ZAP_DOMAIN) || !frame_is(&f[5], "CURVE")) {
        net->st.zap_denied++;
        zap_reply(s, reqid, "400", "wrong domain or mechanism", "");
    } else {
        const uint8_t *key = zmq_msg_data(&f[6]);
        char uid[STG_NET_USER_ID_MAX];
        memset(uid, 0, sizeof uid);
        net->in_cb++;
        bool ok = net->cb.admit(net->ctx, key, uid);
        net->in_cb--;
        if (net->probing && memcmp(key, net->probe_key, 32) == 0) net->probe_seen = true;
        if (ok) {
            /* The caller's contract, not hostile input. */
            assert(memchr(uid, '\0', sizeof uid) != NULL && uid[0] != '\0');
            net->st.zap_allowed++;
            zap_reply(s, reqid, "200", "OK", uid);
        } else {
            net->st.zap_denied++;
            zap_reply(s, reqid, "400", "not admitted", "");
        }
    }
    for (int i = 0; i < n; i++) zmq_msg_close(&f[i]);
    return true;
}

/* ---- inbox ------------------------------------------------------------ */

static bool router_one(stg_net_t *net) {
    void *s = net->router->s;
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return false;
    }
    if (!zmq_msg_more(&rid)) { /* a routing id alone: no body frame */
        net->st.frames_bad++;
        zmq_msg_close(&rid);
        return true;
    }
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
        return true;
    }
    if (zmq_msg_more(&body) || zmq_msg_size(&rid) == 0 ||
        zmq_msg_size(&rid) > sizeof ((stg_net_route_t *)0)->id) {
        skip_rest(s);
        net->st.frames_bad++;
    } else {
        /* The body frame, not the routing-id frame: in 4.3.4 a routing-id
         * frame prefetched by a ZMQ_EVENTS query has lost its metadata. */
        const char *uid = zmq_msg_gets(&body, "User-Id");
        if (!uid || !uid[0]) {
            net->st.rx_no_user_id++;
        } else {
            stg_net_route_t route;
            route.len = (uint8_t)zmq_msg_size(&rid);
            memcpy(route.id, zmq_msg_data(&rid), route.len);
            net->st.rx_msgs++;
            net->in_cb++;
            net->cb.on_msg(net->ctx, uid, &route, zmq_msg_data(&body),
                           zmq_msg_size(&body));
            net->in_cb--;
        }
    }
    zmq_msg_close(&body);
    zmq_msg_close(&rid);
    return true;
}

/* ---- peers ------------------------------------------------------------- */

static void peer_event(stg_net_t *net, peer_t *p, stg_net_peer_event_t ev, int detail) {
    if (!net->cb.on_peer) return;
    net->in_cb++;
    net->cb.on_peer(net->ctx, p->id, ev, detail);
    net->in_cb--;
}

/* Monitor frame 1 is u16 event + u32 value, unaligned: copy, don't cast.
 * Returns 1 for an event, 0 for none waiting, STG_EREJECT for junk. */
int stg__net_read_event(void *s, uint16_t *ev, uint32_t *val) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    int rc = STG_EREJECT;
    if (zmq_msg_size(&m) == 6) {
        memcpy(ev, zmq_msg_data(&m), 2);
        memcpy(val, (uint8_t *)zmq_msg_data(&m) + 2, 4);
        rc = 1;
    }
    if (zmq_msg_more(&m)) skip_rest(s); /* the endpoint text */
    zmq_msg_close(&m);
    return rc;
}

static void peer_close_sockets(peer_t *p) {
    if (p->dealer) zmq_socket_monitor(p->dealer->s, NULL, 0);
    zsock_close(&p->mon);
    zsock_close(&p->dealer);
    p->info.open = p->info.connected = false;
}

/* Close the socket for good, until the next send: no rebuild either. */
static void peer_shut(peer_t *p) {
    peer_close_sockets(p);
    uv_timer_stop(p->timer);
}

int stg__net_curve_client(void *s, const uint8_t server[32], const uint8_t pk[32],
                            const uint8_t sk[32]) {
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 32) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32) != 0)
        return zerr();
    return 0;
}

/* ---- idle close ----------------------------------------------------------- */

/* The freed pipes and buffers go back to the kernel only if glibc is asked
 * (they sit in the middle of its heaps, below memory still in use), and
 * only once libzmq has freed them: a sweep at least TRIM_DELAY_MS after the
 * one that closed sockets trims. Measured with 64 DEALERs to one peer: they
 * add 3.6 MiB of RSS; closed, none of it leaves without the trim, 3.3 MiB
 * with it, and nothing with a trim at once. */
static void on_sweep(uv_timer_t *t) {
    stg_net_t *net = t->data;
    uint64_t now = uv_now(net->loop);
    unsigned live = 0, closed = 0;
    for (unsigned i = 0; i < STG_NET_PEERS_MAX; i++) {
        peer_t *p = net->peers[i];
        if (!p || !p->dealer) continue;
        if (now - p->last_send_ms >= net->idle_close_ms) {
            peer_shut(p);
            closed++;
        } else {
            live++;
        }
    }
    net->st.idle_closed += closed;
    if ((net->trim_at_ms && now >= net->trim_at_ms) || now - net->trimmed_ms >= TRIM_EVERY_MS) {
        malloc_trim(0);
        net->trim_at_ms = 0;
        net->trimmed_ms = now;
    }
    if (closed && !net->trim_at_ms) net->trim_at_ms = now + TRIM_DELAY_MS;
    if (!live && !net->trim_at_ms) uv_timer_stop(t);
}

/* Runs while a DEALER is open or a trim is due, so a node with nothing
 * open is not woken; unreferenced, so it never keeps the loop alive by itself. */
static void sweep_arm(stg_net_t *net) {
    if (!net->loop_handles || net->idle_close_ms == 0 ||
        uv_is_active((uv_handle_t *)&net->sweep))
        return;
    uint64_t every = net->idle_close_ms / 4;
    if (every > SWEEP_MAX_MS) every = SWEEP_MAX_MS;
    if (every == 0) every = 1;
    uv_timer_start(&net->sweep, on_sweep, every, every);
}

void stg_net_set_idle_close(stg_net_t *net, uint32_t ms) {
    net->idle_close_ms = ms;
    uv_timer_stop(&net->sweep);
    sweep_arm(net); /* a sweep with nothing open stops itself */
}

/* A DEALER with its monitor PAIR, connected to the peer. The PAIR connects
 * right after zmq_socket_monitor and before the DEALER connects, so no
 * handshake event is lost. */
static int peer_open(stg_net_t *net, peer_t *p) {
    int rc = 0;
    p->dealer = zsock_new(net, ZMQ_DEALER, Z_DEALER, p->id, &rc);
    if (!p->dealer) return rc;
    p->mon = zsock_new(net, ZMQ_PAIR, Z_MONITOR, p->id, &rc);
    if (!p->mon) goto fail;
    void *d = p->dealer->s;
    int hwm = PEER_SNDHWM, rhwm = 16, ivl_max = RECONNECT_MAX_MS;
    int64_t maxmsg = STG_NET_FRAME_MAX;
    /* A peer that is down is retried by libzmq itself, backing off to
     * RECONNECT_MAX_MS instead of a connect every 100 ms. */
    if (zmq_setsockopt(d, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(d, ZMQ_RCVHWM, &rhwm, sizeof rhwm) != 0 ||
        zmq_setsockopt(d, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        rc = zerr();
        goto fail;
    }
    if ((rc = stg__net_curve_client(d, p->server_curve, net->curve_pk, net->curve_sk)) < 0)
        goto fail;
    char mon_ep[64];
    snprintf(mon_ep, sizeof mon_ep, "inproc://stg-net-mon-%u", net->mon_seq++);
    if (zmq_socket_monitor(d, mon_ep, MON_EVENTS) != 0 ||
        zmq_connect(p->mon->s, mon_ep) != 0) {
        rc = zerr();
        goto fail;
    }
    if (zmq_connect(d, p->endpoint) != 0) {
        rc = zerr();
        goto fail;
    }
    if ((rc = zsock_watch(p->dealer)) < 0 || (rc = zsock_watch(p->mon)) < 0) goto fail;
    p->info.open = true;
    p->info.connected = false;
    net->st.opened++;
    sweep_arm(net);
    return 0;
fail:
    peer_close_sockets(p);
    return rc;
}

/* Out of sockets or memory, the peer stays closed until the next send. */
static void on_rebuild(uv_timer_t *t) {
    stg_net_t *net = ((stg_net_t **)t->data)[0];
    peer_t *p = ((peer_t **)t->data)[1];
    peer_close_sockets(p);
    p->info.rebuilds++;
    net->st.rebuilds++;
    peer_open(net, p);
}

static void peer_monitor(stg_net_t *net, zsock_t *z) {
    peer_t *p = net->peers[z->peer_id];
    uint16_t ev;
    uint32_t val;
    int rc = stg__net_read_event(z->s, &ev, &val);
    if (rc <= 0 || !p) return;
    if (ev & ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        p->info.connected = true;
        p->info.backoff_ms = BACKOFF_MIN_MS;
        peer_event(net, p, STG_NET_PEER_UP, 0);
    } else if (ev & ZMQ_EVENT_DISCONNECTED) {
        if (p->info.connected) {
            p->info.connected = false;
            peer_event(net, p, STG_NET_PEER_DOWN, 0);
        }
    } else if (ev & HANDSHAKE_FAILED) {
        /* libzmq 4.3 does not reconnect after a refusal: build anew. */
        p->info.connected = false;
        p->info.handshake_failures++;
        net->st.handshake_failures++;
        if (!uv_is_active((uv_handle_t *)p->timer)) {
            uv_timer_start(p->timer, on_rebuild, p->info.backoff_ms, 0);
            p->info.backoff_ms = p->info.backoff_ms * 2 > BACKOFF_MAX_MS
                                     ? BACKOFF_MAX_MS
                                     : p->info.backoff_ms * 2;
        }
        peer_event(net, p, STG_NET_PEER_REFUSED, (int)val);
    }
}

/* A peer answers on the connection our message came in on (its ack then
 * carries the TCP acknowledgement, saving a segment per probe). The sender
 * is the peer this DEALER connects to: CURVE pinned its server key. */
static bool dealer_one(stg_net_t *net, zsock_t *z) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, z->s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return false;
    }
    peer_t *p = z->peer_id < STG_NET_PEERS_MAX ? net->peers[z->peer_id] : NULL;
    if (zmq_msg_more(&m)) {
        skip_rest(z->s);
        net->st.frames_bad++;
    } else if (!p || p->dealer != z) {
        net->st.rx_unexpected++;
    } else {
        char uid[STG_KEY_B64_LEN + 1];
        stg_pubkey_to_b64(&p->key, uid);
        net->st.rx_msgs++;
        net->in_cb++;
        net->cb.on_msg(net->ctx, uid, NULL, zmq_msg_data(&m), zmq_msg_size(&m));
        net->in_cb--;
    }
    zmq_msg_close(&m);
    return true;
}

/* ---- the loop ---------------------------------------------------------- */

/* Drain up to the budget; true when more is waiting. A callback may close
 * the socket (peer_drop, peer_set), hence the `closed` checks. */
static bool service(stg_net_t *net, zsock_t *z) {
    for (int i = 0; i < DRAIN_BUDGET; i++) {
        if (!readable(z)) return false;
        switch (z->kind) {
        case Z_ROUTER: router_one(net); break;
        case Z_ZAP: zap_one(net); break;
        case Z_DEALER: dealer_one(net, z); break;
        case Z_MONITOR: peer_monitor(net, z); break;
        }
    }
    return readable(z);
}

/* Visit every socket; re-read each pointer, since callbacks may replace
 * or drop peers while we walk. */
static bool visit(stg_net_t *net, zsock_t *z, bool drain) {
    if (!z || !z->dirty) return false;
    return drain ? service(net, z) : readable(z);
}

static bool visit_all(stg_net_t *net, bool drain) {
    bool pending = visit(net, net->zap, drain);
    pending |= visit(net, net->router, drain);
    for (unsigned i = 0; i < STG_NET_PEERS_MAX; i++) {
        if (net->peers[i]) pending |= visit(net, net->peers[i]->dealer, drain);
        if (net->peers[i]) pending |= visit(net, net->peers[i]->mon, drain);
    }
    return pending;
}

static void on_check(uv_check_t *h) { visit_all(h->data, true); }

/* A send or a recv can make a socket readable without a ZMQ_FD edge:
 * while anything is waiting, the idle handle keeps poll from blocking. */
static void on_prepare(uv_prepare_t *h) {
    stg_net_t *net = h->data;
    if (visit_all(net, false)) uv_idle_start(&net->idle, nop_idle);
    else uv_idle_stop(&net->idle);
}

/* ---- start-up ------------------------------------------------------------ */

/* Where a local client reaches a wildcard bind. */
static void probe_endpoint(const char *bound, char *out, size_t cap) {
    if (strncmp(bound, "tcp://0.0.0.0:", 14) == 0)
        snprintf(out, cap, "tcp://127.0.0.1:%s", bound + 14);
    else if (strncmp(bound, "tcp://[::]:", 11) == 0)
        snprintf(out, cap, "tcp://[::1]:%s", bound + 11);
    else snprintf(out, cap, "%s", bound);
}

/* Prove the guard: a client with a random key must be refused at the
 * handshake, through the caller's own admit callback. */
static int selfcheck(stg_net_t *net, char *err, size_t errcap) {
    uint8_t pk[32], sk[32];
    crypto_box_keypair(pk, sk); /* never zmq_curve_keypair (libzmq #4241) */
    memcpy(net->probe_key, pk, 32);
    int rc = 0;
    zsock_t *probe = zsock_new(net, ZMQ_DEALER, Z_DEALER, 0, &rc);
    zsock_t *mon = probe ? zsock_new(net, ZMQ_PAIR, Z_MONITOR, 0, &rc) : NULL;
    char ep[300];
    probe_endpoint(net->endpoint, ep, sizeof ep);
    int linger = 0;
    if (mon) zmq_setsockopt(probe->s, ZMQ_LINGER, &linger, sizeof linger);
    if (!mon || stg__net_curve_client(probe->s, net->curve_pk, pk, sk) < 0 ||
        zmq_socket_monitor(probe->s, "inproc://stg-net-probe", HANDSHAKE_FAILED |
                                                                   ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0 ||
        zmq_connect(mon->s, "inproc://stg-net-probe") != 0 || zmq_connect(probe->s, ep) != 0) {
        if (rc == 0) rc = zerr();
        setf(err, errcap, "self-check: cannot make the probe for %s: %s", ep, rc);
        goto out;
    }
    net->probing = true;
    uint64_t deadline = uv_hrtime() / 1000000 + SELFCHECK_MS;
    rc = -ETIMEDOUT;
    for (;;) {
        uint64_t now = uv_hrtime() / 1000000;
        if (now >= deadline) break;
        zmq_pollitem_t it[2] = {{net->zap->s, 0, ZMQ_POLLIN, 0}, {mon->s, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, (long)(deadline - now)) < 0) {
            if (errno == EINTR) continue;
            rc = zerr();
            break;
        }
        if (it[0].revents) zap_one(net);
        uint16_t ev;
        uint32_t val;
        if (it[1].revents && stg__net_read_event(mon->s, &ev, &val) == 1) {
            if (ev & ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                rc = STG_ESTATE;
                break;
            }
            rc = (ev & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) && net->probe_seen ? 0 : -EPROTO;
            break;
        }
    }
    net->probing = false;
    if (rc == STG_ESTATE && err && errcap)
        snprintf(err, errcap, "self-check: a random key was admitted at %s: the admit "
                              "callback must refuse keys it does not know", ep);
    else if (rc < 0)
        setf(err, errcap, "self-check: a random key was not refused cleanly at %s: %s",
             ep, rc);
out:
    if (probe) zmq_socket_monitor(probe->s, NULL, 0);
    zsock_close(&mon);
    zsock_close(&probe);
    sodium_memzero(sk, sizeof sk);
    /* The probe is not traffic. */
    memset(&net->st, 0, sizeof net->st);
    return rc;
}

static int open_zap(stg_net_t *net) {
    int rc = 0;
    net->zap = zsock_new(net, ZMQ_REP, Z_ZAP, 0, &rc);
    if (!net->zap) return rc;
    return zmq_bind(net->zap->s, ZAP_ENDPOINT) == 0 ? 0 : zerr();
}

static int open_router(stg_net_t *net, const char *bind_ep, char *err, size_t errcap) {
    /* Without a ZAP handler a CURVE server admits anyone with its key. */
    assert(net->zap != NULL && !net->zap->closed);
    int rc = 0;
    net->router = zsock_new(net, ZMQ_ROUTER, Z_ROUTER, 0, &rc);
    if (!net->router) goto fail;
    void *r = net->router->s;
    int one = 1;
    int64_t maxmsg = STG_NET_FRAME_MAX;
    const char *dom = STG_NET_ZAP_DOMAIN;
    if (zmq_setsockopt(r, ZMQ_ZAP_DOMAIN, dom, strlen(dom)) != 0 ||
        zmq_setsockopt(r, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0) {
        rc = zerr();
        setf(err, errcap, "%s: cannot enforce the ZAP domain (libzmq option 93): %s",
             bind_ep, rc);
        return rc;
    }
    if (zmq_setsockopt(r, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, net->curve_sk, 32) != 0 ||
        zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(r, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0) {
        rc = zerr();
        goto fail;
    }
    if (zmq_bind(r, bind_ep) != 0) {
        rc = zerr();
        setf(err, errcap, "%s: cannot bind: %s", bind_ep, rc);
        return rc;
    }
    size_t n = sizeof net->endpoint;
    if (zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, net->endpoint, &n) != 0) {
        rc = zerr();
        goto fail;
    }
    return 0;
fail:
    setf(err, errcap, "%s: cannot set up the inbox: %s", bind_ep, rc);
    return rc;
}

stg_net_t *stg_net_new(uv_loop_t *loop, const stg_seckey_t *me, const char *bind_ep,
                       const stg_net_callbacks_t *cb, void *ctx, char *err,
                       size_t errcap) {
    assert(loop && me && bind_ep && cb && cb->admit && cb->on_msg);
    stg_net_t *net = calloc(1, sizeof *net);
    if (!net) {
        setf(err, errcap, "%s: %s", bind_ep, -ENOMEM);
        return NULL;
    }
    net->loop = loop;
    net->cb = *cb;
    net->ctx = ctx;
    net->curve_sk = sodium_malloc(32);
    net->zctx = zmq_ctx_new();
    int rc = -ENOMEM;
    if (!net->curve_sk || !net->zctx) {
        setf(err, errcap, "%s: cannot start libzmq: %s", bind_ep, rc);
        goto fail;
    }
    int blocky = 0;
    zmq_ctx_set(net->zctx, ZMQ_BLOCKY, blocky);
    if ((rc = stg_curve_from_seckey(me, net->curve_pk, net->curve_sk)) < 0) {
        setf(err, errcap, "%s: cannot derive the CURVE key: %s", bind_ep, rc);
        goto fail;
    }
    if ((rc = open_zap(net)) < 0) {
        setf(err, errcap, "%s: cannot bind the ZAP handler: %s", ZAP_ENDPOINT, rc);
        goto fail;
    }
    if ((rc = open_router(net, bind_ep, err, errcap)) < 0) goto fail;
    if ((rc = selfcheck(net, err, errcap)) < 0) goto fail;

    uv_prepare_init(loop, &net->prepare);
    uv_check_init(loop, &net->check);
    uv_idle_init(loop, &net->idle);
    uv_timer_init(loop, &net->sweep);
    uv_unref((uv_handle_t *)&net->sweep);
    net->prepare.data = net->check.data = net->idle.data = net->sweep.data = net;
    net->idle_close_ms = STG_NET_IDLE_CLOSE_MS;
    net->loop_handles = true;
    net->open_handles += 4;
    uv_prepare_start(&net->prepare, on_prepare);
    uv_check_start(&net->check, on_check);
    if ((rc = zsock_watch(net->zap)) < 0 || (rc = zsock_watch(net->router)) < 0) {
        setf(err, errcap, "%s: cannot watch the sockets: %s", bind_ep, rc);
        goto fail;
    }
    return net;
fail:
    stg_net_close(&net);
    return NULL;
}

const char *stg_net_endpoint(const stg_net_t *net) { return net->endpoint; }

/* ---- peers: public ------------------------------------------------------- */

int stg_net_peer_set(stg_net_t *net, unsigned id, const char *endpoint,
                     const stg_pubkey_t *key) {
    if (id >= STG_NET_PEERS_MAX || !endpoint || strlen(endpoint) > STG_ENDPOINT_MAX)
        return STG_EINVAL;
    peer_t *p = net->peers[id];
    if (p && strcmp(p->endpoint, endpoint) == 0 && stg_pubkey_eq(&p->key, key)) return 0;
    uint8_t server[32];
    if (stg_curve_from_pubkey(key, server) < 0) return STG_EINVAL;
    if (p) {
        peer_shut(p);
    } else {
        p = calloc(1, sizeof *p);
        void **td = calloc(2, sizeof(void *));
        uv_timer_t *t = malloc(sizeof *t);
        if (!p || !td || !t) {
            free(p), free(td), free(t);
            return -ENOMEM;
        }
        uv_timer_init(net->loop, t);
        td[0] = net;
        td[1] = p;
        t->data = td;
        net->open_handles++;
        p->timer = t;
        p->id = id;
        net->peers[id] = p;
    }
    memset(&p->info, 0, sizeof p->info);
    p->info.backoff_ms = BACKOFF_MIN_MS;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    p->key = *key;
    memcpy(p->server_curve, server, 32);
    return 0;
}

void stg_net_peer_drop(stg_net_t *net, unsigned id) {
    if (id >= STG_NET_PEERS_MAX || !net->peers[id]) return;
    peer_t *p = net->peers[id];
    net->peers[id] = NULL;
    peer_close_sockets(p);
    uv_close((uv_handle_t *)p->timer, on_timer_closed);
    free(p);
}

int stg_net_peer_info(const stg_net_t *net, unsigned id, stg_net_peer_info_t *out) {
    if (id >= STG_NET_PEERS_MAX || !net->peers[id]) return STG_ENOTFOUND;
    *out = net->peers[id]->info;
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

int stg_net_send(stg_net_t *net, unsigned id, const void *buf, size_t len) {
    if (id >= STG_NET_PEERS_MAX || !net->peers[id]) return STG_ENOTFOUND;
    if (len > STG_NET_FRAME_MAX) return -EMSGSIZE;
    peer_t *p = net->peers[id];
    if (!p->dealer) {
        assert(!uv_is_active((uv_handle_t *)p->timer));
        int rc = peer_open(net, p);
        if (rc < 0) {
            net->st.tx_dropped++;
            return rc;
        }
    }
    p->last_send_ms = uv_now(net->loop);
    p->dealer->dirty = true; /* a send can make it readable, fd or not */
    if (zmq_send(p->dealer->s, buf, len, ZMQ_DONTWAIT) < 0) {
        net->st.tx_dropped++;
        return zerr();
    }
    net->st.tx_msgs++;
    return 0;
}

int stg_net_reply(stg_net_t *net, const stg_net_route_t *route, const void *buf,
                  size_t len) {
    if (len > STG_NET_FRAME_MAX) return -EMSGSIZE;
    if (route->len == 0) return STG_EINVAL;
    void *r = net->router->s;
    net->router->dirty = true;
    if (zmq_send(r, route->id, route->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        net->st.tx_dropped++;
        return zerr();
    }
    /* ROUTER queues the whole message once the first frame is accepted. */
    if (zmq_send(r, buf, len, ZMQ_DONTWAIT) < 0) {
        net->st.tx_dropped++;
        return zerr();
    }
    net->st.tx_msgs++;
    return 0;
}

void stg_net_stats(const stg_net_t *net, stg_net_stats_t *out) { *out = net->st; }

void *stg_net_zmq_context(stg_net_t *net) { return net->zctx; }

/* ---- closing ------------------------------------------------------------- */

void stg_net_close(stg_net_t **pnet) {
    stg_net_t *net = *pnet;
    if (!net) return;
    *pnet = NULL;
    assert(net->in_cb == 0 && !net->closing);
    for (unsigned i = 0; i < STG_NET_PEERS_MAX; i++) stg_net_peer_drop(net, i);
    zsock_close(&net->router);
    zsock_close(&net->zap);
    if (net->loop_handles) {
        uv_close((uv_handle_t *)&net->prepare, on_loop_handle_closed);
        uv_close((uv_handle_t *)&net->check, on_loop_handle_closed);
        uv_close((uv_handle_t *)&net->idle, on_loop_handle_closed);
        uv_close((uv_handle_t *)&net->sweep, on_loop_handle_closed);
    }
    /* Every socket is closed, so this waits at most LINGER_MS. */
    if (net->zctx) zmq_ctx_term(net->zctx);
    net->zctx = NULL;
    net->closing = true;
    if (net->open_handles == 0) {
        sodium_free(net->curve_sk);
        free(net);
    }
}
