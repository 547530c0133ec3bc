/*
 * xenshape_cli.h - what the files of the xenshape command share: the
 * command table (cmdtable.c), the exit codes, the connection to xenstore,
 * and the helpers that find a domain by name or domid and read its
 * nodes.
 *
 * The command reads and writes nothing but xenstore, through the
 * library's kv port: the status keys xenshaped --shape writes and the
 * policy keys it reads (xenstore-schema/xenshape.schema).  It never
 * talks to the daemon itself, so policy can be written while the daemon
 * is stopped (it takes effect when it starts), and the same binary works
 * on real Xen and, with --sim-socket, on the simulated host.
 */

#ifndef XENSHAPE_CLI_H
#define XENSHAPE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kv/kv.h"
#include "shape/schema.h"

/* Exit codes, as --help and docs/cli.md state them. */
#define EXIT_OK      0              /* done */
#define EXIT_FAIL    1              /* runtime failure: xenstore, no status */
#define EXIT_USAGE   2              /* bad command line: nothing was done */

/* The command line as cli_parse() understood it. */
struct cli_args;

/*
 * One command, as xl's struct cmd_spec: the table in cmdtable.c is the
 * one list of commands; cli_parse(), --help, "help CMD" and the man page
 * (--man) all read it.  A command comes in two steps so that its
 * arguments can be checked without xenstore (tests/fuzz/fuzz_cli_args.c
 * runs the first step alone): parse_fn checks the arguments and fills
 * the command's part of the cli_args, saying what is wrong; run_fn does
 * the work, xenstore included.
 */
struct cmd_spec {
    const char *name;
    int (*parse_fn)(struct cli_args *a);        /* 0 or EXIT_USAGE */
    int (*run_fn)(const struct cli_args *a);    /* an exit code */
    bool modifies;                  /* writes policy */
    const char *desc;               /* one line */
    const char *usage;              /* arguments after the name */
    const char *help;               /* more lines, may be "" */
};

extern const struct cmd_spec cmd_table[];
extern const unsigned cmd_table_nr;

/* The global options; cli_run() sets these from the cli_args. */
struct cli_opts {
    const char *backend;            /* "xen" or "sim" */
    const char *sim_socket;
};
extern struct cli_opts cli_opts;
/* -v: the library's messages on stderr too. */
extern bool cli_verbose;

/* What the command line asks for. */
enum cli_action {
    CLI_RUN,                        /* run cmd */
    CLI_USAGE,                      /* -h, --help: the usage */
    CLI_MAN,                        /* --man: the man page */
    CLI_CMD_HELP,                   /* CMD -h: the help of cmd */
};

/*
 * A command line, parsed: the global options, the command and its own
 * argv (argv[0] its name), then what the command's parse_fn found.
 * Pointers point into the argv given to cli_parse(), or into the
 * command table, or into the struct itself.
 */
struct cli_args {
    enum cli_action action;
    struct cli_opts opts;
    bool verbose;
    const struct cmd_spec *cmd;     /* NULL for CLI_USAGE and CLI_MAN */
    int argc;
    char **argv;

    /* The commands that take a DOMAIN, and those that write policy: */
    const char *domain;
    char **words;                   /* KEY=VALUE to write, nr_words */
    unsigned nr_words;
    char *word[1];                  /* a shorthand's one word: words */
    const char *done;               /* a shorthand's message */
    /* top: */
    double delay;                   /* seconds */
    unsigned long iters;            /* 0: no limit */
    bool batch;
    /* help: the command asked about, or NULL for the usage */
    const struct cmd_spec *topic;
};

/*
 * Parse the command line of the whole program, as main() gets it: the
 * global options, the command (any unambiguous prefix), then the
 * command's arguments through its parse_fn.  No xenstore, no global
 * state but getopt's (reset first), nothing printed but what is wrong
 * with the line.  0 and *a, or EXIT_USAGE after saying why.  argv[optind]
 * (the command as typed) is replaced by the command's full name.
 */
int cli_parse(int argc, char **argv, struct cli_args *a);
/* Do what a parsed command line asks: an exit code. */
int cli_run(const struct cli_args *a);

/* Messages: "xenshape: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a command's usage line to f. */
void cli_usage(FILE *f, const struct cmd_spec *c);
/* A usage error in command c: the message, its usage line, EXIT_USAGE. */
int cli_usage_error(const struct cmd_spec *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The table entry of a command by its full name (never NULL for ours). */
const struct cmd_spec *cli_cmd(const char *name);
void cli_cmd_help(FILE *f, const struct cmd_spec *c);

/* The xenstore connection, opened on first use and kept until exit.
 * NULL after saying why (the caller exits with EXIT_FAIL). */
xenshape__kv_handle *cli_kv(void);

/* A guest domain as xenstore describes it (libxl's layout). */
struct cli_dom {
    uint32_t domid;
    char name[128];
    char uuid[40];                  /* "" if ~/vm is missing */
    uint64_t presented_kib;         /* memory/static-max, 0 if unknown */
};

/*
 * Find a domain by domid or name, as xl does: a number is a domid, then
 * a name.  0 and *d_r, or EXIT_FAIL after saying so (no such domain,
 * Dom0, xenstore failure).
 */
int cli_find_domain(const char *arg, struct cli_dom *d_r);
/* Every guest domain, by domid.  *doms_r malloc'd.  0 or EXIT_FAIL. */
int cli_list_domains(struct cli_dom **doms_r, unsigned *nr_r);

/* The value of a node, malloc'd, or NULL when it is absent. */
char *cli_read(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A status key (scope status) of domain domid, or NULL. */
char *cli_status(uint32_t domid, const char *key);
/* A policy key (scope vm) as written for the VM, or NULL (default). */
char *cli_policy(const struct cli_dom *d, const char *key);
/* A host status key (scope hstatus), or NULL. */
char *cli_hstatus(const char *key);

/* An int status value in frames as MiB text ("-" when absent). */
void cli_frames_mib(char *buf, size_t n, const char *frames);

/*
 * KEY=VALUE words for per-VM policy, each checked on its own with the
 * schema: the key exists and is given once, the value parses (an empty
 * value removes the key).  in[] holds the values in canonical form,
 * pointing into canon[].  As cli_set_policy() uses it; on its own it
 * needs no xenstore.
 */
struct cli_policy {
    char **words;
    unsigned n;
    const xenshape__schema_key *keys[XENSHAPE__SCHEMA_NR_VM];
    xenshape__schema_kv in[XENSHAPE__SCHEMA_NR_VM];
    char canon[XENSHAPE__SCHEMA_NR_VM][XENSHAPE__SCHEMA_VALUE_MAX + 1];
};

/* Check n words into *p.  0, or EXIT_USAGE after naming the bad word
 * (c names the command in messages). */
int cli_policy_parse(const struct cmd_spec *c, char **words, unsigned n,
                     struct cli_policy *p);
/* Check the constraints between keys of *p applied onto *written (the
 * policy already written, or the defaults).  0 or EXIT_USAGE, said. */
int cli_policy_check(const struct cmd_spec *c, const struct cli_policy *p,
                     xenshape__dompolicy *written);

/*
 * Write per-VM policy: n "key=value" words, every one validated with the
 * schema (type, range, and the constraints between keys, against the
 * policy already written) before anything is written; then all in one
 * transaction.  A bad word is named and nothing is written: EXIT_USAGE.
 * EXIT_FAIL if xenstore fails.  c names the command in messages.
 */
int cli_set_policy(const struct cmd_spec *c, const struct cli_dom *d,
                   char **words, unsigned n);

/* A policy key of a domain as in force: the daemon's read-only mirror
 * (status policy/KEY), else as written, else the default.  buf n bytes. */
void cli_in_force(const struct cli_dom *d, const char *key, char *buf,
                  size_t n);

/*
 * The domain table of list and top, one line per guest, to f.  wide:
 * top's extra columns (usage, faults per second).  0 or EXIT_FAIL.
 */
int cli_print_domains(FILE *f, bool wide);

/* Parse steps shared by several commands (xenshape.c): no arguments;
 * DOMAIN alone. */
int cli_parse_none(struct cli_args *a);
int cli_parse_domain(struct cli_args *a);

/* The commands, one file per subject: parse_X checks the arguments of
 * X, main_X runs it. */
int main_list(const struct cli_args *a);
int main_info(const struct cli_args *a);
int parse_set(struct cli_args *a);
int main_set(const struct cli_args *a);
int parse_pin(struct cli_args *a);
int parse_unpin(struct cli_args *a);
int parse_soaker(struct cli_args *a);
int parse_hibernate(struct cli_args *a);
int parse_resume(struct cli_args *a);
/* pin, unpin, soaker, hibernate, resume: their one word. */
int main_set_one(const struct cli_args *a);
int main_explain(const struct cli_args *a);
int parse_top(struct cli_args *a);
int main_top(const struct cli_args *a);
int main_store(const struct cli_args *a);
int parse_help(struct cli_args *a);
int main_help(const struct cli_args *a);

#endif /* XENSHAPE_CLI_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
