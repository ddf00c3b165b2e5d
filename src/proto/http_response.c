/* Response heads for plain HTTP requests, and the reason phrases every
 * response tether writes uses (the WebSocket handshake's refusals too). */
#include "proto/http_response.h"
#include "proto/http_date.h"

#include <stdio.h>

const char *tt_http_reason(int status) {
    static const struct {
        int status;
        const char *phrase;
    } phrases[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {421, "Misdirected Request"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    static const char *const classes[] = {"Informational", "Success", "Redirection", "Client Error",
                                          "Server Error"};
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (phrases[i].status == status) return phrases[i].phrase;
    return status >= 100 && status <= 599 ? classes[status / 100 - 1] : "Unknown";
}

int tt_http_status_bodiless(int status) {
    return status < 200 || status == 204 || status == 304;
}

/* RFC 9110 6.6.1: when the response was made. */
static void tt_http_add_date(tt_strbuf *b, time_t now) {
    char date[TT_HTTP_DATE_SIZE];
    tt_http_date_format(now, date);
    if (date[0]) tt_strbuf_add_field(b, "Date", date);
}

void tt_http_response_head(tt_strbuf *b, int status, const tt_strbuf *extra, int64_t length,
                           int close, time_t now) {
    tt_strbuf_adds(b, "HTTP/1.1 ");
    tt_strbuf_addu(b, (unsigned long)status);
    tt_strbuf_add(b, " ", 1);
    tt_strbuf_adds(b, tt_http_reason(status));
    tt_strbuf_add(b, "\r\n", 2);
    tt_http_add_date(b, now);
    if (extra && extra->len) tt_strbuf_add(b, tt_strbuf_str(extra), extra->len);
    if (!tt_http_status_bodiless(status)) {
        if (length >= 0) {
            tt_strbuf_adds(b, "Content-Length: ");
            tt_strbuf_addu(b, (unsigned long)length);
            tt_strbuf_add(b, "\r\n", 2);
        } else if (length == -1) {
            tt_strbuf_adds(b, "Transfer-Encoding: chunked\r\n");
        } /* else: the body ends when the connection does (HTTP/1.0) */
    }
    if (close) tt_strbuf_adds(b, "Connection: close\r\n");
    tt_strbuf_add(b, "\r\n", 2);
}
