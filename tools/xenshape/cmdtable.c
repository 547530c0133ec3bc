/*
 * cmdtable.c - the commands of xenshape, in one const table as xl's
 * xl_cmdtable.c: name, parse and run functions, whether it writes
 * policy, a one-line description, the usage and more help.  cli_parse()
 * dispatches on it (accepting unambiguous prefixes), and --help,
 * "xenshape help CMD" and the man page (xenshape --man, built by `make
 * man`) are printed from it, so the three cannot disagree.  The order
 * here is the order of --help.
 */

#include "xenshape_cli.h"

const struct cmd_spec cmd_table[] = {
    { "list", cli_parse_none, main_list, false,
      "List the guest domains with their memory and shaping state",
      "",
      "Per domain: presented memory, RAM (resident), store (paged out)\n"
      "and target in MiB, the state xenshaped reports, the priority and\n"
      "whether it is a soaker or pinned (policy in force).  \"-\": no\n"
      "status yet (xenshaped --shape not running, or not yet at its\n"
      "first interval)." },
    { "info", cli_parse_domain, main_info, false,
      "Show everything known about one domain",
      "DOMAIN",
      "Identity, every status key, and every policy key: as written\n"
      "for the VM (or its default) and as in force." },
    { "set", parse_set, main_set, true,
      "Set policy keys of a domain, all in one transaction",
      "DOMAIN KEY=VALUE...",
      "Keys and values as in xenshape-xenstore(7), scope vm.  Every\n"
      "KEY=VALUE is checked (key, type, range, constraints between\n"
      "keys) before anything is written; one bad argument writes\n"
      "nothing.  KEY= (empty) removes the key: it returns to its\n"
      "default." },
    { "pin", parse_pin, main_set_one, true,
      "Page a domain fully in and exempt it from shaping (pin=1)",
      "DOMAIN",
      "" },
    { "unpin", parse_unpin, main_set_one, true,
      "Shape a pinned domain again (pin=0)",
      "DOMAIN",
      "" },
    { "soaker", parse_soaker, main_set_one, true,
      "Make a domain a soaker or not (soaker=1|0)",
      "DOMAIN on|off",
      "A soaker grows into free RAM, gives it back first under\n"
      "contention and is hibernated below min-operating." },
    { "hibernate", parse_hibernate, main_set_one, true,
      "Hibernate a domain now and hold it so (hibernate-now=1)",
      "DOMAIN",
      "Paused, then paged out as its hibernate key says (store: all at\n"
      "once; pause: as others need the RAM), at xenshaped's next\n"
      "interval.  A pin wins over it." },
    { "resume", parse_resume, main_set_one, true,
      "Release a domain hibernated by request (hibernate-now=0)",
      "DOMAIN",
      "It is relaunched once its min-starting is free." },
    { "explain", cli_parse_domain, main_explain, false,
      "Say why a domain has the RAM it has: the decision log in words",
      "DOMAIN",
      "The last decision, rejected policy values, and the recent\n"
      "decisions newest first, each with the host's uptime." },
    { "top", parse_top, main_top, false,
      "A live view of the domains, as xentop",
      "[-d SECONDS] [-b] [-n ITERATIONS]",
      "-d SECONDS     refresh interval (default 1; 0.1 to 3600)\n"
      "-b             batch mode: no terminal control, one screen after\n"
      "               another on standard output\n"
      "-n ITERATIONS  stop after that many screens\n"
      "In a terminal, q quits (as do Ctrl-C and Esc)." },
    { "store", cli_parse_none, main_store, false,
      "Show the page store's usage and health, and the host's RAM",
      "",
      "Health is \"failed\" once an I/O error stopped evictions, and\n"
      "checksum failures count frames that came back wrong.  Exits 1\n"
      "when there is no store status (xenshaped --shape not running)." },
    { "help", parse_help, main_help, false,
      "Show the commands, or the help of one",
      "[COMMAND]",
      "" },
};

const unsigned cmd_table_nr = sizeof(cmd_table) / sizeof(cmd_table[0]);

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
