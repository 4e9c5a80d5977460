/* Reading, checking and installing a renewed server certificate (certs.h).
 * OpenSSL only: the edge hands in the SSL_CTX that lws made for the vhost. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certs.h"

struct certs {
	X509 *leaf;
	STACK_OF(X509) *chain;   /* intermediates, in file order */
	EVP_PKEY *key;
};

/* A key with a passphrase cannot be read unattended: refuse instead of
 * letting OpenSSL prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static void openssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no PEM data");
	ERR_clear_error();
}

void certs_free(struct certs *c)
{
	if (c == NULL)
		return;
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	OPENSSL_free(c);
}

struct certs *certs_load(const char *cert_path, const char *key_path, char *err, size_t err_len)
{
	struct certs *c = OPENSSL_zalloc(sizeof *c);
	char why[256];
	BIO *in = NULL;
	X509 *x;

	if (c == NULL || (c->chain = sk_X509_new_null()) == NULL) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if ((in = BIO_new_file(cert_path, "r")) == NULL) {
		snprintf(err, err_len, "cannot read the certificate %s: %s", cert_path, strerror(errno));
		goto fail;
	}
	if ((c->leaf = PEM_read_bio_X509(in, NULL, no_passphrase, NULL)) == NULL) {
		openssl_reason(why, sizeof why);
		snprintf(err, err_len, "%s holds no PEM certificate (%s)", cert_path, why);
		goto fail;
	}
	while ((x = PEM_read_bio_X509(in, NULL, no_passphrase, NULL)) != NULL) {
		if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			snprintf(err, err_len, "out of memory");
			goto fail;
		}
	}
	/* The loop ends at the end of the file; anything else is damage. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE && ERR_peek_last_error() != 0) {
		openssl_reason(why, sizeof why);
		snprintf(err, err_len, "%s: a certificate after the first cannot be read (%s)", cert_path, why);
		goto fail;
	}
	ERR_clear_error();
	BIO_free(in);
	if ((in = BIO_new_file(key_path, "r")) == NULL) {
		snprintf(err, err_len, "cannot read the key %s: %s", key_path, strerror(errno));
		goto fail;
	}
	if ((c->key = PEM_read_bio_PrivateKey(in, NULL, no_passphrase, NULL)) == NULL) {
		openssl_reason(why, sizeof why);
		snprintf(err, err_len, "%s holds no unencrypted PEM private key (%s)", key_path, why);
		goto fail;
	}
	BIO_free(in);
	in = NULL;
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		ERR_clear_error();
		snprintf(err, err_len, "the key %s does not belong to the certificate %s", key_path, cert_path);
		goto fail;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(c->leaf)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(c->leaf)) >= 0) {
		snprintf(err, err_len, "the certificate %s is not valid now", cert_path);
		goto fail;
	}
	return c;
fail:
	BIO_free(in);
	certs_free(c);
	return NULL;
}

int certs_install(SSL_CTX *ctx, const struct certs *c, char *err, size_t err_len)
{
	EVP_PKEY *cur = SSL_CTX_get0_privatekey(ctx);
	char why[256];

	/* OpenSSL keeps one certificate per key kind; a new kind would sit
	 * next to the old certificate instead of replacing it. */
	if (cur != NULL && EVP_PKEY_get_base_id(cur) != EVP_PKEY_get_base_id(c->key)) {
		snprintf(err, err_len, "the new key is of another kind (%s) than the running one (%s): restart brugd "
			 "to change it", OBJ_nid2sn(EVP_PKEY_get_base_id(c->key)), OBJ_nid2sn(EVP_PKEY_get_base_id(cur)));
		return -EINVAL;
	}
	/* Checked above, so none of this fails short of memory; SSL objects
	 * made before keep their own reference to the old certificate. */
	if (SSL_CTX_use_certificate(ctx, c->leaf) != 1 || SSL_CTX_clear_chain_certs(ctx) != 1)
		goto fail;
	for (int i = 0; i < sk_X509_num(c->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c->chain, i)) != 1)
			goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, c->key) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	return 0;
fail:
	openssl_reason(why, sizeof why);
	snprintf(err, err_len, "OpenSSL refused the new certificate (%s)", why);
	return -EIO;
}

static void describe(X509 *x, char *buf, size_t len)
{
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	char until[64] = "?";
	BIO *mem = BIO_new(BIO_s_mem());

	if (mem != NULL && x != NULL && ASN1_TIME_print(mem, X509_get0_notAfter(x)) == 1) {
		int n = BIO_read(mem, until, sizeof until - 1);
		until[n > 0 ? n : 0] = '\0';
	}
	snprintf(buf, len, "serial %s, valid until %s", hex != NULL ? hex : "?", until);
	BIO_free(mem);
	OPENSSL_free(hex);
	BN_free(bn);
}

void certs_describe(const struct certs *c, char *buf, size_t len)
{
	describe(c != NULL ? c->leaf : NULL, buf, len);
}

void certs_describe_ctx(SSL_CTX *ctx, char *buf, size_t len)
{
	describe(ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL, buf, len);
}
