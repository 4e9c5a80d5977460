/* Which request paths the static server may look up under web_root: a
 * strict check before libwebsockets maps a path onto the disk. */
#ifndef BRUG_HTTP_PATH_H
#define BRUG_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_PATH_MAX 1024   /* bytes of a path accepted at all */

/*
 * Whether path (len bytes, not necessarily NUL-terminated; borrowed) is a
 * request path brugd serves: it starts with '/', has at most HTTP_PATH_MAX
 * bytes, and has no NUL, control byte (C0, DEL, C1), backslash, "." or
 * ".." segment, empty segment inside ("a//b"), malformed percent escape,
 * or escape of a dot, slash, backslash, percent sign or control byte; once
 * its escapes are decoded it is strict UTF-8 (no overlong forms,
 * surrogates or values past U+10FFFF). A trailing '/' is allowed.
 */
bool http_path_acceptable(const char *path, size_t len);

#endif
