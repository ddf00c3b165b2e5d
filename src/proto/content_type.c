/* Media types of what a web server commonly serves. Text types say UTF-8,
 * which is what the web's files are written in today (a browser would
 * otherwise guess). Unknown extensions are application/octet-stream
 * (RFC 9110 8.3: a sender that does not know the type may send it so). */
#include "proto/content_type.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *ext, *type;
} tt_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
};

const char *tt_content_type(const char *name) {
    const char *slash = name ? strrchr(name, '/') : NULL;
    const char *base = slash ? slash + 1 : name;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (dot && dot != base) /* ".profile" has no extension */
        for (size_t i = 0; i < sizeof tt_types / sizeof tt_types[0]; i++)
            if (strcasecmp(dot + 1, tt_types[i].ext) == 0) return tt_types[i].type;
    return "application/octet-stream";
}
