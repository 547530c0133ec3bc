/*
 * cmd_set.c - the commands that write per-VM policy: set, and the
 * shorthands pin, unpin, soaker, hibernate and resume, each a set of one
 * key.  Each parses its arguments first (parse_X, no xenstore), then
 * goes through cli_set_policy() (util.c), which checks every value with
 * the library's schema code before writing anything, and writes in one
 * transaction.  xenshaped --shape sees the change through
 * its watch and acts at its next interval; what it made of it shows in
 * "xenshape info" and "xenshape explain".
 */

#include <string.h>

#include "xenshape_cli.h"

/*
 * The parse step of a shorthand: DOMAIN, and up to want arguments in
 * all (the name included); its one KEY=VALUE is word, and done what it
 * says when written.
 */
static int shorthand(struct cli_args *a, int want, const char *word,
                     const char *done)
{
    if (a->argc < 2)
        return cli_usage_error(a->cmd, "no DOMAIN given");
    if (a->argc > want)
        return cli_usage_error(a->cmd, "unexpected argument '%s'",
                               a->argv[want]);
    a->domain = a->argv[1];
    a->word[0] = (char *)word;
    a->words = a->word;
    a->nr_words = 1;
    a->done = done;
    return 0;
}

int main_set_one(const struct cli_args *a)
{
    struct cli_dom d;
    int rc;

    rc = cli_find_domain(a->domain, &d);
    if (rc)
        return rc;
    rc = cli_set_policy(a->cmd, &d, a->words, a->nr_words);
    if (!rc)
        printf("%s (domain %u): %s\n", d.name, d.domid, a->done);
    return rc;
}

/* The KEY=VALUE words are checked by cli_set_policy(), after the domain
 * is found: a domain that is not there is said first. */
int parse_set(struct cli_args *a)
{
    if (a->argc < 2)
        return cli_usage_error(a->cmd, "no DOMAIN given");
    if (a->argc < 3)
        return cli_usage_error(a->cmd, "no KEY=VALUE given");
    a->domain = a->argv[1];
    a->words = a->argv + 2;
    a->nr_words = a->argc - 2;
    return 0;
}

int main_set(const struct cli_args *a)
{
    struct cli_dom d;
    int rc;

    rc = cli_find_domain(a->domain, &d);
    if (rc)
        return rc;
    rc = cli_set_policy(a->cmd, &d, a->words, a->nr_words);
    if (!rc)
        printf("%s (domain %u): %u key%s written\n", d.name, d.domid,
               a->nr_words, a->nr_words == 1 ? "" : "s");
    return rc;
}

int parse_pin(struct cli_args *a)
{
    return shorthand(a, 2, "pin=1",
                     "pinned (pin=1): paged fully in, then left alone");
}

int parse_unpin(struct cli_args *a)
{
    return shorthand(a, 2, "pin=0", "unpinned (pin=0): shaped again");
}

int parse_soaker(struct cli_args *a)
{
    if (a->argc == 3) {
        if (!strcmp(a->argv[2], "on"))
            return shorthand(a, 3, "soaker=1", "a soaker (soaker=1)");
        if (!strcmp(a->argv[2], "off"))
            return shorthand(a, 3, "soaker=0", "not a soaker (soaker=0)");
        return cli_usage_error(a->cmd, "bad argument '%s': want on or off",
                               a->argv[2]);
    }
    if (a->argc == 2)
        return cli_usage_error(a->cmd, "missing on or off after '%s'",
                               a->argv[1]);
    /* No DOMAIN, or too many arguments: said by shorthand(). */
    return shorthand(a, 3, NULL, NULL);
}

int parse_hibernate(struct cli_args *a)
{
    return shorthand(a, 2, "hibernate-now=1",
                     "hibernation requested (hibernate-now=1)");
}

int parse_resume(struct cli_args *a)
{
    return shorthand(a, 2, "hibernate-now=0",
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
