/* Internal: masking keys for client frames. */
#ifndef TT_MASK_KEY_H
#define TT_MASK_KEY_H

#include <stdint.h>

/* Writes a fresh 4-byte masking key from the CSPRNG. Keys are cut from a
 * per-thread block of getrandom(2) output, so a frame costs no system call;
 * the block is dropped in a forked child, so parent and child never share
 * keys. Returns 0 or TETHER_E_RANDOM. */
int tt_mask_key(uint8_t key[4]);

#endif
