/*
 * cmd_top.c - "xenshape top": a live view of the domains as xentop's,
 * redrawn every interval from the status xenshaped --shape writes: the
 * host's RAM and store on top, then list's table with the working set
 * and the fault rate.  In a terminal it draws with plain ANSI sequences
 * (the alternate screen, so the shell's screen comes back on exit) and
 * reads keys unbuffered: q, Esc or Ctrl-C quits.  With -b it writes one
 * screen after another to standard output, for scripts and logs.  No
 * curses: what is drawn is one text table, and every terminal xenshape
 * will meet (a Dom0 console, ssh, tmux) understands these sequences.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "xenshape_cli.h"

static volatile sig_atomic_t stop;
static struct termios saved;
static bool raw_mode;

static void on_signal(int sig)
{
    stop = 1;
}

/* Leave the terminal as we found it, whatever way we exit. */
static void restore_terminal(void)
{
    if (!raw_mode)
        return;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    raw_mode = false;
}

static int enter_raw(void)
{
    struct termios t;

    if (tcgetattr(STDIN_FILENO, &saved))
        return -1;
    t = saved;
    /* Keys one at a time, unechoed; ISIG stays, so Ctrl-C is SIGINT. */
    t.c_lflag &= ~(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
        return -1;
    raw_mode = true;
    atexit(restore_terminal);
    fputs("\033[?1049h\033[?25l", stdout);
    return 0;
}

static void header(void)
{
    static const char *const keys[] = {
        "available-frames", "assigned-frames", "free-frames",
        "store/slots-used", "store/slots-total",
    };
    char mib[5][24], *contention, *store, tbuf[16];
    time_t now = time(NULL);
    unsigned i;

    for (i = 0; i < 5; i++) {
        char *v = cli_hstatus(keys[i]);

        cli_frames_mib(mib[i], sizeof(mib[i]), v);
        free(v);
    }
    contention = cli_hstatus("contention");
    store = cli_hstatus("store/state");
    strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
    printf("xenshape top - %s\n", tbuf);
    printf("Host: %s MiB for guests, %s MiB assigned, %s MiB free%s\n",
           mib[0], mib[1], mib[2],
           contention && !strcmp(contention, "1") ? ", CONTENTION" : "");
    printf("Store: %s of %s MiB used, %s\n\n", mib[3], mib[4],
           store ? store : "no status");
    free(contention);
    free(store);
}

/* Wait up to ms for a key; true if it asks to quit. */
static bool wait_key(int ms, bool keys)
{
    struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
    char c;

    if (poll(&p, keys ? 1 : 0, ms) <= 0)
        return false;
    while (read(STDIN_FILENO, &c, 1) == 1)
        if (c == 'q' || c == 'Q' || c == 27 || c == 3)
            return true;
    return false;
}

int parse_top(struct cli_args *a)
{
    char *end;
    int opt;

    a->delay = 1.0;
    /*
     * optind 0 makes glibc start afresh (see cli_parse()); "+" keeps the
     * order cli_parse()'s own "+" gave this parse when it was left to
     * carry over: options stop at the first other argument.
     */
    optind = 0;
    opterr = 0;
    while ((opt = getopt(a->argc, a->argv, "+:d:bn:")) != -1) {
        switch (opt) {
        case 'd':
            a->delay = strtod(optarg, &end);
            if (*end || end == optarg ||
                !(a->delay >= 0.1 && a->delay <= 3600))
                return cli_usage_error(a->cmd, "bad -d '%s': want seconds "
                                       "from 0.1 to 3600", optarg);
            break;
        case 'b':
            a->batch = true;
            break;
        case 'n':
            a->iters = strtoul(optarg, &end, 10);
            if (*end || end == optarg || !a->iters || optarg[0] == '-')
                return cli_usage_error(a->cmd, "bad -n '%s': want a number "
                                       "of screens, at least 1", optarg);
            break;
        case ':':
            return cli_usage_error(a->cmd, "option -%c needs an argument",
                                   optopt);
        default:
            return cli_usage_error(a->cmd, "unknown option '-%c'", optopt);
        }
    }
    if (optind < a->argc)
        return cli_usage_error(a->cmd, "unexpected argument '%s'",
                               a->argv[optind]);
    return 0;
}

int main_top(const struct cli_args *a)
{
    const struct cmd_spec *self = a->cmd;
    struct sigaction sa;
    double delay = a->delay;
    unsigned long iters = a->iters, n;
    bool batch = a->batch, tty;
    int rc;

    tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    if (!batch && !tty)
        return cli_usage_error(self, "not a terminal: use -b for batch "
                               "mode");
    if (!cli_kv())
        return EXIT_FAIL;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    /* No SA_RESTART: the wait in poll() ends at once. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!batch && enter_raw()) {
        cli_err("top: cannot set up the terminal: %s", strerror(errno));
        return EXIT_FAIL;
    }
    rc = EXIT_OK;
    for (n = 0; !stop; n++) {
        if (!batch)
            fputs("\033[H\033[2J", stdout);
        else if (n)
            fputc('\n', stdout);
        header();
        rc = cli_print_domains(stdout, true);
        if (rc)
            break;
        if (!batch)
            printf("\nq: quit    refresh every %g s\n", delay);
        fflush(stdout);
        if (iters && n + 1 >= iters)
            break;
        if (wait_key((int)(delay * 1000), !batch))
            break;
    }
    restore_terminal();
    return rc;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
