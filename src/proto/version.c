/* The run-time version, so a program can tell which library it loaded. */
#include "tether.h"

const char *tether_version(void) {
    return TETHER_VERSION_STRING;
}
