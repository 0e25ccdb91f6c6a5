/* replay.c: a main() for the fuzz targets without libFuzzer, so the gcc
 * builds (plain and ASan/UBSan) replay the checked-in corpus as an ordinary
 * test. Arguments are corpus directories or single files; each input goes
 * to LLVMFuzzerTestOneInput in a heap buffer of exactly its size, so ASan
 * sees any read past the end. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Read path whole; caller owns *buf. Returns 0 or -errno. */
static int slurp(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = -errno;
        fclose(f);
        return e;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b || fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

static int run_file(const char *path, size_t *count) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = slurp(path, &buf, &len);
    if (rc < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(-rc));
        return 1;
    }
    /* Named before it runs: a crash report then says which input. */
    printf("replay: %s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    (*count)++;
    return 0;
}

static int skip_dots(const struct dirent *e) { return e->d_name[0] != '.'; }

static int run_dir(const char *dir, size_t *count) {
    struct dirent **names;
    int n = scandir(dir, &names, skip_dots, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) bad |= run_file(path, count);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
        return 2;
    }
    size_t count = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            bad = 1;
        } else if (S_ISDIR(st.st_mode)) {
            bad |= run_dir(argv[i], &count);
        } else {
            bad |= run_file(argv[i], &count);
        }
    }
    /* An empty corpus is a wrong path, not a pass. */
    if (count == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %zu inputs, all passed\n", count);
    return bad;
}
