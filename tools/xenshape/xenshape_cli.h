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

/*
 * One command, as xl's struct cmd_spec: the table in cmdtable.c is the
 * one list of commands; main(), --help, "help CMD" and the man page
 * (--man) all read it.
 */
struct cmd_spec {
    const char *name;
    int (*main_fn)(int argc, char **argv);  /* argv[0] is the name */
    bool modifies;                  /* writes policy */
    const char *desc;               /* one line */
    const char *usage;              /* arguments after the name */
    const char *help;               /* more lines, may be "" */
};

extern const struct cmd_spec cmd_table[];
extern const unsigned cmd_table_nr;

/* Set by main() from the global options. */
struct cli_opts {
    const char *backend;            /* "xen" or "sim" */
    const char *sim_socket;
};
extern struct cli_opts cli_opts;
/* -v: the library's messages on stderr too. */
extern bool cli_verbose;

/* Messages: "xenshape: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a command's usage line to f. */
void cli_usage(FILE *f, const struct cmd_spec *c);
/* A usage error in command c: the message, its usage line, EXIT_USAGE. */
int cli_usage_error(const struct cmd_spec *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The table entry of a command by its full name (never NULL for ours). */
const struct cmd_spec *cli_cmd(const char *name);
/* "-h"/"--help" as the only argument: prints help, true. */
bool cli_want_help(const struct cmd_spec *c, int argc, char **argv);
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

/* The commands, one file per subject. */
int main_list(int argc, char **argv);
int main_info(int argc, char **argv);
int main_set(int argc, char **argv);
int main_pin(int argc, char **argv);
int main_unpin(int argc, char **argv);
int main_soaker(int argc, char **argv);
int main_hibernate(int argc, char **argv);
int main_resume(int argc, char **argv);
int main_explain(int argc, char **argv);
int main_top(int argc, char **argv);
int main_store(int argc, char **argv);
int main_help(int argc, char **argv);

#endif /* XENSHAPE_CLI_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
