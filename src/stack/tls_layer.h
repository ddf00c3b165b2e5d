/* TLS as a layer of the transport stack, over a session of net/tls.h. */
#ifndef TT_STACK_TLS_LAYER_H
#define TT_STACK_TLS_LAYER_H

#include "net/tls.h"
#include "stack/layer.h"

/* A layer owning session (freed with the layer, or here on failure);
 * NULL when out of memory. */
tt_layer *tt_tls_layer_new(tt_tls *session);
/* The session under a layer made by tt_tls_layer_new(). */
tt_tls *tt_tls_layer_session(tt_layer *l);

#endif
