/* zmq_stubs.c: link-time stand-ins for the two shared libraries Debian's
 * static libzmq.a would otherwise pull into every peer.
 *
 * GSSAPI: libzmq carries a GSSAPI security mechanism, so its archive
 * references eleven gss_* functions, and linking libgssapi_krb5 maps it and
 * five more Kerberos libraries (~0.6 MiB resident per process). stagger
 * never enables that mechanism: every socket is CURVE, and libzmq builds
 * the mechanism from the socket's own option, never from what the peer
 * asks for (a peer offering GSSAPI fails the ZMTP greeting). The code that
 * calls these is unreachable; should it ever run, each fails cleanly with
 * GSS_S_FAILURE and libzmq drops the connection.
 *
 * libbsd: libzmq wants strlcpy and arc4random from it. glibc 2.36
 * (Debian 12) has arc4random; strlcpy, BSD's semantics, is below.
 *
 * Built only with -Dstatic_deps=true (meson.build); a shared libzmq brings
 * its own dependencies. */
#include <stddef.h>
#include <string.h>

#include <gssapi/gssapi.h>

size_t strlcpy(char *dst, const char *src, size_t size);

size_t strlcpy(char *dst, const char *src, size_t size) {
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

/* The two name types libzmq's GSSAPI code takes the address of. */
gss_OID GSS_C_NT_USER_NAME = GSS_C_NO_OID;
gss_OID GSS_C_NT_HOSTBASED_SERVICE = GSS_C_NO_OID;

static OM_uint32 refuse(OM_uint32 *minor) {
    if (minor) *minor = 0;
    return GSS_S_FAILURE;
}

OM_uint32 gss_accept_sec_context(OM_uint32 *minor, gss_ctx_id_t *ctx, gss_cred_id_t cred,
                                 gss_buffer_t in, gss_channel_bindings_t cb, gss_name_t *src,
                                 gss_OID *mech, gss_buffer_t out, OM_uint32 *flags,
                                 OM_uint32 *time, gss_cred_id_t *deleg) {
    (void)ctx, (void)cred, (void)in, (void)cb, (void)src, (void)mech, (void)out, (void)flags,
        (void)time, (void)deleg;
    return refuse(minor);
}

OM_uint32 gss_acquire_cred(OM_uint32 *minor, gss_name_t name, OM_uint32 time, gss_OID_set mechs,
                           gss_cred_usage_t usage, gss_cred_id_t *cred, gss_OID_set *actual,
                           OM_uint32 *rtime) {
    (void)name, (void)time, (void)mechs, (void)usage, (void)cred, (void)actual, (void)rtime;
    return refuse(minor);
}

OM_uint32 gss_delete_sec_context(OM_uint32 *minor, gss_ctx_id_t *ctx, gss_buffer_t out) {
    (void)ctx, (void)out;
    return refuse(minor);
}

OM_uint32 gss_display_name(OM_uint32 *minor, gss_name_t name, gss_buffer_t out, gss_OID *type) {
    (void)name, (void)out, (void)type;
    return refuse(minor);
}

OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_t in, gss_OID type, gss_name_t *out) {
    (void)in, (void)type, (void)out;
    return refuse(minor);
}

OM_uint32 gss_init_sec_context(OM_uint32 *minor, gss_cred_id_t cred, gss_ctx_id_t *ctx,
                               gss_name_t target, gss_OID mech, OM_uint32 req, OM_uint32 time,
                               gss_channel_bindings_t cb, gss_buffer_t in, gss_OID *actual,
                               gss_buffer_t out, OM_uint32 *flags, OM_uint32 *rtime) {
    (void)cred, (void)ctx, (void)target, (void)mech, (void)req, (void)time, (void)cb, (void)in,
        (void)actual, (void)out, (void)flags, (void)rtime;
    return refuse(minor);
}

OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_t buf) {
    (void)buf;
    return refuse(minor);
}

OM_uint32 gss_release_cred(OM_uint32 *minor, gss_cred_id_t *cred) {
    (void)cred;
    return refuse(minor);
}

OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name) {
    (void)name;
    return refuse(minor);
}

OM_uint32 gss_unwrap(OM_uint32 *minor, gss_ctx_id_t ctx, gss_buffer_t in, gss_buffer_t out,
                     int *conf, gss_qop_t *qop) {
    (void)ctx, (void)in, (void)out, (void)conf, (void)qop;
    return refuse(minor);
}

OM_uint32 gss_wrap(OM_uint32 *minor, gss_ctx_id_t ctx, int conf_req, gss_qop_t qop, gss_buffer_t in,
                   int *conf, gss_buffer_t out) {
    (void)ctx, (void)conf_req, (void)qop, (void)in, (void)conf, (void)out;
    return refuse(minor);
}
