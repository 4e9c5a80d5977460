/* The server certificate for a reload: a PEM chain and its key, read and
 * checked in full before any of it goes into the live TLS context, so a bad
 * or half-written file never breaks new handshakes. */
#ifndef BRUG_CERTS_H
#define BRUG_CERTS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct certs;

/* Read the chain (leaf first) at cert_path and the unencrypted key at
 * key_path and check that they belong together and that the leaf is valid
 * now. Returns the pair (caller frees with certs_free) or NULL with a
 * message naming the file and the reason in err (err_len bytes). */
struct certs *certs_load(const char *cert_path, const char *key_path, char *err, size_t err_len);
/* Make c the certificate of ctx (borrowed) for handshakes from now on;
 * connections already open keep the one they have. c stays the caller's.
 * Refuses with -EINVAL a key of another kind than ctx's (RSA for EC or the
 * reverse: OpenSSL would then serve both), and on any OpenSSL failure
 * returns -EIO; err says why. */
int certs_install(SSL_CTX *ctx, const struct certs *c, char *err, size_t err_len);
/* "serial 1A2B..., valid until 2027-03-04 05:06:07 GMT" into buf. */
void certs_describe(const struct certs *c, char *buf, size_t len);
/* The same for the certificate ctx serves now (borrowed). */
void certs_describe_ctx(SSL_CTX *ctx, char *buf, size_t len);
/* Free c (accepts NULL); the key is cleared by OpenSSL. */
void certs_free(struct certs *c);

#endif
