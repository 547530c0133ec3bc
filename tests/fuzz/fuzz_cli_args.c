/*
 * fuzz_cli_args - libFuzzer target: the xenshape command's parsing of its
 * command line, through the command's own code (tools/xenshape):
 * cli_parse() with the global options, the command found by unambiguous
 * prefix and that command's parse step (DOMAIN, on|off, top's options,
 * help's topic), then, for the commands that write policy, their
 * KEY=VALUE words checked one by one against the schema
 * (cli_policy_parse()) and together against the defaults
 * (cli_policy_check()).  Whatever the input:
 *   - parsing succeeds or is a usage error (exit code 2), nothing else;
 *   - a success names a command of the table with its arguments as the
 *     table says it takes them, a backend of xen or sim, and a DOMAIN,
 *     words, a topic where the command has them;
 *   - the words of the shorthands (pin, soaker on, ...) are valid policy;
 *   - the same line parsed again gives the same result (getopt's state is
 *     reset by cli_parse(), not left to the process), and parsing sets
 *     none of the command's globals (only cli_run() does).
 *
 * Parse only, no xenstore.  A DOMAIN is resolved by reading /local/domain
 * through the kv port (cli_find_domain()), which needs a xenstore, or a
 * simulated host behind a socket and its daemon in another process: that
 * is what tests/e2e-cli.sh drives, and it is not parsing.  So the target
 * stops where the command would first touch xenstore, and checks the
 * words against the defaults, which is what a VM without written policy
 * has; the command checks them against what is written, with the same
 * function.
 *
 * Input: the words after argv[0], one per line; a NUL byte ends a word
 * too, and a final newline does not start an empty one.  At most
 * MAX_WORDS words, the rest ignored.  The messages of usage errors go to
 * stderr, which cli_args.options has libFuzzer close; a failed check is
 * reported on a copy of stderr taken before.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/xenshape/xenshape_cli.h"

static FILE *report;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(report ? report : stderr,                               \
                    "%s:%d: check failed: %s\n", __FILE__, __LINE__,        \
                    #cond);                                                 \
            abort();                                                        \
        }                                                                   \
    } while (0)

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The words of data, each malloc'd to its exact size (so that reading
 * past one is caught), after "xenshape" in argv.  *argc_r words in all. */
static void split(const uint8_t *data, size_t size, char **argv,
                  char **owned, int *argc_r)
{
    const char *p = (const char *)data, *end = p + size;
    int n = 1;

    argv[0] = (char *)"xenshape";
    owned[0] = NULL;
    while (p < end && n <= MAX_WORDS) {
        const char *e = p;

        while (e < end && *e != '\n' && *e != '\0')
            e++;
        owned[n] = malloc((size_t)(e - p) + 1);
        CHECK(owned[n]);
        memcpy(owned[n], p, (size_t)(e - p));
        owned[n][e - p] = '\0';
        argv[n] = owned[n];
        n++;
        p = e + 1;
    }
    argv[n] = NULL;
    *argc_r = n;
}

static bool in_table(const struct cmd_spec *c)
{
    return c >= cmd_table && c < cmd_table + cmd_table_nr;
}

static bool same_str(const char *x, const char *y)
{
    return x == y || (x && y && !strcmp(x, y));
}

/* What the table says of a successful parse, command by command. */
static void check_parsed(const struct cli_args *a)
{
    const char *n;

    CHECK(!strcmp(a->opts.backend, "xen") || !strcmp(a->opts.backend, "sim"));
    CHECK(!a->opts.sim_socket || !strcmp(a->opts.backend, "sim"));
    switch (a->action) {
    case CLI_USAGE:
    case CLI_MAN:
        CHECK(!a->cmd);
        return;
    case CLI_CMD_HELP:
        CHECK(in_table(a->cmd) && a->argc == 2);
        CHECK(!strcmp(a->argv[1], "-h") || !strcmp(a->argv[1], "--help"));
        return;
    case CLI_RUN:
        break;
    default:
        CHECK(!"an action of no known kind");
    }
    CHECK(in_table(a->cmd));
    CHECK(a->argc >= 1 && a->argv[0] == a->cmd->name);
    CHECK(!a->argv[a->argc]);
    n = a->cmd->name;
    if (!strcmp(n, "list") || !strcmp(n, "store"))
        CHECK(a->argc == 1);
    if (!strcmp(n, "info") || !strcmp(n, "explain"))
        CHECK(a->argc == 2 && a->domain == a->argv[1]);
    if (a->cmd->modifies) {
        CHECK(a->domain == a->argv[1]);
        CHECK(a->nr_words >= 1 && a->words);
        if (!strcmp(n, "set"))
            CHECK(a->argc >= 3 && a->words == a->argv + 2 &&
                  a->nr_words == (unsigned)a->argc - 2);
        else
            CHECK(a->nr_words == 1 && a->words[0] && a->done);
    } else {
        CHECK(!a->words && !a->nr_words);
    }
    if (!strcmp(n, "top"))
        CHECK(a->delay >= 0.1 && a->delay <= 3600);
    if (!strcmp(n, "help"))
        CHECK(a->argc <= 2 && (a->argc == 2 ? in_table(a->topic)
                               : !a->topic));
}

/* The KEY=VALUE words, as the command checks them before writing. */
static void check_words(const struct cli_args *a)
{
    /* Static: the canonical values take 25 KiB. */
    static struct cli_policy p;
    xenshape__dompolicy pol;
    unsigned i;
    int rc;

    rc = cli_policy_parse(a->cmd, a->words, a->nr_words, &p);
    CHECK(rc == 0 || rc == EXIT_USAGE);
    if (strcmp(a->cmd->name, "set"))
        CHECK(rc == 0);
    if (rc)
        return;
    CHECK(p.n == a->nr_words && p.n <= XENSHAPE__SCHEMA_NR_VM);
    for (i = 0; i < p.n; i++) {
        xenshape__schema_val v;

        CHECK(p.keys[i]->scope == XENSHAPE__SCOPE_VM);
        CHECK(p.in[i].key == p.keys[i]->name);
        if (!p.in[i].value)
            continue;
        /* What would be written parses as what was given. */
        CHECK(p.in[i].len == strlen(p.in[i].value));
        CHECK(xenshape__schema_parse(p.keys[i], p.in[i].value,
                                     p.in[i].len, &v, NULL, 0) == 0);
    }
    xenshape__dompolicy_init(&pol);
    rc = cli_policy_check(a->cmd, &p, &pol);
    CHECK(rc == 0 || rc == EXIT_USAGE);
    if (strcmp(a->cmd->name, "set"))
        CHECK(rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv1[MAX_WORDS + 2], *argv2[MAX_WORDS + 2];
    char *owned1[MAX_WORDS + 2], *owned2[MAX_WORDS + 2];
    struct cli_args a1, a2;
    int argc1, argc2, rc1, rc2, i;

    /* Two copies: cli_parse() writes the command's full name into argv,
     * and the second parse must not see what the first left. */
    split(data, size, argv1, owned1, &argc1);
    split(data, size, argv2, owned2, &argc2);

    rc1 = cli_parse(argc1, argv1, &a1);
    CHECK(rc1 == 0 || rc1 == EXIT_USAGE);
    CHECK(!strcmp(cli_opts.backend, "xen") && !cli_opts.sim_socket &&
          !cli_verbose);
    if (!rc1) {
        check_parsed(&a1);
        if (a1.action == CLI_RUN && a1.cmd->modifies)
            check_words(&a1);
    }

    rc2 = cli_parse(argc2, argv2, &a2);
    CHECK(rc2 == rc1);
    if (!rc1) {
        CHECK(a2.action == a1.action && a2.cmd == a1.cmd);
        CHECK(a2.argc == a1.argc && a2.verbose == a1.verbose);
        CHECK(same_str(a2.opts.backend, a1.opts.backend));
        CHECK(same_str(a2.opts.sim_socket, a1.opts.sim_socket));
        CHECK(same_str(a2.domain, a1.domain));
        CHECK(a2.nr_words == a1.nr_words);
        for (i = 0; i < (int)a1.nr_words; i++)
            CHECK(same_str(a2.words[i], a1.words[i]));
        CHECK(a2.delay == a1.delay && a2.iters == a1.iters &&
              a2.batch == a1.batch && a2.topic == a1.topic);
    }

    for (i = 1; i < argc1; i++) {
        free(owned1[i]);
        free(owned2[i]);
    }
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Before libFuzzer closes stderr (-close_fd_mask=3): the reports of
     * failed checks still reach the log. */
    int fd = dup(STDERR_FILENO);

    report = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (report)
        setvbuf(report, NULL, _IONBF, 0);
    return 0;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
