/* Internal to src/conn: what its files share. */
#ifndef TT_CONN_INT_H
#define TT_CONN_INT_H

#include "conn/conn.h"

int tt_conn_pong(tt_conn *c, const void *data, size_t len);
int tt_conn_put_close(tt_conn *c, int code, const char *reason, size_t reason_len);

/* Ends the connection: records code/reason and fills a CLOSE event.
 * Always returns 1 (an event was produced). */
int tt_conn_end(tt_conn *c, int code, const char *reason, size_t reason_len, int clean, int error,
                tt_conn_ev *ev);
/* Fails the connection for err (RFC 6455 7.1.7): sends a close frame with
 * the code for err and why, then ends. Returns 1 with the CLOSE event. */
int tt_conn_fail(tt_conn *c, int err, const char *why, tt_conn_ev *ev);
/* A close frame arrived: answer it if need be, then end cleanly. */
int tt_conn_on_close_frame(tt_conn *c, tt_conn_ev *ev);

#endif
