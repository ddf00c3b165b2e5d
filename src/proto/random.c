/* The CSPRNG behind masking keys and handshake keys: getrandom(2), which
 * blocks only until the kernel pool is first seeded and never fails short
 * for requests this small except on signals, which we retry. */
#include "tether.h"

#include <errno.h>
#include <sys/random.h>

int tether_random_bytes(void *buf, size_t len) {
    if (!buf && len) return TETHER_E_INVAL;
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return TETHER_E_RANDOM;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
