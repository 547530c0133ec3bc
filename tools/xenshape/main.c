/*
 * main.c - main() of the xenshape command: the command line parsed
 * (cli_parse(), xenshape.c), then done (cli_run()).  It is a file of its
 * own so that everything else of the command can be linked into the
 * fuzzer of its parsing (tests/fuzz/fuzz_cli_args.c), which brings its
 * own main().
 */

#include "xenshape_cli.h"

int main(int argc, char **argv)
{
    struct cli_args a;
    int rc;

    rc = cli_parse(argc, argv, &a);
    if (rc)
        return rc;
    return cli_run(&a);
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
