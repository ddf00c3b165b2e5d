/* Work handed to the loop from other threads. The connection is named by
 * id and looked up on the loop thread when the work runs, so a connection
 * that ended meanwhile is simply not found: no pointer to it is ever
 * dereferenced off the loop thread. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

typedef struct tt_post_job {
    tether_ctx *ctx;
    uint64_t id;
    int kind; /* 0: send, 1: close */
    int opcode_or_code;
    size_t len;
    uint8_t data[]; /* payload, or the close reason with its NUL */
} tt_post_job;

static void tt_post_run(void *arg) {
    tt_post_job *job = arg;
    tether_conn *c = tt_ctx_find_conn(job->ctx, job->id);
    if (c && job->kind == 0)
        tether_conn_send(c, (tether_opcode)job->opcode_or_code, job->data, job->len);
    else if (c)
        tether_conn_close(c, job->opcode_or_code, (const char *)job->data);
    free(job);
}

static int tt_post(tether_ctx *ctx, uint64_t id, int kind, int value, const void *data,
                   size_t len) {
    tt_post_job *job = malloc(sizeof *job + len + 1);
    if (!job) return TETHER_E_NOMEM;
    job->ctx = ctx;
    job->id = id;
    job->kind = kind;
    job->opcode_or_code = value;
    job->len = len;
    if (len) memcpy(job->data, data, len);
    job->data[len] = 0;
    int rc = tt_loop_post(ctx->loop, tt_post_run, job);
    if (rc) free(job);
    return rc;
}

int tether_ctx_post_send(tether_ctx *ctx, uint64_t conn_id, tether_opcode opcode, const void *data,
                         size_t len) {
    if (!ctx || (!data && len) || (opcode != TETHER_OP_TEXT && opcode != TETHER_OP_BINARY))
        return TETHER_E_INVAL;
    return tt_post(ctx, conn_id, 0, opcode, data, len);
}

int tether_ctx_post_close(tether_ctx *ctx, uint64_t conn_id, int code, const char *reason) {
    if (!ctx) return TETHER_E_INVAL;
    return tt_post(ctx, conn_id, 1, code, reason, reason ? strlen(reason) : 0);
}
