/*
 * cmd_set.c - the commands that write per-VM policy: set, and the
 * shorthands pin, unpin, soaker, hibernate and resume, each a set of one
 * key.  All go through cli_set_policy() (util.c), which checks every
 * value with the library's schema code before writing anything, and
 * writes in one transaction.  xenshaped --shape sees the change through
 * its watch and acts at its next interval; what it made of it shows in
 * "xenshape info" and "xenshape explain".
 */

#include <string.h>

#include "xenshape_cli.h"

/* One key for a command that takes DOMAIN only (or DOMAIN and a word). */
static int set_one(const char *cmd, int argc, char **argv, int want,
                   const char *word, const char *done)
{
    const struct cmd_spec *self = cli_cmd(cmd);
    struct cli_dom d;
    char *words[1] = { (char *)word };
    int rc;

    if (argc < 2)
        return cli_usage_error(self, "no DOMAIN given");
    if (argc > want)
        return cli_usage_error(self, "unexpected argument '%s'",
                               argv[want]);
    rc = cli_find_domain(argv[1], &d);
    if (rc)
        return rc;
    rc = cli_set_policy(self, &d, words, 1);
    if (!rc)
        printf("%s (domain %u): %s\n", d.name, d.domid, done);
    return rc;
}

int main_set(int argc, char **argv)
{
    const struct cmd_spec *self = cli_cmd("set");
    struct cli_dom d;
    int rc;

    if (argc < 2)
        return cli_usage_error(self, "no DOMAIN given");
    if (argc < 3)
        return cli_usage_error(self, "no KEY=VALUE given");
    rc = cli_find_domain(argv[1], &d);
    if (rc)
        return rc;
    rc = cli_set_policy(self, &d, argv + 2, argc - 2);
    if (!rc)
        printf("%s (domain %u): %d key%s written\n", d.name, d.domid,
               argc - 2, argc == 3 ? "" : "s");
    return rc;
}

int main_pin(int argc, char **argv)
{
    return set_one("pin", argc, argv, 2, "pin=1",
                   "pinned (pin=1): paged fully in, then left alone");
}

int main_unpin(int argc, char **argv)
{
    return set_one("unpin", argc, argv, 2, "pin=0",
                   "unpinned (pin=0): shaped again");
}

int main_soaker(int argc, char **argv)
{
    const struct cmd_spec *self = cli_cmd("soaker");
    const char *w;

    if (argc == 3) {
        if (!strcmp(argv[2], "on"))
            w = "soaker=1";
        else if (!strcmp(argv[2], "off"))
            w = "soaker=0";
        else
            return cli_usage_error(self, "bad argument '%s': want on or "
                                   "off", argv[2]);
        return set_one("soaker", argc, argv, 3, w, !strcmp(w, "soaker=1")
                       ? "a soaker (soaker=1)" : "not a soaker (soaker=0)");
    }
    if (argc == 2)
        return cli_usage_error(self, "missing on or off after '%s'",
                               argv[1]);
    return set_one("soaker", argc, argv, 3, NULL, NULL);
}

int main_hibernate(int argc, char **argv)
{
    return set_one("hibernate", argc, argv, 2, "hibernate-now=1",
                   "hibernation requested (hibernate-now=1)");
}

int main_resume(int argc, char **argv)
{
    return set_one("resume", argc, argv, 2, "hibernate-now=0",
                   "resume requested (hibernate-now=0): relaunched once "
                   "min-starting is free");
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
