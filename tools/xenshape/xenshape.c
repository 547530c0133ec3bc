/*
 * xenshape.c - the operator's command for xenshape, in the manner of xl:
 * global options, then a command from the table in cmdtable.c (or an
 * unambiguous prefix of one), then its arguments.  This file holds the
 * parsing of that line (cli_parse(), which touches nothing but getopt's
 * state, so that tests/fuzz/fuzz_cli_args.c can run it on anything), the
 * dispatch (cli_run()), and what is printed from the table: --help,
 * "help CMD" and the man page (the hidden --man, which `make man` runs).
 * main() itself, in main.c, only calls the two.
 *
 * Exit codes, for scripts: 0 done, 1 a runtime failure (xenstore, no
 * such domain, no status), 2 a usage error (nothing was done).
 */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenshape_cli.h"

struct cli_opts cli_opts = { .backend = "xen" };
bool cli_verbose;

void cli_err(const char *fmt, ...)
{
    va_list ap;

    fputs("xenshape: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_usage(FILE *f, const struct cmd_spec *c)
{
    fprintf(f, "Usage: xenshape [OPTION]... %s%s%s\n", c->name,
            c->usage[0] ? " " : "", c->usage);
}

int cli_usage_error(const struct cmd_spec *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xenshape %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cli_usage(stderr, c);
    return EXIT_USAGE;
}

const struct cmd_spec *cli_cmd(const char *name)
{
    unsigned i;

    for (i = 0; i < cmd_table_nr; i++)
        if (!strcmp(cmd_table[i].name, name))
            return &cmd_table[i];
    return NULL;
}

/* Print a multi-line help text indented by ind spaces. */
static void put_indented(FILE *f, const char *text, int ind)
{
    const char *p = text, *nl;

    while (*p) {
        nl = strchr(p, '\n');
        if (!nl)
            nl = p + strlen(p);
        fprintf(f, "%*s%.*s\n", ind, "", (int)(nl - p), p);
        p = *nl ? nl + 1 : nl;
    }
}

void cli_cmd_help(FILE *f, const struct cmd_spec *c)
{
    cli_usage(f, c);
    fprintf(f, "%s.\n", c->desc);
    if (c->help[0]) {
        fputc('\n', f);
        put_indented(f, c->help, 2);
    }
    if (c->modifies)
        fputs("\n  Writes policy under /xenshape/vm/<uuid>.\n", f);
}

static const char options_text[] =
    "  -b, --backend NAME       xenstore to use: xen (default) or sim\n"
    "  -S, --sim-socket PATH    the simulated host's socket (implies\n"
    "                           --backend sim), as xenshaped's option\n"
    "  -v, --verbose            the library's messages on stderr\n"
    "  -h, --help               this text\n";

static const char exit_text[] =
    "  0  done\n"
    "  1  runtime failure: xenstore unreachable, no such domain, no\n"
    "     status from xenshaped\n"
    "  2  usage error: unknown or ambiguous command, bad option, missing\n"
    "     argument, unknown key or bad value; nothing was written\n";

static void usage(FILE *f)
{
    unsigned i;

    fputs("Usage: xenshape [OPTION]... COMMAND [ARG]...\n"
          "Operate xenshape's memory shaping through xenstore.\n"
          "\n"
          "Commands (any unambiguous prefix will do):\n", f);
    for (i = 0; i < cmd_table_nr; i++)
        fprintf(f, "  %-10s %s\n", cmd_table[i].name, cmd_table[i].desc);
    fprintf(f, "\nOptions:\n%s"
            "\nDOMAIN is a domain's name or domid, as for xl.\n"
            "\"xenshape help COMMAND\" shows a command's arguments.\n"
            "\nExit status:\n%s", options_text, exit_text);
}

/* n bytes of s for roff: backslashes and hyphens escaped. */
static void roff_esc(FILE *f, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\e", f);
        else if (s[i] == '-')
            fputs("\\-", f);
        else
            fputc(s[i], f);
    }
}

/* A line of text: a leading dot or quote would be a request. */
static void roff_line(FILE *f, const char *s, size_t n)
{
    if (n && (s[0] == '.' || s[0] == '\''))
        fputs("\\&", f);
    roff_esc(f, s, n);
    fputc('\n', f);
}

static void roff_text(FILE *f, const char *s)
{
    const char *nl;

    while (*s) {
        nl = strchr(s, '\n');
        if (!nl)
            nl = s + strlen(s);
        roff_line(f, s, nl - s);
        s = *nl ? nl + 1 : nl;
    }
}

/* Lines "  -x, --long ARG    text" of a help text as .TP entries, the
 * continuation lines joined to their entry. */
static void roff_options(FILE *f, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *nl = strchr(p, '\n'), *q = p, *gap;

        if (!nl)
            nl = p + strlen(p);
        while (q < nl && *q == ' ')
            q++;
        gap = strstr(q, "  ");
        if ((*q == '-' || (*q >= '0' && *q <= '9')) && gap && gap < nl) {
            fputs(".TP\n\\fB", f);
            roff_esc(f, q, gap - q);
            fputs("\\fR\n", f);
            while (*gap == ' ')
                gap++;
            roff_line(f, gap, nl - gap);
        } else {
            roff_line(f, q, nl - q);
        }
        p = *nl ? nl + 1 : nl;
    }
}

/* The man page xenshape(1), from the table. */
static void man(FILE *f)
{
    unsigned i;

    fputs(".\\\" Generated by xenshape --man from tools/xenshape/cmdtable.c.\n"
          ".\\\" Do not edit: change the table.\n"
          ".TH XENSHAPE 1 \"\" \"xenshape\" \"User Commands\"\n"
          ".SH NAME\n"
          "xenshape \\- operate xenshape's memory shaping through xenstore\n"
          ".SH SYNOPSIS\n"
          ".B xenshape\n"
          "[\\fIOPTION\\fR]... \\fICOMMAND\\fR [\\fIARG\\fR]...\n"
          ".SH DESCRIPTION\n"
          "xenshape shows and steers what\n"
          ".BR xenshaped (8)\n"
          "does with the RAM of each Xen domain.\n"
          "It reads and writes xenstore only: the status keys the daemon\n"
          "writes and the policy keys it reads, described in\n"
          ".BR xenshape\\-xenstore (7).\n"
          "A command may be abbreviated to any unambiguous prefix.\n"
          "A \\fIDOMAIN\\fR is a domain's name or domid, as for\n"
          ".BR xl (1).\n"
          ".SH OPTIONS\n", f);
    roff_options(f, options_text);
    fputs(".SH COMMANDS\n", f);
    for (i = 0; i < cmd_table_nr; i++) {
        const struct cmd_spec *c = &cmd_table[i];

        fprintf(f, ".TP\n\\fB%s\\fR", c->name);
        if (c->usage[0]) {
            fputc(' ', f);
            roff_line(f, c->usage, strlen(c->usage));
        } else {
            fputc('\n', f);
        }
        fprintf(f, "%s.\n", c->desc);
        if (c->help[0]) {
            fputs(".RS\n", f);
            if (c->help[0] == '-')
                roff_options(f, c->help);
            else
                roff_text(f, c->help);
            fputs(".RE\n", f);
        }
    }
    fputs(".SH EXIT STATUS\n", f);
    roff_options(f, exit_text);
    fputs(".SH EXAMPLES\n"
          ".nf\n"
          "xenshape list\n"
          "xenshape set web1 priority=800 threshold\\-high=75%\n"
          "xenshape soaker batch3 on\n"
          "xenshape explain web1\n"
          "xenshape \\-\\-sim\\-socket /run/xenshape/simhost.sock top\n"
          ".fi\n"
          ".SH SEE ALSO\n"
          ".BR xenshaped (8),\n"
          ".BR xenshape\\-xenstore (7),\n"
          ".BR xl (1),\n"
          ".BR xentop (1)\n", f);
}

/*
 * The command name names: itself, else the only one it is a prefix of
 * (as xl accepts).  NULL and the reason in why (n bytes), which lists the
 * candidates of an ambiguous prefix.
 */
static const struct cmd_spec *lookup(const char *name, char *why, size_t n)
{
    const struct cmd_spec *c = cli_cmd(name), *match = NULL;
    unsigned i, nr = 0;
    bool first = true;
    size_t o;

    if (c)
        return c;
    for (i = 0; i < cmd_table_nr; i++)
        if (!strncmp(cmd_table[i].name, name, strlen(name))) {
            match = &cmd_table[i];
            nr++;
        }
    if (nr == 1)
        return match;
    if (!nr) {
        snprintf(why, n, "unknown command '%s'", name);
        return NULL;
    }
    snprintf(why, n, "ambiguous command '%s': could be", name);
    for (i = 0; i < cmd_table_nr; i++) {
        if (strncmp(cmd_table[i].name, name, strlen(name)))
            continue;
        o = strlen(why);
        snprintf(why + o, n - o, "%s %s", first ? "" : ",",
                 cmd_table[i].name);
        first = false;
    }
    return NULL;
}

int parse_help(struct cli_args *a)
{
    char why[256];

    if (a->argc > 2)
        return cli_usage_error(a->cmd, "too many arguments");
    if (a->argc == 2) {
        a->topic = lookup(a->argv[1], why, sizeof(why));
        if (!a->topic)
            return cli_usage_error(a->cmd, "%s", why);
    }
    return 0;
}

int main_help(const struct cli_args *a)
{
    if (!a->topic)
        usage(stdout);
    else
        cli_cmd_help(stdout, a->topic);
    return EXIT_OK;
}

int cli_parse_none(struct cli_args *a)
{
    if (a->argc > 1)
        return cli_usage_error(a->cmd, "unexpected argument '%s'",
                               a->argv[1]);
    return 0;
}

int cli_parse_domain(struct cli_args *a)
{
    if (a->argc != 2)
        return cli_usage_error(a->cmd, a->argc < 2 ? "no DOMAIN given"
                               : "too many arguments");
    a->domain = a->argv[1];
    return 0;
}

int cli_parse(int argc, char **argv, struct cli_args *a)
{
    static const struct option opts[] = {
        { "backend", required_argument, NULL, 'b' },
        { "sim-socket", required_argument, NULL, 'S' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "man", no_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    const struct cmd_spec *c;
    char why[256];
    bool xen_given = false;
    int opt;

    memset(a, 0, sizeof(*a));
    a->opts.backend = "xen";
    /*
     * 0, not 1: glibc then forgets all it kept from an earlier parse (a
     * half-read cluster of short options, the ordering), which matters
     * when one process parses more than one line, as the fuzzer does.
     * "+": options end at the command; its own come after it.
     */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:b:S:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (strcmp(optarg, "xen") && strcmp(optarg, "sim")) {
                cli_err("bad --backend '%s': want xen or sim", optarg);
                return EXIT_USAGE;
            }
            a->opts.backend = optarg;
            xen_given = !strcmp(optarg, "xen");
            break;
        case 'S':
            a->opts.sim_socket = optarg;
            a->opts.backend = "sim";
            break;
        case 'v':
            a->verbose = true;
            break;
        case 'h':
            a->action = CLI_USAGE;
            return 0;
        case 'M':
            a->action = CLI_MAN;
            return 0;
        case ':':
            cli_err("option '%s' needs an argument", argv[optind - 1]);
            return EXIT_USAGE;
        default: {
            /* A long option given a value it does not take (--verbose=1)
             * comes back with optopt set to its internal letter, which
             * means nothing to the user (and --man's is not documented):
             * name the option as it was written. */
            const char *arg = argv[optind - 1];
            const char *eq = strchr(arg, '=');

            if (!strncmp(arg, "--", 2) && eq && optopt)
                cli_err("option '%.*s' takes no value; see 'xenshape "
                        "--help'", (int)(eq - arg), arg);
            else if (optopt && strncmp(arg, "--", 2))
                cli_err("unknown option '-%c'; see 'xenshape --help'",
                        optopt);
            else
                cli_err("unknown option '%s'; see 'xenshape --help'", arg);
            return EXIT_USAGE;
        }
        }
        /* Checked as soon as the second of the two comes, in either
         * order (the fuzzer found "-S SOCK -b xen" leaving a socket set
         * on the xen backend). */
        if (xen_given && a->opts.sim_socket) {
            cli_err("--backend xen and --sim-socket do not go together "
                    "(the socket is the simulated host's)");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_err("no command given; see 'xenshape --help'");
        return EXIT_USAGE;
    }
    c = lookup(argv[optind], why, sizeof(why));
    if (!c) {
        cli_err("%s; see 'xenshape --help'", why);
        return EXIT_USAGE;
    }
    argv[optind] = (char *)c->name;
    a->cmd = c;
    a->argc = argc - optind;
    a->argv = argv + optind;
    if (a->argc == 2 && (!strcmp(a->argv[1], "-h") ||
                         !strcmp(a->argv[1], "--help"))) {
        a->action = CLI_CMD_HELP;
        return 0;
    }
    a->action = CLI_RUN;
    return c->parse_fn(a);
}

int cli_run(const struct cli_args *a)
{
    cli_opts = a->opts;
    cli_verbose = a->verbose;
    switch (a->action) {
    case CLI_USAGE:
        usage(stdout);
        return EXIT_OK;
    case CLI_MAN:
        man(stdout);
        return EXIT_OK;
    case CLI_CMD_HELP:
        cli_cmd_help(stdout, a->cmd);
        return EXIT_OK;
    case CLI_RUN:
        break;
    }
    return a->cmd->run_fn(a);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
