/* Internal: the media type of a file, by its name's extension. */
#ifndef TT_CONTENT_TYPE_H
#define TT_CONTENT_TYPE_H

/* The Content-Type for a file name ("index.html" gives "text/html;
 * charset=utf-8"); application/octet-stream for an unknown extension or
 * none. Extensions compare without case. */
const char *tt_content_type(const char *name);

#endif
