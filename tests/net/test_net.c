/* test_net.c: stg_net instances on one libuv loop over 127.0.0.1: admission
 * at the handshake, one-frame messages, replies to clients, rebuild after a
 * refusal, connections made by the first send and closed when idle, and the
 * start-up guard. Plain TAP; waits are bounded uv timers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "client.h"
#include "net.h"

static int tap_n, tap_failed;

static void ok(int cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!cond) tap_failed++;
}

static uv_loop_t loop;
static uv_timer_t deadline;
static bool timed_out;

static void on_deadline(uv_timer_t *t) {
    (void)t;
    timed_out = true;
}

/* Run the loop until cond holds or ms pass; never sleeps. */
#define WAIT_FOR(cond, ms)                                                     \
    do {                                                                       \
        timed_out = false;                                                     \
        uv_timer_start(&deadline, on_deadline, (ms), 0);                       \
        while (!(cond) && !timed_out) uv_run(&loop, UV_RUN_ONCE);              \
        uv_timer_stop(&deadline);                                              \
    } while (0)

/* ---- a test node: a key, an admit list and what it received ------------ */

typedef struct {
    uint8_t x25519[32];
    char uid[STG_NET_USER_ID_MAX];
    bool on;
} allow_t;

typedef struct {
    const char *name;
    stg_seckey_t key;
    char uid[STG_NET_USER_ID_MAX];
    stg_net_t *net;
    allow_t allow[8];
    int nallow;
    bool admit_all;
    bool echo;
    int nmsg;
    int nup, ndown; /* on_peer news */
    char last_uid[STG_NET_USER_ID_MAX];
    uint8_t last_body[512];
    size_t last_len;
    stg_net_route_t last_route;
} node_t;

static void make_key(stg_seckey_t *k, char uid[STG_NET_USER_ID_MAX]) {
    uint8_t seed[STG_SEED_BYTES];
    randombytes_buf(seed, sizeof seed);
    stg_seckey_from_seed(k, seed);
    if (uid) stg_pubkey_to_b64(&k->pub, uid);
}

static allow_t *allow(node_t *n, const stg_seckey_t *k) {
    allow_t *a = &n->allow[n->nallow++];
    stg_curve_from_pubkey(&k->pub, a->x25519);
    stg_pubkey_to_b64(&k->pub, a->uid);
    a->on = true;
    return a;
}

static bool admit(void *ctx, const uint8_t key[32], char user_id[STG_NET_USER_ID_MAX]) {
    node_t *n = ctx;
    if (n->admit_all) {
        strcpy(user_id, "anyone");
        return true;
    }
    for (int i = 0; i < n->nallow; i++)
        if (n->allow[i].on && memcmp(n->allow[i].x25519, key, 32) == 0) {
            strcpy(user_id, n->allow[i].uid);
            return true;
        }
    return false;
}

static void on_msg(void *ctx, const char *uid, const stg_net_route_t *route,
                   const uint8_t *body, size_t len) {
    node_t *n = ctx;
    n->nmsg++;
    snprintf(n->last_uid, sizeof n->last_uid, "%s", uid);
    n->last_len = len < sizeof n->last_body ? len : sizeof n->last_body;
    memcpy(n->last_body, body, n->last_len);
    if (!route) { /* an answer on our DEALER to a peer: nothing to reply to */
        memset(&n->last_route, 0, sizeof n->last_route);
        return;
    }
    n->last_route = *route;
    if (n->echo) {
        uint8_t out[600];
        memcpy(out, "echo:", 5);
        memcpy(out + 5, body, n->last_len);
        stg_net_reply(n->net, route, out, 5 + n->last_len);
    }
}

static void on_peer(void *ctx, unsigned peer_id, stg_net_peer_event_t ev, int detail) {
    node_t *n = ctx;
    (void)peer_id, (void)detail;
    if (ev == STG_NET_PEER_UP) n->nup++;
    if (ev == STG_NET_PEER_DOWN) n->ndown++;
}

static const stg_net_callbacks_t cbs = {admit, on_msg, on_peer};

static int node_start(node_t *n, const char *name, char *err, size_t errcap) {
    n->name = name;
    make_key(&n->key, n->uid);
    n->net = stg_net_new(&loop, &n->key, "tcp://127.0.0.1:*", &cbs, n, err, errcap);
    return n->net ? 0 : -1;
}

static stg_net_stats_t st(const node_t *n) {
    stg_net_stats_t s;
    stg_net_stats(n->net, &s);
    return s;
}

static stg_net_peer_info_t pinfo(const node_t *n, unsigned id) {
    stg_net_peer_info_t i;
    memset(&i, 0, sizeof i);
    stg_net_peer_info(n->net, id, &i);
    return i;
}

static bool got(const node_t *n, const char *uid, const char *body) {
    return n->nmsg > 0 && strcmp(n->last_uid, uid) == 0 &&
           n->last_len == strlen(body) && memcmp(n->last_body, body, n->last_len) == 0;
}

/* ---- staggerctl's blocking client, on its own thread ------------------- */

typedef struct {
    uv_thread_t thread;
    uv_async_t async;
    const char *endpoint;
    stg_pubkey_t server;
    stg_seckey_t me;
    const char *req;
    uint8_t reply[256];
    size_t reply_len;
    int rc;
    bool done;
} call_t;

static void call_run(void *arg) {
    call_t *c = arg;
    c->rc = stg_client_request(c->endpoint, &c->server, &c->me, c->req, strlen(c->req),
                               c->reply, sizeof c->reply, &c->reply_len, 5000);
    uv_async_send(&c->async);
}

static void call_done(uv_async_t *a) { ((call_t *)a->data)->done = true; }
static void call_closed(uv_handle_t *h) { ((call_t *)h->data)->done = false; }

/* The server lives on this loop, so the blocking call runs on a thread. */
static int call(const node_t *server, const stg_seckey_t *me, const char *req,
                call_t *c) {
    memset(c, 0, sizeof *c);
    c->endpoint = stg_net_endpoint(server->net);
    c->server = server->key.pub;
    c->me = *me;
    c->req = req;
    uv_async_init(&loop, &c->async, call_done);
    c->async.data = c;
    uv_thread_create(&c->thread, call_run, c);
    WAIT_FOR(c->done, 8000);
    uv_thread_join(&c->thread);
    /* c lives on the caller's stack: wait until libuv lets go of it. */
    c->done = true;
    uv_close((uv_handle_t *)&c->async, call_closed);
    WAIT_FOR(!c->done, 1000);
    return c->rc;
}

/* ---- the tests ----------------------------------------------------------- */

static node_t A, B, C, R, D, E, F;

static void test_admitted_peer_and_client(void) {
    stg_seckey_t ctl;
    char ctl_uid[STG_NET_USER_ID_MAX];
    make_key(&ctl, ctl_uid);
    allow(&A, &B.key);
    allow(&A, &ctl);
    A.echo = true;

    ok(stg_net_peer_set(B.net, 0, stg_net_endpoint(A.net), &A.key.pub) == 0,
       "B sets A as peer 0");
    ok(stg_net_send(B.net, 0, "hello from B", 12) == 0, "B queues a message to A");
    WAIT_FOR(A.nmsg >= 1, 5000);
    ok(got(&A, B.uid, "hello from B"), "A sees B's User-Id (%s) and the exact body",
       A.last_uid);
    ok(strlen(A.last_uid) == STG_KEY_B64_LEN, "the User-Id is the 44-char base64 key");
    WAIT_FOR(pinfo(&B, 0).connected, 2000);
    ok(pinfo(&B, 0).connected && pinfo(&B, 0).handshake_failures == 0,
       "B's socket to A is up, no handshake failure");
    /* A's echo went back on the connection B's message came in on: B's
     * DEALER delivers it, as from A (the server key CURVE pinned). */
    WAIT_FOR(B.nmsg >= 1, 2000);
    ok(got(&B, A.uid, "echo:hello from B") && B.last_route.len == 0,
       "an answer on the same connection reaches B as from A, without a route");
    ok(st(&B).rx_unexpected == 0 && st(&B).rx_msgs == 1, "B counted it as a message in");

    call_t c;
    int rc = call(&A, &ctl, "status?", &c);
    ok(rc == 0 && c.reply_len == 12 && memcmp(c.reply, "echo:status?", 12) == 0,
       "a client's request is answered through stg_net_reply (rc %d)", rc);
    ok(got(&A, ctl_uid, "status?"), "A sees the client's User-Id");
    ok(st(&A).zap_allowed == 2 && st(&A).rx_msgs == 2 && st(&A).tx_msgs == 2,
       "A counted 2 admissions, 2 messages in, 2 replies out");

    stg_net_route_t nobody = {.len = 5, .id = {0, 1, 2, 3, 4}};
    uint64_t dropped = st(&A).tx_dropped;
    rc = stg_net_reply(A.net, &nobody, "late", 4);
    ok(rc == -EHOSTUNREACH && st(&A).tx_dropped == dropped + 1,
       "a reply to an unknown route is refused and counted (%d)", rc);
    ok(stg_net_send(A.net, 7, "x", 1) == STG_ENOTFOUND, "send to an unset peer");
}

static void test_random_key_refused(void) {
    int before = A.nmsg;
    uint64_t denied = st(&A).zap_denied;
    ok(stg_net_peer_set(R.net, 0, stg_net_endpoint(A.net), &A.key.pub) == 0,
       "R (unknown key) sets A as peer");
    stg_net_send(R.net, 0, "let me in", 9);
    WAIT_FOR(pinfo(&R, 0).handshake_failures >= 1 && st(&A).zap_denied > denied, 5000);
    ok(pinfo(&R, 0).handshake_failures >= 1 && st(&R).handshake_failures >= 1,
       "R sees its handshake refused");
    ok(st(&A).zap_denied > denied, "A counted the denial in zap_denied");
    ok(A.nmsg == before, "on_msg was never called for R");
    ok(!pinfo(&R, 0).connected, "R is not connected");
    stg_net_peer_drop(R.net, 0);
    ok(stg_net_peer_info(R.net, 0, &(stg_net_peer_info_t){0}) == STG_ENOTFOUND,
       "a dropped peer is gone");

    stg_seckey_t stranger;
    make_key(&stranger, NULL);
    call_t c;
    denied = st(&A).zap_denied;
    int rc = call(&A, &stranger, "status?", &c);
    ok(rc == -EACCES, "a client with a random key gets -EACCES (%d)", rc);
    ok(st(&A).zap_denied == denied + 1 && A.nmsg == before,
       "A denied it once and delivered nothing");
}

static void test_bad_frames(void) {
    stg_seckey_t k;
    char uid[STG_NET_USER_ID_MAX];
    make_key(&k, uid);
    allow(&A, &k);
    uint8_t spk[32], pk[32], sk[32];
    stg_curve_from_pubkey(&A.key.pub, spk);
    stg_curve_from_seckey(&k, pk, sk);
    void *zctx = zmq_ctx_new();
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    stg__net_curve_client(d, spk, pk, sk);
    zmq_connect(d, stg_net_endpoint(A.net));
    uint64_t bad = st(&A).frames_bad;
    int before = A.nmsg;
    zmq_send(d, "two", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d, "frames", 6, ZMQ_DONTWAIT);
    zmq_send(d, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d, "a", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(d, "b", 1, ZMQ_DONTWAIT);
    zmq_send(d, "good after bad", 14, ZMQ_DONTWAIT);
    WAIT_FOR(A.nmsg > before, 5000);
    ok(st(&A).frames_bad == bad + 2, "two multi-frame messages counted in frames_bad");
    ok(A.nmsg == before + 1 && got(&A, uid, "good after bad"),
       "they were dropped and the next good message arrived");
    zmq_close(d);
    zmq_ctx_term(zctx);

    /* ZAP requests come only from libzmq itself, but a malformed one must
     * still get exactly one 400 with its request id echoed. */
    void *req = zmq_socket(stg_net_zmq_context(A.net), ZMQ_REQ);
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(req, "inproc://zeromq.zap.01");
    const char *fr[7] = {"1.0", "42", STG_NET_ZAP_DOMAIN, "127.0.0.1", "", "CURVE",
                         "short key"};
    for (int i = 0; i < 7; i++)
        zmq_send(req, fr[i], strlen(fr[i]), i < 6 ? ZMQ_SNDMORE : 0);
    WAIT_FOR(st(&A).zap_malformed >= 1, 2000);
    char f[4][16];
    int len[4] = {0};
    zmq_pollitem_t it = {req, 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, 2000);
    for (int i = 0; i < 4; i++) {
        len[i] = zmq_recv(req, f[i], sizeof f[i] - 1, ZMQ_DONTWAIT);
        /* zmq_recv returns the full size even when it truncated. */
        int end = len[i] < 0 ? 0 : len[i] > 15 ? 15 : len[i];
        f[i][end] = '\0';
    }
    int more = 1;
    while (more) {
        char junk[64];
        size_t n = sizeof more;
        zmq_getsockopt(req, ZMQ_RCVMORE, &more, &n);
        if (more) zmq_recv(req, junk, sizeof junk, ZMQ_DONTWAIT);
    }
    ok(st(&A).zap_malformed == 1, "the malformed ZAP request was counted");
    ok(strcmp(f[0], "1.0") == 0 && strcmp(f[1], "42") == 0 && strcmp(f[2], "400") == 0,
       "and answered once: 1.0 / 42 / 400 (%s/%s/%s)", f[0], f[1], f[2]);
    zmq_close(req);

    int rc = stg_net_send(B.net, 0, "still working", 13);
    WAIT_FOR(got(&A, B.uid, "still working"), 3000);
    ok(rc == 0 && got(&A, B.uid, "still working"), "A still serves B afterwards");
}

static void test_rebuild_after_refusal(void) {
    allow_t *c_on_a = allow(&A, &C.key);
    c_on_a->on = false; /* C's roster entry has not reached A yet */
    int before = A.nmsg;
    uint64_t denied = st(&A).zap_denied;
    ok(stg_net_peer_set(C.net, 0, stg_net_endpoint(A.net), &A.key.pub) == 0,
       "C sets A as peer");
    stg_net_send(C.net, 0, "first", 5);
    WAIT_FOR(pinfo(&C, 0).handshake_failures >= 1, 5000);
    ok(pinfo(&C, 0).handshake_failures >= 1 && st(&A).zap_denied > denied,
       "C is refused first");
    c_on_a->on = true;
    WAIT_FOR(pinfo(&C, 0).connected, 5000);
    ok(pinfo(&C, 0).connected && pinfo(&C, 0).rebuilds >= 1,
       "the backoff rebuilt C's socket and it got in (%llu rebuilds)",
       (unsigned long long)pinfo(&C, 0).rebuilds);
    ok(stg_net_send(C.net, 0, "second", 6) == 0, "C sends again");
    WAIT_FOR(A.nmsg > before, 3000);
    ok(A.nmsg == before + 1 && got(&A, C.uid, "second"),
       "C's next message arrives with C's User-Id; the refused one never did");
}

/* D talks to E (then F); fresh nodes, so E's counters see only D. */
static void test_connect_on_first_send(void) {
    allow(&E, &D.key);
    ok(stg_net_peer_set(D.net, 0, stg_net_endpoint(E.net), &E.key.pub) == 0,
       "D sets E as peer 0");
    /* A connect would be admitted within milliseconds: give it 500. */
    WAIT_FOR(st(&E).zap_allowed + st(&E).zap_denied > 0, 500);
    ok(st(&E).zap_allowed == 0 && st(&E).zap_denied == 0,
       "without a send, E sees no handshake from D");
    ok(!pinfo(&D, 0).open && !pinfo(&D, 0).connected && st(&D).opened == 0,
       "D's peer is set but has no socket");

    ok(stg_net_send(D.net, 0, "first", 5) == 0, "D sends to E");
    ok(pinfo(&D, 0).open && st(&D).opened == 1, "the first send opened the socket");
    WAIT_FOR(got(&E, D.uid, "first") && pinfo(&D, 0).connected, 5000);
    ok(got(&E, D.uid, "first"), "the message queued before the connection arrived");
    ok(pinfo(&D, 0).connected && D.nup == 1 && st(&E).zap_allowed == 1,
       "one handshake, one UP");
}

static void test_idle_close(void) {
    /* 500 ms: a loaded CI machine may take a while to deliver "last". */
    stg_net_set_idle_close(D.net, 500);
    int before = E.nmsg;
    ok(stg_net_send(D.net, 0, "last", 4) == 0, "D sends once more");
    WAIT_FOR(E.nmsg > before, 3000);
    ok(got(&E, D.uid, "last") && st(&D).idle_closed == 0, "delivered, still open");
    WAIT_FOR(st(&D).idle_closed >= 1, 3000);
    ok(st(&D).idle_closed == 1 && !pinfo(&D, 0).open && !pinfo(&D, 0).connected,
       "500 ms after its last send the socket is closed");
    ok(D.ndown == 0, "an idle close is not reported as DOWN");

    ok(stg_net_send(D.net, 0, "again", 5) == 0, "a later send");
    ok(pinfo(&D, 0).open && st(&D).opened == 2, "re-opens the socket");
    WAIT_FOR(got(&E, D.uid, "again") && pinfo(&D, 0).connected, 5000);
    ok(got(&E, D.uid, "again") && D.nup == 2 && st(&E).zap_allowed == 2,
       "and delivers over a new connection");
}

static uv_timer_t pace;
static int paced;

static void on_pace(uv_timer_t *t) {
    (void)t;
    if (stg_net_send(D.net, 0, "tick", 4) == 0) paced++;
}

static void test_busy_socket_stays(void) {
    int before = E.nmsg;
    uint64_t opened = st(&D).opened, closed = st(&D).idle_closed;
    /* Sends 50 ms apart against a 600 ms idle close: only a loop stall of
     * over half a second could close it, yet five periods go by. */
    stg_net_set_idle_close(D.net, 600);
    uv_timer_init(&loop, &pace);
    uv_timer_start(&pace, on_pace, 0, 50);
    WAIT_FOR(paced >= 60, 10000);
    uv_timer_stop(&pace);
    uv_close((uv_handle_t *)&pace, NULL);
    ok(paced == 60, "D sent every 50 ms for three seconds");
    ok(st(&D).opened == opened && st(&D).idle_closed == closed && pinfo(&D, 0).open,
       "a socket in use is never closed (opened %llu, idle_closed %llu)",
       (unsigned long long)st(&D).opened, (unsigned long long)st(&D).idle_closed);
    WAIT_FOR(E.nmsg >= before + 60, 3000);
    ok(E.nmsg == before + 60, "every tick arrived (%d)", E.nmsg - before);
}

static void test_peer_moves(void) {
    allow(&F, &D.key);
    uint64_t opened = st(&D).opened;
    stg_net_send(D.net, 0, "keep", 4);
    ok(stg_net_peer_set(D.net, 0, stg_net_endpoint(E.net), &E.key.pub) == 0 &&
           pinfo(&D, 0).open,
       "the same endpoint and key again keep the socket");
    ok(stg_net_peer_set(D.net, 0, stg_net_endpoint(F.net), &F.key.pub) == 0 &&
           !pinfo(&D, 0).open && st(&D).opened == opened,
       "a new endpoint and key close it");
    ok(stg_net_send(D.net, 0, "moved", 5) == 0 && st(&D).opened == opened + 1,
       "the next send opens a socket");
    WAIT_FOR(got(&F, D.uid, "moved"), 5000);
    ok(got(&F, D.uid, "moved"), "to the new endpoint");
    ok(stg_net_peer_set(D.net, 0, "tcp://127.0.0.1:1", &(stg_pubkey_t){{0}}) ==
           STG_EINVAL,
       "a key that is not a curve point is refused at peer_set");
}

static void test_startup_guard(void) {
    /* The ZAP handler owns the well-known endpoint in A's context. */
    void *rep = zmq_socket(stg_net_zmq_context(A.net), ZMQ_REP);
    int rc = zmq_bind(rep, "inproc://zeromq.zap.01");
    ok(rc != 0 && errno == EADDRINUSE, "the ZAP handler is bound in A's context");
    zmq_close(rep);

    /* An admit that lets everyone in must stop the daemon at start-up. */
    node_t open;
    memset(&open, 0, sizeof open);
    open.admit_all = true;
    char err[512] = "";
    rc = node_start(&open, "open", err, sizeof err);
    ok(rc < 0 && strstr(err, "random key was admitted"),
       "stg_net_new refuses an admit callback that accepts a random key: %s", err);

    /* The probe leaves no trace in the counters. */
    node_t fresh;
    memset(&fresh, 0, sizeof fresh);
    rc = node_start(&fresh, "fresh", err, sizeof err);
    ok(rc == 0 && st(&fresh).zap_denied == 0 && st(&fresh).zap_allowed == 0,
       "a sound node starts, its counters at zero");
    if (fresh.net) stg_net_close(&fresh.net);

    rc = node_start(&fresh, "clash", err, sizeof err);
    if (rc == 0) {
        node_t clash;
        memset(&clash, 0, sizeof clash);
        make_key(&clash.key, NULL);
        clash.net = stg_net_new(&loop, &clash.key, stg_net_endpoint(fresh.net), &cbs,
                                &clash, err, sizeof err);
        ok(!clash.net && strstr(err, "cannot bind"), "a taken port is reported: %s", err);
        stg_net_close(&fresh.net);
    }
}

int main(void) {
    if (sodium_init() < 0) return 1;
    uv_loop_init(&loop);
    uv_timer_init(&loop, &deadline);
    char err[512] = "";
    node_t *all[] = {&A, &B, &C, &R, &D, &E, &F};
    const char *names[] = {"A", "B", "C", "R", "D", "E", "F"};
    enum { NODES = sizeof all / sizeof all[0] };
    for (int i = 0; i < NODES; i++)
        if (node_start(all[i], names[i], err, sizeof err) < 0) {
            printf("Bail out! %s: %s\n", names[i], err);
            return 1;
        }

    test_admitted_peer_and_client();
    test_random_key_refused();
    test_bad_frames();
    test_rebuild_after_refusal();
    test_connect_on_first_send();
    test_idle_close();
    test_busy_socket_stays();
    test_peer_moves();
    test_startup_guard();

    for (int i = 0; i < NODES; i++) stg_net_close(&all[i]->net);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ok(uv_loop_close(&loop) == 0, "after stg_net_close the loop has nothing left");
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
