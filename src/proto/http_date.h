/* Internal: HTTP dates (RFC 9110 section 5.6.7), written as IMF-fixdate
 * and read in all three forms a recipient must accept. */
#ifndef TT_HTTP_DATE_H
#define TT_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

/* Room for "Sun, 06 Nov 1994 08:49:37 GMT" and its NUL. */
#define TT_HTTP_DATE_SIZE 30

/* Writes t as IMF-fixdate into out (TT_HTTP_DATE_SIZE bytes); "" if t
 * cannot be broken down. */
void tt_http_date_format(time_t t, char out[TT_HTTP_DATE_SIZE]);

/* Reads an IMF-fixdate, an RFC 850 date or an asctime() date (the whole
 * of s). 0 and *t, or TETHER_E_INVAL. */
int tt_http_date_parse(const char *s, time_t *t);

#endif
