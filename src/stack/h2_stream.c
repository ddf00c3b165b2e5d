/* The parts of an HTTP/2 stream (h2.h) the other h2 files share: the list
 * of streams with news for their reader, freeing, what a stream owes. */
#include "stack/h2_int.h"

#include <stdlib.h>

void tt_h2_mark(tt_h2_stream *s, unsigned what) {
    tt_h2 *h = s->h2;
    if (!h || (!s->user && what != TT_H2_NEW)) return;
    if (!s->ready) {
        s->next_ready = NULL;
        if (h->ready_tail)
            h->ready_tail->next_ready = s;
        else
            h->ready_head = s;
        h->ready_tail = s;
    }
    s->ready |= what;
}

void tt_h2_unmark(tt_h2_stream *s) {
    tt_h2 *h = s->h2;
    if (!s->ready || !h) return;
    tt_h2_stream **pp = &h->ready_head, *prev = NULL;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->next_ready;
    }
    if (*pp) *pp = s->next_ready;
    if (h->ready_tail == s) h->ready_tail = prev;
    s->ready = 0;
}

/* Takes s out of its session's list (it stays allocated). */
void tt_h2_unlink(tt_h2_stream *s) {
    tt_h2 *h = s->h2;
    if (!h) return;
    tt_h2_unmark(s);
    for (tt_h2_stream **pp = &h->streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            h->nstreams--;
            break;
        }
}

void tt_h2_stream_free(tt_h2_stream *s) {
    tt_h2_unlink(s);
    tt_h2_request_free(s);
    tt_outbuf_free(&s->in);
    tt_outbuf_free(&s->raw);
    tt_outbuf_free(&s->out);
    free(s);
}

void tt_h2_request_free(tt_h2_stream *s) {
    tt_strbuf_free(&s->fields);
    tt_strbuf_free(&s->cookie);
    free(s->method);
    free(s->path);
    free(s->authority);
    free(s->protocol);
    s->method = s->path = s->authority = s->protocol = NULL;
}

size_t tt_h2_stream_owed(const tt_h2_stream *s) {
    return tt_outbuf_len(&s->out) + tt_outbuf_len(&s->raw);
}
