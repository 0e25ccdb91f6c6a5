/* text.c: the growing text buffer (text.h). */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool text_init(text_t *t, size_t cap) {
    *t = (text_t){.buf = malloc(cap), .cap = cap};
    t->oom = !t->buf;
    return !t->oom;
}

void put(text_t *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->oom = true;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
}

char *text_take(text_t *t, size_t *len) {
    if (t->oom) {
        free(t->buf);
        t->buf = NULL;
        return NULL;
    }
    *len = t->len;
    return t->buf;
}

const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

long long jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }
