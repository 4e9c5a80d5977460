/* Wiping memory that held visitor text, tokens or passwords before it is
 * freed, so no copy outlives its use (design promise 2). */
#ifndef BRUG_UTIL_SECMEM_H
#define BRUG_UTIL_SECMEM_H

#include <stddef.h>

/* Overwrite n bytes at p with zeros in a way the compiler cannot elide. */
void secmem_wipe(void *p, size_t n);
/* Wipe n bytes at p, then free(p). Accepts NULL. Takes ownership of p. */
void secmem_free(void *p, size_t n);
/* Wipe a NUL-terminated string and free it. Accepts NULL. Takes ownership. */
void secmem_free_str(char *s);
/* strdup() whose result must be released with secmem_free_str(). Caller frees. */
char *secmem_strdup(const char *s);
/* Like secmem_strdup() for the first n bytes; the copy is NUL-terminated. */
char *secmem_strndup(const char *s, size_t n);

#endif
