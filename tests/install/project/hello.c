/* hello.c -- links libcairn and calls its library-wide entry points. */
#include <stdio.h>
#include <string.h>

#include <cairn/cairn.h>

int main(void)
{
    const char *v = cairn_version();

    if (strcmp(cairn_strerror(CAIRN_ERR_TIMEOUT), "timeout") != 0) {
        fprintf(stderr, "unexpected error name\n");
        return 1;
    }
    printf("linked libcairn %s\n", v);
    return strcmp(v, "0.1.0") == 0 ? 0 : 1;
}
