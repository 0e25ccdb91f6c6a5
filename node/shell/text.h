/* text.h: a growing text buffer for the HTTP endpoint's answers (metrics.c,
 * page.c), and the JSON accessors both read the status document with. */
#ifndef STAGGER_TEXT_H
#define STAGGER_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    bool oom; /* an allocation failed: the text is incomplete, drop it */
} text_t;

/* An empty text of cap bytes to start; false when out of memory. */
bool text_init(text_t *t, size_t cap);
/* Append printf-style; on failure marks t->oom and appends nothing more. */
void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The finished text (*len its length), or NULL (freed) after a failure. */
char *text_take(text_t *t, size_t *len);

/* A string member of o, "" when absent; an integer member, 0 when absent. */
const char *jstr(json_t *o, const char *k);
long long jint(json_t *o, const char *k);

#endif
