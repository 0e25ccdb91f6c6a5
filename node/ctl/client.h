/* client.h: one blocking request/reply exchange with a staggerd inbox, for
 * staggerctl. CURVE with keys derived from the caller's Ed25519 identity;
 * the daemon must admit that key (operator, observer or member). */
#ifndef STAGGER_CLIENT_H
#define STAGGER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "stagger/proto.h"

/* Send req (one frame) to endpoint, whose Ed25519 key is server, and wait
 * at most timeout_ms for one reply frame, copied into reply[0..cap) with its
 * size in *reply_len. All arguments are borrowed for the call.
 * Returns 0; -ETIMEDOUT; -EACCES when the server refused our key at the
 * handshake; -EPROTO for another handshake failure or a reply that is not
 * one frame; -EMSGSIZE when the reply is larger than cap; -errno. */
int stg_client_request(const char *endpoint, const stg_pubkey_t *server,
                       const stg_seckey_t *me, const void *req, size_t len,
                       uint8_t *reply, size_t cap, size_t *reply_len,
                       int timeout_ms);

/* The same for an idempotent request (status-req): while no reply has come,
 * send req again every resend_ms (0: never) on the same connection, until
 * timeout_ms. Any copy's reply is the answer. */
int stg_client_query(const char *endpoint, const stg_pubkey_t *server,
                     const stg_seckey_t *me, const void *req, size_t len,
                     uint8_t *reply, size_t cap, size_t *reply_len,
                     int timeout_ms, int resend_ms);

#endif
