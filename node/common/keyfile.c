/* keyfile.c: key files and whole-file reads/writes (keyfile.h), shared by
 * staggerd, staggerctl and the tests; the text of a key file is decoded by
 * proto's pure stg_key_text_decode. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "stagger/keyfile.h"

static int fail(char *err, size_t cap, int rc, const char *fmt, const char *path) {
    if (err && cap) snprintf(err, cap, fmt, path, rc < 0 && rc > -1000 ? strerror(-rc) : "");
    return rc;
}

static int read_fd_all(int fd, uint8_t *buf, size_t max, size_t *len) {
    size_t n = 0;
    for (;;) {
        if (n == max) {
            /* One more byte tells "exactly max" from "too big". */
            uint8_t extra;
            ssize_t r = read(fd, &extra, 1);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) return -errno;
            if (r > 0) return -EFBIG;
            break;
        }
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

int stg_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
                  size_t errcap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errcap, -errno, "%s: cannot open: %s", path);
    uint8_t *b = malloc(max ? max : 1);
    if (!b) {
        close(fd);
        return fail(err, errcap, -ENOMEM, "%s: %s", path);
    }
    int rc = read_fd_all(fd, b, max, len);
    close(fd);
    if (rc == -EFBIG) {
        free(b);
        if (err && errcap) snprintf(err, errcap, "%s: larger than %zu bytes", path, max);
        return rc;
    }
    if (rc < 0) {
        free(b);
        return fail(err, errcap, rc, "%s: cannot read: %s", path);
    }
    *buf = b;
    return 0;
}

int stg_file_write_atomic(const char *path, const void *data, size_t len, int mode) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return -errno;
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

int stg_seckey_load(const char *path, stg_seckey_t **out, char *err, size_t errcap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ELOOP)
            return fail(err, errcap, -ELOOP,
                        "%s: is a symbolic link, which a secret key may not be; give the "
                        "real file's path", path);
        return fail(err, errcap, -errno, "%s: cannot open secret key: %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return fail(err, errcap, e, "%s: %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errcap, STG_EINVAL, "%s: not a regular file%s", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        if (err && errcap)
            snprintf(err, errcap,
                     "%s: secret key is readable by group or others (mode %03o); "
                     "fix with: chmod 600 %s",
                     path, (unsigned)(st.st_mode & 0777), path);
        return STG_EPERM;
    }
    uint8_t *raw = sodium_malloc(256);
    stg_seckey_t *k = sodium_malloc(sizeof *k);
    if (!raw || !k) {
        close(fd);
        if (raw) sodium_free(raw);
        if (k) sodium_free(k);
        return fail(err, errcap, -ENOMEM, "%s: %s", path);
    }
    size_t len = 0;
    int rc = read_fd_all(fd, raw, 255, &len);
    close(fd);
    uint8_t seed[32];
    if (rc == 0) rc = stg_key_text_decode(raw, len, seed);
    sodium_free(raw);
    if (rc == 0) rc = stg_seckey_from_seed(k, seed);
    sodium_memzero(seed, sizeof seed);
    if (rc < 0) {
        sodium_free(k);
        if (err && errcap)
            snprintf(err, errcap,
                     "%s: not a stagger secret key (expected 44 base64 characters and at "
                     "most one line ending, as written by 'staggerctl keygen')",
                     path);
        return rc;
    }
    *out = k;
    return 0;
}

void stg_seckey_destroy(stg_seckey_t **k) {
    if (k && *k) {
        sodium_free(*k);
        *k = NULL;
    }
}

static int write_new(const char *path, const char *text, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return -errno;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int rc = (w == (ssize_t)n && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0) ? 0 : -EIO;
    close(fd);
    if (rc < 0) unlink(path);
    return rc;
}

int stg_keygen_files(const char *prefix, stg_pubkey_t *pub, char *err, size_t errcap) {
    char kpath[4096], ppath[4096];
    if (snprintf(kpath, sizeof kpath, "%s.key", prefix) >= (int)sizeof kpath ||
        snprintf(ppath, sizeof ppath, "%s.pub", prefix) >= (int)sizeof ppath)
        return fail(err, errcap, -ENAMETOOLONG, "%s: %s", prefix);
    stg_seckey_t *k = sodium_malloc(sizeof *k);
    char *line = sodium_malloc(128);
    if (!k || !line) {
        if (k) sodium_free(k);
        if (line) sodium_free(line);
        return fail(err, errcap, -ENOMEM, "%s: %s", prefix);
    }
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    int rc = stg_seckey_from_seed(k, seed);
    sodium_memzero(seed, sizeof seed);
    if (rc == 0) {
        sodium_bin2base64(line, 128, k->seed, 32, sodium_base64_VARIANT_ORIGINAL);
        strcat(line, "\n");
        rc = write_new(kpath, line, 0600);
        if (rc < 0) {
            if (rc == -EEXIST)
                snprintf(err, errcap, "%s: already exists; refusing to overwrite a key", kpath);
            else
                fail(err, errcap, rc, "%s: cannot write: %s", kpath);
        }
    }
    if (rc == 0) {
        char b64[STG_KEY_B64_LEN + 2];
        stg_pubkey_to_b64(&k->pub, b64);
        strcat(b64, "\n");
        rc = write_new(ppath, b64, 0644);
        if (rc < 0) {
            unlink(kpath);
            if (rc == -EEXIST)
                snprintf(err, errcap, "%s: already exists; refusing to overwrite", ppath);
            else
                fail(err, errcap, rc, "%s: cannot write: %s", ppath);
        }
        if (rc == 0 && pub) *pub = k->pub;
    }
    sodium_free(line);
    sodium_free(k);
    return rc;
}
