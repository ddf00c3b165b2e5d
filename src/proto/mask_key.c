/* Masking keys (RFC 6455 5.3: a fresh, unpredictable key per frame).
 *
 * One getrandom(2) per frame made the system call the largest cost of a
 * client sending small messages (78% of the load generator's syscall time
 * at 100 connections x 16 in flight). Every key here is still CSPRNG output
 * used once: the kernel's bytes are only fetched 1 KiB at a time. */
#include "proto/mask_key.h"

#include <pthread.h>
#include <string.h>

#include "tether.h"

#define TT_KEY_POOL 1024

static _Thread_local uint8_t tt_pool[TT_KEY_POOL];
static _Thread_local size_t tt_pool_left;
static pthread_once_t tt_fork_once = PTHREAD_ONCE_INIT;

/* The child of fork() has a copy of the parent's unused keys: drop them. It
 * has only the forking thread, whose pool is the one cleared here. */
static void tt_pool_forget(void) {
    tt_pool_left = 0;
}

static void tt_register_fork_handler(void) {
    pthread_atfork(NULL, NULL, tt_pool_forget);
}

int tt_mask_key(uint8_t key[4]) {
    pthread_once(&tt_fork_once, tt_register_fork_handler);
    if (tt_pool_left < 4) {
        if (tether_random_bytes(tt_pool, sizeof tt_pool) != 0) return TETHER_E_RANDOM;
        tt_pool_left = sizeof tt_pool;
    }
    tt_pool_left -= 4;
    memcpy(key, tt_pool + tt_pool_left, 4);
    memset(tt_pool + tt_pool_left, 0, 4); /* a used key does not linger */
    return 0;
}
