/* The run-time version, so a program can tell which library it loaded. The
 * string is the project version from CMakeLists.txt, through the generated
 * tether_version.h; tether_version() and the header macros cannot differ
 * within one build. */
#include "tether.h"

const char *tether_version(void) {
    return TETHER_VERSION_STRING;
}
