/* main.c: staggerctl's entry point: picks the sub-command from the first one
 * or two words and prints the overview and per-command help. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "version.h"

static const ctl_cmd_t *const commands[] = {
    &ctl_keygen_cmd,       &ctl_roster_sign_cmd,    &ctl_roster_verify_cmd,
    &ctl_release_sign_cmd, &ctl_release_verify_cmd, &ctl_sign_add_cmd,
    &ctl_status_cmd,       &ctl_watch_cmd,          &ctl_roster_publish_cmd, &ctl_release_publish_cmd,
    &ctl_emergency_update_cmd, &ctl_emergency_rollback_cmd, &ctl_emergency_halt_cmd,
    &ctl_emergency_resume_cmd, &ctl_emergency_abandon_cmd, &ctl_emergency_clear_grants_cmd, &ctl_emergency_promote_cmd, &ctl_emergency_send_cmd,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void overview(FILE *out) {
    fprintf(out, "usage: staggerctl COMMAND [OPTIONS] [ARGS]\n"
                 "       staggerctl help COMMAND\n\n"
                 "Keys, operator-signed documents, status and emergency commands for a\n"
                 "stagger fleet.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-23s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-23s %s\n\n", "help COMMAND", "show the help of one command");
    fprintf(out, "Every command takes --help; 'staggerctl --version' prints the version.\n\n");
    if (out == stdout) {
        ctl_print_exit_codes();
        printf("status has its own: 'staggerctl status --help'.\n");
        printf("\nexample:\n"
               "  staggerctl keygen ops\n"
               "  staggerctl roster sign --key ops.key roster.json\n"
               "  staggerctl roster verify roster.signed\n");
    }
}

/* The command named by argv[0] (and argv[1] for two-word names), or NULL;
 * *words gets how many words the name took. A family word alone ("roster")
 * sets *family. */
static const ctl_cmd_t *lookup(int argc, char **argv, int *words, bool *family) {
    *family = false;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *name = commands[i]->name, *sp = strchr(name, ' ');
        if (!sp) {
            if (strcmp(argv[0], name) == 0) {
                *words = 1;
                return commands[i];
            }
            continue;
        }
        size_t flen = (size_t)(sp - name);
        if (strlen(argv[0]) != flen || strncmp(argv[0], name, flen) != 0) continue;
        *family = true;
        if (argc > 1 && strcmp(argv[1], sp + 1) == 0) {
            *words = 2;
            return commands[i];
        }
    }
    return NULL;
}

static void family_help(FILE *out, const char *family) {
    fprintf(out, "usage:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strncmp(commands[i]->name, family, strlen(family)) == 0 &&
            commands[i]->name[strlen(family)] == ' ')
            fprintf(out, "  staggerctl %s\n", commands[i]->usage);
    fprintf(out, "See 'staggerctl %s COMMAND --help'.\n", family);
}

static int help(int argc, char **argv) {
    if (argc == 0) {
        overview(stdout);
        return CTL_OK;
    }
    int words;
    bool family;
    const ctl_cmd_t *cmd = lookup(argc, argv, &words, &family);
    if (cmd && words == argc) {
        ctl_print_help(cmd);
        return CTL_OK;
    }
    if (family && argc == 1) {
        family_help(stdout, argv[0]);
        return CTL_OK;
    }
    ctl_err("help: no command '%s'; 'staggerctl --help' lists them", argv[0]);
    return CTL_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        overview(stderr);
        return CTL_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return help(0, NULL);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        stg_print_version("staggerctl");
        return CTL_OK;
    }
    if (strcmp(argv[1], "help") == 0) return help(argc - 2, argv + 2);
    if (sodium_init() < 0) {
        ctl_err("libsodium failed to initialise; check the system has a working "
                "random source (/dev/urandom)");
        return CTL_SYSTEM;
    }
    int words;
    bool family;
    const ctl_cmd_t *cmd = lookup(argc - 1, argv + 1, &words, &family);
    if (cmd) return cmd->run(cmd, argc - words, argv + words);
    if (family && argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        family_help(stdout, argv[1]);
        return CTL_OK;
    }
    if (family) {
        if (argc > 2)
            ctl_err("%s: unknown sub-command '%s'", argv[1], argv[2]);
        else
            ctl_err("%s: expects a sub-command", argv[1]);
        family_help(stderr, argv[1]);
        return CTL_USAGE;
    }
    ctl_err("unknown command '%s'; 'staggerctl --help' lists the commands", argv[1]);
    return CTL_USAGE;
}
