/* Logging: levels filter, the callback receives each line on the thread
 * running the context, and nothing is written at the default level. */
#include "live_util.h"

typedef struct log_seen {
    int lines, warn, notice, info;
    char all[4096];
} log_seen;

static void on_log(int level, const char *line, void *user) {
    log_seen *s = user;
    s->lines++;
    s->warn += level == TETHER_LOG_WARN;
    s->notice += level == TETHER_LOG_NOTICE;
    s->info += level == TETHER_LOG_INFO;
    size_t n = strlen(s->all);
    snprintf(s->all + n, sizeof s->all - n, "%d:%s\n", level, line);
}

/* One connection that opens and closes cleanly, one refused request (not
 * an upgrade), one connection that fails with a protocol error. */
static void scenario(void) {
    world w;
    w_init(&w, MODE_POLL);
    w_listen(&w, "127.0.0.1", NULL);
    side *c = w_connect(&w, "/log", NULL);
    UNTIL(&w, 3000, c->open);
    tether_conn_close(c->c, 1000, "done");
    UNTIL(&w, 3000, c->closed);
    int fd = raw_connect(w.port);
    const char bad[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(raw_write(fd, bad, sizeof bad - 1), 0);
    w_pump(&w, 200);
    close(fd);
    w_free(&w);
}

static void test_levels(void **state) {
    (void)state;
    log_seen s;
    memset(&s, 0, sizeof s);
    tether_set_log_callback(on_log, &s);
    scenario(); /* default level: nothing */
    assert_int_equal(s.lines, 0);

    assert_int_equal(tether_set_log_level(TETHER_LOG_NOTICE), 0);
    scenario();
    assert_int_equal(s.info, 0); /* above the level */
    assert_true(s.notice >= 3);  /* two opens, at least the client's close */
    assert_non_null(strstr(s.all, "client open"));
    assert_non_null(strstr(s.all, "server open"));
    assert_non_null(strstr(s.all, "closed 1000 \"done\""));

    memset(&s, 0, sizeof s);
    assert_int_equal(tether_set_log_level(TETHER_LOG_DEBUG), 0);
    scenario();
    assert_true(s.info >= 1);
    assert_non_null(strstr(s.all, "refused a request"));
    assert_non_null(strstr(s.all, "HTTP 400"));

    assert_int_equal(tether_set_log_level(-1), TETHER_E_INVAL);
    assert_int_equal(tether_set_log_level(TETHER_LOG_DEBUG + 1), TETHER_E_INVAL);
    assert_int_equal(tether_set_log_level(TETHER_LOG_NONE), 0);
    memset(&s, 0, sizeof s);
    scenario();
    assert_int_equal(s.lines, 0);
    tether_set_log_callback(NULL, NULL);
}

/* Lines at or under level go to s until log_end(). */
static void log_begin(log_seen *s, int level) {
    memset(s, 0, sizeof *s);
    tether_set_log_callback(on_log, s);
    tether_set_log_level(level);
}

static void log_end(void) {
    tether_set_log_level(TETHER_LOG_NONE);
    tether_set_log_callback(NULL, NULL);
}

/* A failed connection is a warning that says why. */
static void test_failure_warns(void **state) {
    (void)state;
    log_seen s;
    log_begin(&s, TETHER_LOG_WARN);
    world w;
    w_init(&w, MODE_CB);
    int port;
    int lfd = raw_listen(&port);
    side *c = w_connect_port(&w, port, "/", NULL);
    close(lfd); /* refused, or reset */
    UNTIL(&w, 5000, c->closed);
    assert_true(s.warn >= 1);
    assert_non_null(strstr(s.all, "client closed 1006"));
    w_free(&w);
    log_end();
}

/* A refusal the application chose is told at INFO, not as a failure. */
static void reject_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (tether_event_type_of(ev) == TETHER_EV_REQUEST)
        assert_int_equal(tether_conn_reject(s->c, 403, "no"), 0);
}

static void test_rejection_is_info(void **state) {
    (void)state;
    log_seen s;
    log_begin(&s, TETHER_LOG_INFO);
    world w;
    w_init(&w, MODE_POLL);
    w.hook = reject_hook;
    w_listen(&w, "127.0.0.1", NULL);
    side *c = w_connect(&w, "/", NULL);
    UNTIL(&w, 3000, c->closed);
    w_pump(&w, 100);
    assert_int_equal(c->status, 403);
    const char *line = strstr(s.all, "server closed");
    assert_non_null(line);
    assert_non_null(strstr(line, "rejected with HTTP 403"));
    /* the line's level, written before it as "N:" */
    const char *start = line;
    while (start > s.all && start[-1] != '\n')
        start--;
    assert_int_equal(atoi(start), TETHER_LOG_INFO);
    w_free(&w);
    log_end();
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_failure_warns),
        cmocka_unit_test(test_rejection_is_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
