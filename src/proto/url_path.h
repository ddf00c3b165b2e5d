/* Internal: a request path made safe to look up under a directory. */
#ifndef TT_URL_PATH_H
#define TT_URL_PATH_H

#include <stddef.h>

/* Decodes the path of a request target (from its '/' up to any '?') for
 * use as a name relative to a directory: percent-escapes decoded, empty
 * segments dropped, segments joined by single '/', no leading '/'. So that
 * no name leaves the directory, it refuses (TETHER_E_INVAL) a path that
 * does not start with '/', a bad escape, an escaped '/' or NUL, and "."
 * and ".." segments (escaped or not). Returns the length written to out
 * (cap bytes, NUL-terminated; TETHER_E_NOSPC if it does not fit), and
 * in *dir whether the path ends with '/'. */
int tt_url_path_decode(const char *path, char *out, size_t cap, int *dir);

#endif
