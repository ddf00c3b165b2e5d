/* HTTP dates. Writing: always IMF-fixdate, in GMT. Reading: RFC 9110
 * 5.6.7 asks a recipient to accept the two obsolete forms as well:
 *   Sun, 06 Nov 1994 08:49:37 GMT    IMF-fixdate
 *   Sunday, 06-Nov-94 08:49:37 GMT   RFC 850 (two-digit year)
 *   Sun Nov  6 08:49:37 1994         asctime()
 * The day name is not checked against the date (it is redundant). */
#include "proto/http_date.h"

#include "tether.h"

#include <stdio.h>
#include <string.h>

static const char tt_months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void tt_http_date_format(time_t t, char out[TT_HTTP_DATE_SIZE]) {
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct tm tm;
    out[0] = '\0';
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) return;
    char buf[64]; /* the compiler cannot know the fields' ranges */
    int n = snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
                     tm.tm_mday, tt_months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    if (n == TT_HTTP_DATE_SIZE - 1) memcpy(out, buf, TT_HTTP_DATE_SIZE);
}

static int tt_http_month(const char *m) {
    for (int i = 0; i < 12; i++)
        if (strcmp(m, tt_months[i]) == 0) return i;
    return -1;
}

/* Checks the fields and turns them into seconds since the epoch (GMT). */
static int tt_http_date_make(int year, int mon, int day, int h, int m, int s, time_t *t) {
    if (mon < 0 || day < 1 || day > 31 || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60 ||
        year < 1970 || year > 9999)
        return TETHER_E_INVAL;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon,
                    .tm_mday = day,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = s};
    time_t v = timegm(&tm);
    /* timegm() carries "31 Feb" into March: such a day does not exist */
    struct tm back;
    if (v == (time_t)-1 || !gmtime_r(&v, &back) || back.tm_mday != day || back.tm_mon != mon ||
        back.tm_year != year - 1900)
        return TETHER_E_INVAL;
    *t = v;
    return 0;
}

int tt_http_date_parse(const char *s, time_t *t) {
    char wd[10], mon[4];
    int day, year, h, m, sec, end = -1;
    if (!s || !t || strlen(s) > 40) return TETHER_E_INVAL;
    if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd, &day, mon, &year, &h, &m,
               &sec, &end) == 7 &&
        end == (int)strlen(s) && strlen(s) == 29)
        return tt_http_date_make(year, tt_http_month(mon), day, h, m, sec, t);
    end = -1;
    if (sscanf(s, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd, &day, mon, &year, &h, &m,
               &sec, &end) == 7 &&
        end == (int)strlen(s))
        /* RFC 9110: a two-digit year more than 50 years ahead is in the past */
        return tt_http_date_make(year < 70 ? 2000 + year : 1900 + year, tt_http_month(mon), day, h,
                                 m, sec, t);
    end = -1;
    if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon, &day, &h, &m, &sec, &year,
               &end) == 7 &&
        end == (int)strlen(s))
        return tt_http_date_make(year, tt_http_month(mon), day, h, m, sec, t);
    return TETHER_E_INVAL;
}
