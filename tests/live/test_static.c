/* Files as HTTP responses: tether_conn_respond_file() (a range of a file,
 * sent with sendfile(2) to a client that reads slowly, in order with
 * pipelined requests, its descriptor owned as documented) and
 * tether_conn_serve_static() (a document root: types, index pages,
 * redirects, conditional requests, and no way out of the root through
 * "..", escapes or symbolic links). The client is a raw socket. */
#include "live_util.h"

#include <fcntl.h>
#include <sys/stat.h>

/* ---- a temporary document root --------------------------------------------- */

static char root[64];

static void put_file(const char *name, const void *data, size_t len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_text(const char *name, const char *text) {
    put_file(name, text, strlen(text));
}

#define BIG_LEN (8u << 20)

static void make_root(void) {
    snprintf(root, sizeof root, "/tmp/tether-static-XXXXXX");
    assert_non_null(mkdtemp(root));
    char path[256];
    const char *dirs[] = {"sub", "nodir"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        assert_int_equal(mkdir(path, 0755), 0);
    }
    put_text("index.html", "<p>root</p>");
    put_text("a.txt", "hello");
    put_text("sub/index.html", "<p>sub</p>");
    put_text("data.BIN", "\x01\x02");
    uint8_t *big = lu_pattern(BIG_LEN, 7);
    put_file("big.bin", big, BIG_LEN);
    free(big);
    /* links that stay inside the root are refused too: none is followed */
    snprintf(path, sizeof path, "%s/link.txt", root);
    assert_int_equal(symlink("a.txt", path), 0);
    snprintf(path, sizeof path, "%s/ldir", root);
    assert_int_equal(symlink("sub", path), 0);
    snprintf(path, sizeof path, "%s/fifo", root);
    assert_int_equal(mkfifo(path, 0644), 0);
}

static void remove_root(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- the server ----------------------------------------------------------- */

/* Serves root to every request. */
static void serve_root(world *w, tether_event *ev, side *s) {
    (void)w;
    if (s && tether_event_type_of(ev) == TETHER_EV_HTTP)
        assert_int_equal(tether_conn_serve_static(s->c, root, NULL), 0);
}

static void static_world(world *w, int mode, lu_hook hook) {
    w_init(w, mode);
    w->hook = hook;
    tether_opts *o = tether_opts_new();
    assert_non_null(o);
    assert_int_equal(tether_opts_set_http(o, 1), 0);
    w_listen(w, "127.0.0.1", o);
    tether_opts_free(o);
}

/* ---- a raw client ------------------------------------------------------------ */

typedef struct resp {
    char *buf;
    size_t len, cap;
    int eof;
} resp;

static void resp_poll(resp *r, int fd) {
    for (;;) {
        if (r->cap - r->len < 65536) {
            r->cap = r->cap ? r->cap * 2 : 131072;
            r->buf = realloc(r->buf, r->cap);
            assert_non_null(r->buf);
        }
        ssize_t n = recv(fd, r->buf + r->len, r->cap - 1 - r->len, MSG_DONTWAIT);
        if (n > 0) {
            r->len += (size_t)n;
            r->buf[r->len] = 0;
            continue;
        }
        if (n == 0) r->eof = 1;
        return;
    }
}

/* Sends one request with "Connection: close" (extra: more header lines)
 * and reads the whole response. The caller frees r.buf. */
static resp fetch(world *w, const char *method, const char *target, const char *extra) {
    int fd = raw_connect(w->port);
    assert_true(fd >= 0);
    char q[8192];
    int n = snprintf(q, sizeof q, "%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                     method, target, extra ? extra : "");
    assert_true(n > 0 && (size_t)n < sizeof q);
    assert_int_equal(raw_write(fd, q, (size_t)n), 0);
    resp r = {0};
    UNTIL(w, 10000, (resp_poll(&r, fd), r.eof));
    close(fd);
    return r;
}

static int status_of(const resp *r) {
    int st = 0;
    return sscanf(r->buf, "HTTP/1.1 %d ", &st) == 1 ? st : -1;
}

static int fetch_status(world *w, const char *method, const char *target, const char *extra) {
    resp r = fetch(w, method, target, extra);
    int st = status_of(&r);
    free(r.buf);
    return st;
}

/* A header's value in a response, copied into out ("" when absent). */
static const char *header_of(const resp *r, const char *name, char *out, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strstr(r->buf, key), *end = strstr(r->buf, "\r\n\r\n");
    out[0] = 0;
    if (p && (!end || p < end)) {
        p += strlen(key);
        size_t n = strcspn(p, "\r");
        if (n >= cap) n = cap - 1;
        memcpy(out, p, n);
        out[n] = 0;
    }
    return out;
}

static const char *body_of(const resp *r) {
    const char *end = strstr(r->buf, "\r\n\r\n");
    assert_non_null(end);
    return end + 4;
}

/* ---- the document root -------------------------------------------------------- */

static void test_files(void **state) {
    world w;
    static_world(&w, MODE(state), serve_root);
    char v[256];
    resp r = fetch(&w, "GET", "/", NULL);
    assert_int_equal(status_of(&r), 200);
    assert_string_equal(header_of(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    assert_string_equal(header_of(&r, "Content-Length", v, sizeof v), "11");
    assert_true(header_of(&r, "ETag", v, sizeof v)[0] == '"');
    assert_true(strstr(header_of(&r, "Last-Modified", v, sizeof v), " GMT") != NULL);
    assert_string_equal(body_of(&r), "<p>root</p>");
    free(r.buf);
    r = fetch(&w, "GET", "/a.txt?cache=no", NULL);
    assert_string_equal(header_of(&r, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
    assert_string_equal(body_of(&r), "hello");
    free(r.buf);
    r = fetch(&w, "GET", "/data.BIN", NULL); /* unknown extension, any case */
    assert_string_equal(header_of(&r, "Content-Type", v, sizeof v), "application/octet-stream");
    free(r.buf);
    r = fetch(&w, "GET", "/sub/", NULL);
    assert_string_equal(body_of(&r), "<p>sub</p>");
    free(r.buf);
    r = fetch(&w, "GET", "/%73ub//index.html", NULL); /* escapes and empty segments */
    assert_string_equal(body_of(&r), "<p>sub</p>");
    free(r.buf);
    /* HEAD: the same head, Content-Length included, and no body */
    r = fetch(&w, "HEAD", "/a.txt", NULL);
    assert_int_equal(status_of(&r), 200);
    assert_string_equal(header_of(&r, "Content-Length", v, sizeof v), "5");
    assert_string_equal(body_of(&r), "");
    free(r.buf);
    w_free(&w);
}

static void test_redirects_and_refusals(void **state) {
    world w;
    static_world(&w, MODE(state), serve_root);
    char v[256];
    resp r = fetch(&w, "GET", "/sub", NULL);
    assert_int_equal(status_of(&r), 301);
    assert_string_equal(header_of(&r, "Location", v, sizeof v), "/sub/");
    free(r.buf);
    r = fetch(&w, "GET", "/sub?x=1", NULL);
    assert_string_equal(header_of(&r, "Location", v, sizeof v), "/sub/?x=1");
    free(r.buf);
    r = fetch(&w, "POST", "/a.txt", "Content-Length: 0\r\n");
    assert_int_equal(status_of(&r), 405);
    assert_string_equal(header_of(&r, "Allow", v, sizeof v), "GET, HEAD");
    free(r.buf);
    static const struct {
        const char *target;
        int status;
    } cases[] = {
        {"/missing", 404},
        {"/nodir/", 404},
        {"/a.txt/", 404},
        {"/link.txt", 404},
        {"/ldir/", 404},
        {"/ldir/index.html", 404},
        {"/fifo", 404},
        {"/../a.txt", 400},
        {"/sub/../a.txt", 400},
        {"/%2e%2e/a.txt", 400},
        {"/sub/%2E%2e/a.txt", 400},
        {"/./a.txt", 400},
        {"/sub%2findex.html", 400},
        {"/a.txt%00", 400},
        {"/%zz", 400},
        {"/a%2", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = fetch_status(&w, "GET", cases[i].target, NULL);
        if (st != cases[i].status)
            fail_msg("%s: %d, expected %d", cases[i].target, st, cases[i].status);
    }
    /* a name longer than any path: 414 */
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    assert_int_equal(fetch_status(&w, "GET", longp, NULL), 414);
    /* an unreadable file (root reads everything: then 200) */
    char path[256];
    snprintf(path, sizeof path, "%s/secret.txt", root);
    chmod(path, 0644); /* from the other mode's run */
    put_text("secret.txt", "no");
    assert_int_equal(chmod(path, 0), 0);
    assert_int_equal(fetch_status(&w, "GET", "/secret.txt", NULL), geteuid() == 0 ? 200 : 403);
    w_free(&w);
}

/* RFC 9110 13.1: If-None-Match first, If-Modified-Since only without it. */
static void test_conditional(void **state) {
    world w;
    static_world(&w, MODE(state), serve_root);
    char etag[128], lm[128], h[512];
    resp r = fetch(&w, "GET", "/a.txt", NULL);
    header_of(&r, "ETag", etag, sizeof etag);
    header_of(&r, "Last-Modified", lm, sizeof lm);
    free(r.buf);
    snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
    r = fetch(&w, "GET", "/a.txt", h);
    assert_int_equal(status_of(&r), 304);
    char v[128];
    assert_string_equal(header_of(&r, "ETag", v, sizeof v), etag);
    assert_string_equal(body_of(&r), "");
    free(r.buf);
    snprintf(h, sizeof h, "If-None-Match: \"x\", W/%s\r\n", etag);
    assert_int_equal(fetch_status(&w, "GET", "/a.txt", h), 304);
    assert_int_equal(fetch_status(&w, "HEAD", "/a.txt", "If-None-Match: *\r\n"), 304);
    assert_int_equal(fetch_status(&w, "GET", "/a.txt", "If-None-Match: \"other\"\r\n"), 200);
    snprintf(h, sizeof h, "If-Modified-Since: %s\r\n", lm);
    assert_int_equal(fetch_status(&w, "GET", "/a.txt", h), 304);
    /* a non-matching tag wins over a date that would match */
    snprintf(h, sizeof h, "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lm);
    assert_int_equal(fetch_status(&w, "GET", "/a.txt", h), 200);
    assert_int_equal(
        fetch_status(&w, "GET", "/a.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
        200);
    /* the obsolete forms are read too */
    assert_int_equal(
        fetch_status(&w, "GET", "/a.txt", "If-Modified-Since: Friday, 31-Dec-60 23:59:59 GMT\r\n"),
        304);
    assert_int_equal(
        fetch_status(&w, "GET", "/a.txt", "If-Modified-Since: Fri Dec 31 23:59:59 2060\r\n"), 304);
    assert_int_equal(fetch_status(&w, "GET", "/a.txt", "If-Modified-Since: yesterday\r\n"), 200);
    w_free(&w);
}

/* ---- files as bodies ------------------------------------------------------------ */

static void expect_big_body(const resp *r, size_t at) {
    uint8_t *big = lu_pattern(BIG_LEN, 7);
    assert_true(r->len >= at + BIG_LEN);
    assert_memory_equal(r->buf + at, big, BIG_LEN);
    free(big);
}

/* 8 MiB to a client with a small receive buffer that reads in bursts: the
 * socket fills many times, sendfile resumes where it stopped, and the
 * pipelined request behind it is answered after the whole file. */
static void test_big_file_slow_reader(void **state) {
    world w;
    static_world(&w, MODE(state), serve_root);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 16384;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char q[] = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    resp r = {0};
    int bursts = 0;
    uint64_t end = lu_now_ms() + 20000;
    while (!r.eof) {
        if (lu_now_ms() > end) fail_msg("timed out after %zu bytes", r.len);
        w_step(&w, 5);
        resp_poll(&r, fd);
        bursts++;
    }
    close(fd);
    const char *body = strstr(r.buf, "\r\n\r\n");
    assert_non_null(body);
    size_t at = (size_t)(body + 4 - r.buf);
    assert_non_null(strstr(r.buf, "Content-Length: 8388608\r\n"));
    expect_big_body(&r, at);
    /* then the second response, whole */
    const char *second = r.buf + at + BIG_LEN;
    assert_true(strncmp(second, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(second, "\r\n\r\nhello"));
    assert_true(bursts > 2);
    free(r.buf);
    w_free(&w);
}

/* What the respond_file hook answers with, per path. */
static int open_in_root(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static int fd_open(int fd) {
    return fcntl(fd, F_GETFD) != -1;
}

/* /range: bytes 1..3 of a.txt; /bad: every refused argument first. */
static void respond_file_hook(world *w, tether_event *ev, side *s) {
    (void)w;
    if (!s || tether_event_type_of(ev) != TETHER_EV_HTTP) return;
    const char *path = tether_conn_path(s->c);
    int fd = open_in_root("a.txt");
    if (strcmp(path, "/bad") == 0) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(tether_conn_respond_file(s->c, 200, NULL, p[0], 0, -1), TETHER_E_INVAL);
        close(p[0]);
        close(p[1]);
        assert_int_equal(tether_conn_respond_file(NULL, 200, NULL, fd, 0, -1), TETHER_E_INVAL);
        assert_int_equal(tether_conn_respond_file(s->c, 200, NULL, -1, 0, -1), TETHER_E_INVAL);
        assert_int_equal(tether_conn_respond_file(s->c, 200, NULL, fd, 6, -1), TETHER_E_INVAL);
        assert_int_equal(tether_conn_respond_file(s->c, 200, NULL, fd, 2, 4), TETHER_E_INVAL);
        assert_int_equal(tether_conn_respond_file(s->c, 200, NULL, fd, -1, 1), TETHER_E_INVAL);
        assert_int_equal(tether_conn_respond_file(s->c, 99, NULL, fd, 0, 1), TETHER_E_INVAL);
        assert_true(fd_open(fd)); /* refused: still ours */
        assert_int_equal(tether_conn_respond_file(s->c, 200, "text/plain", fd, 0, 0), 0);
        assert_false(fd_open(fd)); /* nothing to send: closed at once */
        return;
    }
    if (strcmp(path, "/range") == 0) {
        assert_int_equal(tether_conn_respond_file(s->c, 206, "text/plain", fd, 1, 3), 0);
        /* the file is the body: no more writes, no second answer */
        assert_int_equal(tether_conn_respond_write(s->c, "x", 1), TETHER_E_STATE);
        assert_int_equal(tether_conn_respond_end(s->c), TETHER_E_STATE);
        assert_int_equal(tether_conn_respond(s->c, 200, NULL, NULL, 0), TETHER_E_STATE);
        return;
    }
    /* HEAD: the head only, and the descriptor closed at once */
    assert_int_equal(tether_conn_respond_file(s->c, 200, "text/plain", fd, 0, -1), 0);
    if (strcmp(tether_conn_method(s->c), "HEAD") == 0) assert_false(fd_open(fd));
}

static void test_respond_file(void **state) {
    world w;
    static_world(&w, MODE(state), respond_file_hook);
    char v[64];
    resp r = fetch(&w, "GET", "/range", NULL);
    assert_int_equal(status_of(&r), 206);
    assert_string_equal(header_of(&r, "Content-Length", v, sizeof v), "3");
    assert_string_equal(body_of(&r), "ell");
    free(r.buf);
    r = fetch(&w, "GET", "/bad", NULL);
    assert_int_equal(status_of(&r), 200);
    assert_string_equal(header_of(&r, "Content-Length", v, sizeof v), "0");
    free(r.buf);
    r = fetch(&w, "HEAD", "/whole", NULL);
    assert_string_equal(header_of(&r, "Content-Length", v, sizeof v), "5");
    assert_string_equal(body_of(&r), "");
    free(r.buf);
    w_free(&w);
}

/* Open descriptors of this process. */
static int count_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fd_open(fd);
    return n;
}

/* A client that leaves in the middle of a file, and a server that closes
 * one: the file's descriptor goes with the connection. */
static void test_file_dropped(void **state) {
    int before = count_fds();
    world w;
    static_world(&w, MODE(state), serve_root);
    int fd = raw_connect(w.port);
    const char q[] = "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    resp r = {0};
    UNTIL(&w, 5000, (resp_poll(&r, fd), r.len > 65536));
    close(fd);
    free(r.buf);
    UNTIL(&w, 5000, w.nsides == 1 && w.sides[0].closed == 1);
    assert_int_not_equal(w.sides[0].error, 0);
    /* the application closes a connection while its file is being sent */
    fd = raw_connect(w.port);
    assert_int_equal(raw_write(fd, q, sizeof q - 1), 0);
    r = (resp){0};
    UNTIL(&w, 5000, (resp_poll(&r, fd), r.len > 65536));
    assert_int_equal(tether_conn_close(w.sides[1].c, 0, NULL), 0);
    UNTIL(&w, 5000, (resp_poll(&r, fd), r.eof));
    assert_true(r.len < BIG_LEN); /* cut short: the client can tell */
    free(r.buf);
    close(fd);
    UNTIL(&w, 5000, w.sides[1].closed == 1);
    w_free(&w);
    assert_int_equal(count_fds(), before);
}

static int setup(void **state) {
    (void)state;
    make_root();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    remove_root();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        BOTH(test_files),        BOTH(test_redirects_and_refusals), BOTH(test_conditional),
        BOTH(test_respond_file), BOTH(test_big_file_slow_reader),   BOTH(test_file_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
