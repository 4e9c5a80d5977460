/* Wiping memory that held personal data before it is released. */
#include <stdlib.h>
#include <string.h>
#include "secmem.h"

void secmem_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void secmem_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	explicit_bzero(p, n);
	free(p);
}

void secmem_free_str(char *s)
{
	if (s == NULL)
		return;
	secmem_free(s, strlen(s));
}

char *secmem_strndup(const char *s, size_t n)
{
	char *copy;

	if (s == NULL)
		return NULL;
	copy = malloc(n + 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

char *secmem_strdup(const char *s)
{
	return s == NULL ? NULL : secmem_strndup(s, strlen(s));
}
