/* The frozen request (request.h): one block of offsets, fields and bytes. */
#include "proto/request.h"

#include <stdlib.h>
#include <string.h>

#include "tether.h"
#include "proto/http_token.h"

struct tt_request {
    uint32_t nfields;
    uint32_t method, path, query; /* offsets into the bytes (path, query 0: none) */
    tt_http_field fields[];       /* then the head's bytes */
};

static const char *tt_request_bytes(const tt_request *r) {
    return (const char *)(r->fields + r->nfields);
}

tt_request *tt_request_freeze(const tt_http_head *h, uint32_t path, uint32_t query) {
    size_t n = tt_http_head_count(h);
    if (!tt_http_head_done(h) || !h->buf) return NULL;
    size_t table = n * sizeof(tt_http_field);
    tt_request *r = malloc(sizeof *r + table + h->len);
    if (!r) return NULL;
    r->nfields = (uint32_t)n;
    r->method = h->method;
    r->path = path;
    r->query = query;
    if (n) memcpy(r->fields, h->fields, table);
    memcpy((char *)r->fields + table, h->buf, h->len);
    return r;
}

const char *tt_request_method(const tt_request *r) {
    return r ? tt_request_bytes(r) + r->method : NULL;
}

const char *tt_request_path(const tt_request *r) {
    return r && r->path ? tt_request_bytes(r) + r->path : NULL;
}

const char *tt_request_query(const tt_request *r) {
    return r && r->query ? tt_request_bytes(r) + r->query : NULL;
}

const char *tt_request_header(const tt_request *r, const char *name) {
    if (!r || !name) return NULL;
    const char *b = tt_request_bytes(r);
    for (uint32_t i = 0; i < r->nfields; i++) {
        const char *f = b + r->fields[i].name;
        if (tt_http_eq_nocase(f, strlen(f), name)) return b + r->fields[i].lookup;
    }
    return NULL;
}

size_t tt_request_header_count(const tt_request *r) {
    return r ? r->nfields : 0;
}

int tt_request_header_at(const tt_request *r, size_t i, const char **name, const char **value) {
    if (!r || i >= r->nfields) return TETHER_E_INVAL;
    const char *b = tt_request_bytes(r);
    if (name) *name = b + r->fields[i].name;
    if (value) *value = b + r->fields[i].value;
    return 0;
}
