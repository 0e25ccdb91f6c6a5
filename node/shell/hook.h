/* hook.h: run an operator hook as a child process on the libuv loop, with
 * a timeout, its output (stdout and stderr together) captured. */
#ifndef STAGGER_HOOK_H
#define STAGGER_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define STG_HOOK_OUTPUT_MAX 4096

typedef struct {
    int exit_status;     /* the exit code when it exited */
    int term_signal;     /* the signal that ended it, or 0 */
    int timed_out;       /* 1 when we killed it at the deadline */
    int cancelled;       /* 1 when stg_hook_cancel ended it before it ran */
    char output[STG_HOOK_OUTPUT_MAX]; /* NUL-terminated; the last bytes kept */
    size_t output_len;
    int64_t elapsed_ms;
} stg_hook_result_t;

/* Called once, on the loop, when the hook and its pipe are done. result is
 * borrowed, valid until the callback returns. */
typedef void (*stg_hook_done_cb)(void *ctx, const stg_hook_result_t *result);

typedef struct stg_hook stg_hook_t;

/* Start path with argv {path, NULL} and the environment env (NULL-
 * terminated "K=V" strings, copied by libuv). The hook runs in its own
 * process group so a timeout kills everything it started. 0 or a libuv
 * error; on error done is never called.
 *
 * held: the child is started (its pid, which is its process group, is
 * known) but waits before it runs any of the hook's code, until the
 * caller calls stg_hook_release or stg_hook_cancel, at once, before the
 * loop runs again. Its timeout runs from the start. */
int stg_hook_run(uv_loop_t *loop, const char *path, char **env, int64_t timeout_ms, bool held,
                 stg_hook_done_cb done, void *ctx, stg_hook_t **out);

/* A held hook: let it run. 0, or -errno when the child could not be told
 * (it died meanwhile): then call stg_hook_cancel. */
int stg_hook_release(stg_hook_t *h);

/* A held hook: end it without running the hook (its group is killed too);
 * done is still called, with result->cancelled set. */
void stg_hook_cancel(stg_hook_t *h);

/* A held hook (install, rollback) keeps the gate's pipe as its fd 3 after
 * the release: send it one line ("away ok\n"). 0, or -errno. */
int stg_hook_answer(stg_hook_t *h, const char *line);

/* Call cb with each line of the hook's output (without its newline, cut to
 * 255 bytes) as it arrives, before the hook ends; set it right after
 * stg_hook_run, before the loop runs again. line is borrowed for the call. */
typedef void (*stg_hook_line_cb)(void *ctx, const char *line);
void stg_hook_on_line(stg_hook_t *h, stg_hook_line_cb cb, void *ctx);

/* The hook's process id, which is also its process group id. */
int stg_hook_pid(const stg_hook_t *h);

/* Kill a running hook now (SIGKILL to its group); done is still called. */
void stg_hook_kill(stg_hook_t *h);

#endif
