/* Static files, as a web server's document root: tether_conn_serve_static()
 * answers the current plain HTTP request with a file under a directory.
 *
 * Nothing outside the directory can be reached: the path is decoded and
 * refused if it holds dot segments or escaped separators
 * (proto/url_path.c), then looked up one segment at a time with openat(2)
 * and O_NOFOLLOW, so a symbolic link anywhere below the root is not
 * followed (404). Special files (FIFOs, devices) are opened without
 * blocking and refused. The body goes out with sendfile(2)
 * (tether_conn_respond_file). */
#include "api/api.h"
#include "proto/content_type.h"
#include "proto/http_date.h"
#include "proto/http_response.h"
#include "proto/url_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TT_STATIC_INDEX "index.html"

/* The plain-text answer for a request we cannot serve a file for. */
static int tt_static_status(tether_conn *c, int status) {
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, tt_http_reason(status));
    return tether_conn_respond(c, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* The status a failed open(2) answers with. */
static int tt_static_errno_status(int err) {
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP: /* a symbolic link (O_NOFOLLOW) */
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    case ENAMETOOLONG:
        return 414;
    default:
        return 500;
    }
}

/* Opens root/name without following any link below root. name "" is root.
 * Returns the descriptor, or minus the status to answer. */
static int tt_static_open(const char *root, const char *name) {
    int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -(errno == ENOENT || errno == ENOTDIR ? 404 : 500);
    char seg[NAME_MAX + 1];
    while (*name) {
        size_t n = strcspn(name, "/");
        if (n > NAME_MAX) {
            close(dfd);
            return -414;
        }
        memcpy(seg, name, n);
        seg[n] = '\0';
        name += n + (name[n] == '/');
        int fd = openat(dfd, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        int err = errno;
        close(dfd);
        if (fd < 0) return -tt_static_errno_status(err);
        dfd = fd;
    }
    return dfd;
}

/* A directory named without its final '/': send the client to the name
 * with it, so that the index page's relative links resolve inside. */
static int tt_static_redirect(tether_conn *c) {
    const char *query = tether_conn_query(c);
    char loc[4096];
    int n = snprintf(loc, sizeof loc, "%s/%s%s", tether_conn_path(c), query ? "?" : "",
                     query ? query : "");
    if (n < 0 || (size_t)n >= sizeof loc) return tt_static_status(c, 414);
    int rc = tether_conn_add_header(c, "Location", loc);
    if (rc) return rc;
    static const char body[] = "301 Moved Permanently\n";
    return tether_conn_respond(c, 301, "text/plain; charset=utf-8", body, sizeof body - 1);
}

/* Whether an If-None-Match list names our tag (weak comparison, RFC 9110
 * 13.1.2: a W/ prefix does not matter), or is "*". */
static int tt_static_etag_matches(const char *list, const char *tag) {
    size_t tlen = strlen(tag);
    while (*list) {
        list += strspn(list, " \t,");
        if (*list == '*') return 1;
        if (strncmp(list, "W/", 2) == 0) list += 2;
        size_t n = strcspn(list, ",");
        while (n && (list[n - 1] == ' ' || list[n - 1] == '\t'))
            n--;
        if (n == tlen && memcmp(list, tag, n) == 0) return 1;
        list += strcspn(list, ",");
    }
    return 0;
}

/* RFC 9110 13.1.2-13.1.3: If-None-Match when sent, else If-Modified-Since. */
static int tt_static_not_modified(const tether_conn *c, const char *etag, time_t mtime) {
    const char *inm = tether_conn_header(c, "If-None-Match");
    if (inm) return tt_static_etag_matches(inm, etag);
    const char *ims = tether_conn_header(c, "If-Modified-Since");
    time_t since;
    return ims && tt_http_date_parse(ims, &since) == 0 && mtime <= since;
}

/* Answers with the regular file fd (taken), or 304 when the client has it. */
static int tt_static_send(tether_conn *c, int fd, const struct stat *st, const char *name) {
    char etag[64], date[TT_HTTP_DATE_SIZE];
    snprintf(etag, sizeof etag, "\"%llx-%llx.%lx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec, (unsigned long)st->st_mtim.tv_nsec);
    tt_http_date_format(st->st_mtim.tv_sec, date);
    int rc = tether_conn_add_header(c, "ETag", etag);
    if (!rc && date[0]) rc = tether_conn_add_header(c, "Last-Modified", date);
    if (!rc && tt_static_not_modified(c, etag, st->st_mtim.tv_sec))
        rc = tether_conn_respond(c, 304, NULL, NULL, 0);
    else if (!rc && (rc = tt_http_respond_file(c, 200, tt_content_type(name), fd, st, 0, -1)) == 0)
        return 0; /* fd is the connection's now */
    close(fd);
    return rc;
}

/* The directory's index page, or 404. */
static int tt_static_index(tether_conn *c, int dfd) {
    int fd = openat(dfd, TT_STATIC_INDEX, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int status = fd < 0 ? tt_static_errno_status(errno) : 0;
    close(dfd);
    if (fd < 0) return tt_static_status(c, status);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tt_static_status(c, 404);
    }
    return tt_static_send(c, fd, &st, TT_STATIC_INDEX);
}

int tether_conn_serve_static(tether_conn *c, const char *root, const char *path) {
    const char *method = tether_conn_method(c);
    if (!c || !root) return TETHER_E_INVAL;
    if (!method || c->phase != TT_PH_HTTP) return TETHER_E_STATE;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        int rc = tether_conn_add_header(c, "Allow", "GET, HEAD");
        return rc ? rc : tt_static_status(c, 405);
    }
    char name[PATH_MAX];
    int slash, n = tt_url_path_decode(path ? path : tether_conn_path(c), name, sizeof name, &slash);
    if (n < 0) return tt_static_status(c, n == TETHER_E_NOSPC ? 414 : 400);
    int fd = tt_static_open(root, name);
    if (fd < 0) return tt_static_status(c, -fd);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return tt_static_status(c, 500);
    }
    if (S_ISDIR(st.st_mode)) {
        if (!slash && n > 0) {
            close(fd);
            return tt_static_redirect(c);
        }
        return tt_static_index(c, fd);
    }
    if (!S_ISREG(st.st_mode) || slash) { /* "file.txt/" names no file */
        close(fd);
        return tt_static_status(c, 404);
    }
    return tt_static_send(c, fd, &st, name);
}
