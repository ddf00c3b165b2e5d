/* Error codes: their names, and what each means on the wire (close code)
 * or in an HTTP answer (status). One table keeps the three in step. */
#include "tether.h"

#include <stddef.h>

struct tt_error_info {
    int code;
    int close_code;
    int http_status;
    const char *text;
};

static const struct tt_error_info tt_errors[] = {
    {TETHER_OK, 0, 0, "success"},
    {TETHER_E_INVAL, 0, 0, "invalid argument"},
    {TETHER_E_NOMEM, TETHER_CLOSE_INTERNAL_ERROR, 0, "out of memory"},
    {TETHER_E_AGAIN, 0, 0, "more input needed"},
    {TETHER_E_NOSPC, 0, 0, "output buffer too small"},
    {TETHER_E_STATE, 0, 0, "call not valid in this state"},
    {TETHER_E_RANDOM, 0, 0, "system random number generator failed"},
    {TETHER_E_ZLIB, TETHER_CLOSE_INTERNAL_ERROR, 0, "zlib internal error"},
    {TETHER_E_IO, 0, 0, "socket error"},
    {TETHER_E_CONNECT, 0, 0, "connection failed"},
    {TETHER_E_DNS, 0, 0, "name resolution failed"},
    {TETHER_E_TIMEOUT, 0, 0, "timed out"},
    {TETHER_E_BACKPRESSURE, 0, 0, "send queue full"},
    {TETHER_E_CLOSED, 0, 0, "connection closed by peer"},
    {TETHER_E_TLS, 0, 0, "TLS failure"},
    {TETHER_E_TLS_VERIFY, 0, 0, "TLS certificate refused"},
    {TETHER_E_TLS_CONFIG, 0, 0, "TLS certificate, key or CA could not be loaded"},
    {TETHER_E_UNSUPPORTED, 0, 0, "not supported by this build"},
    {TETHER_E_NOFILE, 0, 0, "out of file descriptors"},
    {TETHER_E_HTTP2, 0, 0, "HTTP/2 error"},
    {TETHER_E_PROXY, 0, 0, "the proxy refused the tunnel"},
    {TETHER_E_RSV, TETHER_CLOSE_PROTOCOL_ERROR, 0, "reserved bit set without an extension"},
    {TETHER_E_OPCODE, TETHER_CLOSE_PROTOCOL_ERROR, 0, "reserved opcode"},
    {TETHER_E_MASK, TETHER_CLOSE_PROTOCOL_ERROR, 0, "frame masking wrong for the role"},
    {TETHER_E_LENGTH, TETHER_CLOSE_PROTOCOL_ERROR, 0, "invalid frame length encoding"},
    {TETHER_E_CONTROL_LENGTH, TETHER_CLOSE_PROTOCOL_ERROR, 0,
     "control frame payload over 125 bytes"},
    {TETHER_E_CONTROL_FRAGMENTED, TETHER_CLOSE_PROTOCOL_ERROR, 0, "fragmented control frame"},
    {TETHER_E_CONTINUATION, TETHER_CLOSE_PROTOCOL_ERROR, 0,
     "continuation frame without a message to continue"},
    {TETHER_E_FRAGMENT, TETHER_CLOSE_PROTOCOL_ERROR, 0,
     "new data message inside a fragmented message"},
    {TETHER_E_FRAME_TOO_BIG, TETHER_CLOSE_MESSAGE_TOO_BIG, 0, "frame too big"},
    {TETHER_E_MESSAGE_TOO_BIG, TETHER_CLOSE_MESSAGE_TOO_BIG, 0, "message too big"},
    {TETHER_E_UTF8, TETHER_CLOSE_INVALID_PAYLOAD, 0, "invalid UTF-8"},
    {TETHER_E_CLOSE_CODE, TETHER_CLOSE_PROTOCOL_ERROR, 0, "invalid close code"},
    {TETHER_E_CLOSE_PAYLOAD, TETHER_CLOSE_PROTOCOL_ERROR, 0, "invalid close payload"},
    {TETHER_E_INFLATE, TETHER_CLOSE_INVALID_PAYLOAD, 0, "invalid compressed data"},
    {TETHER_E_HS_MALFORMED, 0, 400, "malformed HTTP message"},
    {TETHER_E_HS_TOO_BIG, 0, 431, "HTTP header too large"},
    {TETHER_E_HS_METHOD, 0, 405, "not a GET request over HTTP/1.1"},
    {TETHER_E_HS_UPGRADE, 0, 400, "not a WebSocket upgrade"},
    {TETHER_E_HS_VERSION, 0, 426, "unsupported WebSocket version"},
    {TETHER_E_HS_KEY, 0, 400, "invalid Sec-WebSocket-Key"},
    {TETHER_E_HS_STATUS, 0, 0, "server did not switch protocols"},
    {TETHER_E_HS_ACCEPT, 0, 0, "wrong Sec-WebSocket-Accept"},
    {TETHER_E_HS_PROTOCOL, 0, 0, "server chose a sub-protocol that was not offered"},
    {TETHER_E_HS_EXTENSION, 0, 400, "invalid or unexpected extension negotiation"},
    {TETHER_E_HS_HTTP_VERSION, 0, 505, "HTTP version not supported"},
};

static const struct tt_error_info *tt_error_find(int code) {
    for (size_t i = 0; i < sizeof tt_errors / sizeof tt_errors[0]; i++)
        if (tt_errors[i].code == code) return &tt_errors[i];
    return NULL;
}

const char *tether_strerror(int code) {
    const struct tt_error_info *e = tt_error_find(code);
    return e ? e->text : "unknown error";
}

int tether_error_close_code(int code) {
    const struct tt_error_info *e = tt_error_find(code);
    return e ? e->close_code : 0;
}

int tether_error_http_status(int code) {
    const struct tt_error_info *e = tt_error_find(code);
    return e ? e->http_status : 0;
}
