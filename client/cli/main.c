/*
 * main.c -- the `cairn` executable: everything is in cli_main().
 */
#include "client/cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv, stdout, stderr);
}
