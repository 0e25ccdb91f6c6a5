/* mhd_stubs.c: link-time stand-ins for GnuTLS, which Debian's static
 * libmicrohttpd.a references for its HTTPS support.
 *
 * Linking libgnutls maps it and nine more libraries (p11-kit, nettle,
 * hogweed, gmp, tasn1, idn2, unistring, ffi) into every peer: about
 * 2.5 MiB more resident memory, a third of an idle peer's (measured by
 * tests/bench at N = 8). The metrics endpoint (metrics.c) is plain HTTP on
 * loopback by default: it never passes MHD_USE_TLS, so libmicrohttpd never
 * reaches these, except gnutls_global_init and _deinit, which its library
 * constructor and destructor call unconditionally; those succeed and do
 * nothing. Every other stub aborts: reaching one would mean TLS was turned
 * on, which this build does not support.
 *
 * Built only with -Dstatic_deps=true (meson.build); a shared libmicrohttpd
 * brings its own GnuTLS. No GnuTLS header is needed: only the symbols'
 * names matter to the linker, and nothing here is called with arguments
 * whose types it reads. */
#include <stdlib.h>

int gnutls_global_init(void);
void gnutls_global_deinit(void);
int gnutls_global_init(void) { return 0; }
void gnutls_global_deinit(void) {}

/* A variable in GnuTLS (its allocator); libmicrohttpd reads it only for
 * TLS credentials. */
void *(*gnutls_malloc)(size_t) = malloc;

#define TLS_ONLY(name)                                                                         \
    void name(void);                                                                           \
    void name(void) { abort(); }
TLS_ONLY(gnutls_alpn_set_protocols)
TLS_ONLY(gnutls_bye)
TLS_ONLY(gnutls_certificate_allocate_credentials)
TLS_ONLY(gnutls_certificate_free_credentials)
TLS_ONLY(gnutls_certificate_server_set_request)
TLS_ONLY(gnutls_certificate_set_dh_params)
TLS_ONLY(gnutls_certificate_set_retrieve_function2)
TLS_ONLY(gnutls_certificate_set_retrieve_function3)
TLS_ONLY(gnutls_certificate_set_x509_key_mem)
TLS_ONLY(gnutls_certificate_set_x509_key_mem2)
TLS_ONLY(gnutls_certificate_set_x509_trust_mem)
TLS_ONLY(gnutls_cipher_get)
TLS_ONLY(gnutls_credentials_set)
TLS_ONLY(gnutls_deinit)
TLS_ONLY(gnutls_dh_params_deinit)
TLS_ONLY(gnutls_dh_params_import_pkcs3)
TLS_ONLY(gnutls_dh_params_init)
TLS_ONLY(gnutls_handshake)
TLS_ONLY(gnutls_init)
TLS_ONLY(gnutls_priority_deinit)
TLS_ONLY(gnutls_priority_init)
TLS_ONLY(gnutls_priority_set)
TLS_ONLY(gnutls_protocol_get_version)
TLS_ONLY(gnutls_psk_allocate_server_credentials)
TLS_ONLY(gnutls_psk_free_server_credentials)
TLS_ONLY(gnutls_psk_set_server_credentials_function)
TLS_ONLY(gnutls_record_check_pending)
TLS_ONLY(gnutls_record_get_direction)
TLS_ONLY(gnutls_record_recv)
TLS_ONLY(gnutls_record_send)
TLS_ONLY(gnutls_session_get_ptr)
TLS_ONLY(gnutls_session_set_ptr)
TLS_ONLY(gnutls_strerror)
TLS_ONLY(gnutls_transport_set_int2)
