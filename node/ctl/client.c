/* client.c: staggerctl's blocking request/reply to a staggerd inbox (see
 * client.h); one private libzmq context per call, nothing left behind. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "client.h"
#include "net.h"

#define MON_ENDPOINT "inproc://stg-client-mon"

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int zerr(void) { return errno ? -errno : -EIO; }

/* Wait for the reply frame, or for the monitor to report that the
 * handshake failed (a refused client is never told otherwise). With
 * resend_ms > 0, send req again after each resend_ms of silence: on the
 * same socket, so an answer to any copy is taken, and after a reconnect
 * (the peer restarted and lost the first copy) the copy goes to the new
 * process. */
static int await_reply(void *d, void *mon, const void *req, size_t len, int resend_ms,
                       uint8_t *reply, size_t cap, size_t *reply_len, int64_t deadline) {
    int64_t resend_at = resend_ms > 0 ? now_ms() + resend_ms : INT64_MAX;
    for (;;) {
        int64_t now = now_ms(), left = deadline - now;
        if (left <= 0) return -ETIMEDOUT;
        if (now >= resend_at) {
            (void)zmq_send(d, req, len, ZMQ_DONTWAIT); /* a full pipe: the first copy waits */
            resend_at = now + resend_ms;
        }
        if (resend_at - now < left) left = resend_at - now;
        zmq_pollitem_t it[2] = {{d, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(it, 2, (long)left) < 0) {
            if (errno == EINTR) continue;
            return zerr();
        }
        uint16_t ev;
        uint32_t val;
        if (it[1].revents && stg__net_read_event(mon, &ev, &val) == 1)
            return ev & ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? -EACCES : -EPROTO;
        if (!it[0].revents) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        int rc = 0;
        if (zmq_msg_more(&m)) rc = -EPROTO;
        else if (zmq_msg_size(&m) > cap) rc = -EMSGSIZE;
        else {
            memcpy(reply, zmq_msg_data(&m), zmq_msg_size(&m));
            *reply_len = zmq_msg_size(&m);
        }
        zmq_msg_close(&m);
        return rc;
    }
}

int stg_client_request(const char *endpoint, const stg_pubkey_t *server,
                       const stg_seckey_t *me, const void *req, size_t len,
                       uint8_t *reply, size_t cap, size_t *reply_len,
                       int timeout_ms) {
    return stg_client_query(endpoint, server, me, req, len, reply, cap, reply_len, timeout_ms, 0);
}

int stg_client_query(const char *endpoint, const stg_pubkey_t *server,
                     const stg_seckey_t *me, const void *req, size_t len,
                     uint8_t *reply, size_t cap, size_t *reply_len,
                     int timeout_ms, int resend_ms) {
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    uint8_t server_pk[32], pk[32], sk[32];
    if (stg_curve_from_pubkey(server, server_pk) < 0 ||
        stg_curve_from_seckey(me, pk, sk) < 0)
        return STG_EINVAL;
    if (len > STG_NET_FRAME_MAX) return -EMSGSIZE;

    int rc = 0;
    void *ctx = zmq_ctx_new();
    if (!ctx) return -ENOMEM;
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    int zero = 0;
    int64_t maxmsg = STG_NET_FRAME_MAX;
    if (!d || !mon || zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(d, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        (rc = stg__net_curve_client(d, server_pk, pk, sk)) < 0 ||
        zmq_socket_monitor(d, MON_ENDPOINT, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                                ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        zmq_connect(mon, MON_ENDPOINT) != 0 || zmq_connect(d, endpoint) != 0) {
        if (rc == 0) rc = zerr();
        goto out;
    }
    /* Not ZMQ_IMMEDIATE: the frame waits in the pipe for the handshake. */
    if (zmq_send(d, req, len, ZMQ_DONTWAIT) < 0) {
        rc = zerr();
        goto out;
    }
    rc = await_reply(d, mon, req, len, resend_ms, reply, cap, reply_len, deadline);
out:
    sodium_memzero(sk, sizeof sk);
    if (d) zmq_socket_monitor(d, NULL, 0);
    if (mon) zmq_close(mon);
    if (d) zmq_close(d);
    zmq_ctx_term(ctx);
    return rc;
}
