/* Masking keys from the per-thread pool: fresh per frame, across pool
 * refills, and never shared between a parent and its forked child. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/mask_key.h"
#include "tether.h"

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* 20,000 keys span about 80 pool refills; among random 32-bit values the
 * expected number of equal pairs is about 0.05. */
static void test_keys_are_fresh(void **state) {
    (void)state;
    enum { N = 20000 };
    uint32_t *k = malloc(N * sizeof *k);
    assert_non_null(k);
    for (int i = 0; i < N; i++) {
        uint8_t key[4];
        assert_int_equal(tt_mask_key(key), 0);
        memcpy(&k[i], key, 4);
    }
    qsort(k, N, sizeof *k, cmp_u32);
    int dup = 0;
    for (int i = 1; i < N; i++)
        dup += k[i] == k[i - 1];
    assert_true(dup < 3);
    free(k);
}

/* Without the fork handler the child would hand out exactly the key the
 * parent hands out next. */
static void test_fork_does_not_share_keys(void **state) {
    (void)state;
    uint8_t first[4], parent_next[4], child_key[4];
    assert_int_equal(tt_mask_key(first), 0); /* the pool is now filled */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t k[4];
        int ok = tt_mask_key(k) == 0 && write(fds[1], k, 4) == 4;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(read(fds[0], child_key, 4), 4);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(tt_mask_key(parent_next), 0);
    assert_memory_not_equal(child_key, parent_next, 4);
    close(fds[0]);
    close(fds[1]);
}

/* The public writer uses the pool too: consecutive client frames carry
 * different keys. */
static void test_client_frames_differ(void **state) {
    (void)state;
    uint8_t a[16], b[16];
    size_t na, nb;
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, 0, "x", 1, a, sizeof a, &na), 0);
    assert_int_equal(
        tether_frame_write(TETHER_ROLE_CLIENT, TETHER_OP_TEXT, 1, 0, "x", 1, b, sizeof b, &nb), 0);
    assert_int_equal(na, 7);
    assert_memory_not_equal(a + 2, b + 2, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_are_fresh),
        cmocka_unit_test(test_fork_does_not_share_keys),
        cmocka_unit_test(test_client_frames_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
