/* keyfile.h: key and document files on disk (node/common/keyfile.c; the
 * pure decoding of their text is proto.h's).
 *
 * NAME.key holds the 32-byte Ed25519 seed as one line of base64, mode 0600;
 * NAME.pub holds the public key as one line of base64. A secret key that
 * group or others may read is refused. */
#ifndef STAGGER_KEYFILE_H
#define STAGGER_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "stagger/proto.h"

/* Make a new identity: writes PREFIX.key (0600, never overwriting) and
 * PREFIX.pub. err gets a message naming the file on failure. */
int stg_keygen_files(const char *prefix, stg_pubkey_t *pub, char *err, size_t errcap);

/* Load a secret key into sodium_malloc'd memory. Caller owns *out and frees
 * it with stg_seckey_destroy. */
int stg_seckey_load(const char *path, stg_seckey_t **out, char *err, size_t errcap);
void stg_seckey_destroy(stg_seckey_t **k);

/* Read a whole file of at most max bytes. Caller owns *buf (free()). */
int stg_file_read(const char *path, size_t max, uint8_t **buf, size_t *len,
                  char *err, size_t errcap);

/* Write atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory. Returns 0 or -errno. */
int stg_file_write_atomic(const char *path, const void *data, size_t len, int mode);

#endif
