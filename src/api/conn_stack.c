/* A connection's transport stack, made only when its first layer comes: a
 * plain connection holds a NULL pointer instead of an empty stack (about
 * 170 bytes less for each idle connection). */
#include "api/api.h"

#include <stdlib.h>

int tt_conn_push_layer(tether_conn *c, tt_layer *l) {
    if (!c->stack && !(c->stack = calloc(1, sizeof *c->stack))) {
        l->ops->free(l);
        return TETHER_E_NOMEM;
    }
    int rc = tt_stack_push(c->stack, l);
    if (rc) l->ops->free(l);
    return rc;
}

tt_layer *tt_conn_layer(const tether_conn *c, const char *name) {
    return c->stack ? tt_stack_find(c->stack, name) : NULL;
}
