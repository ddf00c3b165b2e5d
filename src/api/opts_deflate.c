/* permessage-deflate options: preferences checked for range here, offered
 * or negotiated when a connection is made (conn_deflate.c). */
#include "api/api.h"

#include <string.h>

/* Windows of 4 KiB and memLevel 5: a compressing connection holds about
 * 48 KB instead of 109 KB with zlib's 32 KiB / 8 (README, "Compression"). */
void tt_deflate_opts_defaults(tt_deflate_opts *d) {
    memset(d, 0, sizeof *d);
    d->server_bits = 12;
    d->client_bits = 12;
    d->level = 6;
    d->mem_level = 5;
    d->threshold = 64;
}

int tether_opts_set_deflate(tether_opts *o, int on) {
    if (!o || (on != 0 && on != 1)) return TETHER_E_INVAL;
    o->deflate.on = on;
    return 0;
}

int tether_opts_set_deflate_no_context_takeover(tether_opts *o, int server, int client) {
    if (!o || (server != 0 && server != 1) || (client != 0 && client != 1)) return TETHER_E_INVAL;
    o->deflate.server_nct = server;
    o->deflate.client_nct = client;
    return 0;
}

static int tt_bits_ok(int b) {
    return b == 0 || (b >= 9 && b <= 15);
}

int tether_opts_set_deflate_window_bits(tether_opts *o, int server_bits, int client_bits) {
    if (!o || !tt_bits_ok(server_bits) || !tt_bits_ok(client_bits)) return TETHER_E_INVAL;
    o->deflate.server_bits = server_bits;
    o->deflate.client_bits = client_bits;
    o->deflate.bits_set = 1;
    return 0;
}

int tether_opts_set_deflate_level(tether_opts *o, int level) {
    if (!o || level < 0 || level > 9) return TETHER_E_INVAL;
    o->deflate.level = level;
    return 0;
}

int tether_opts_set_deflate_mem_level(tether_opts *o, int mem_level) {
    if (!o || mem_level < 1 || mem_level > 9) return TETHER_E_INVAL;
    o->deflate.mem_level = mem_level;
    return 0;
}

int tether_opts_set_deflate_threshold(tether_opts *o, size_t bytes) {
    if (!o) return TETHER_E_INVAL;
    o->deflate.threshold = bytes;
    return 0;
}
