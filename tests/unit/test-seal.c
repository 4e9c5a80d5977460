/* Unit tests for daemon/seal.c: blobs that open with their key only, and
 * the key file's creation and the checks made when it is loaded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "seal.h"

#define SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" /* 32 base32 characters */

struct fixture {
	char dir[256];
	char key[300];
	struct seal_key *a, *b;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	unsigned char raw[SEAL_KEY_BYTES];

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	snprintf(f->dir, sizeof f->dir, "%s/brug-test-seal-XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->key, sizeof f->key, "%s/" SEAL_KEY_FILE, f->dir);
	memset(raw, 0x11, sizeof raw);
	f->a = seal_key_from_bytes(raw);
	memset(raw, 0x22, sizeof raw);
	f->b = seal_key_from_bytes(raw);
	assert_non_null(f->a);
	assert_non_null(f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[320];

	seal_key_free(f->a);
	seal_key_free(f->b);
	unlink(f->key);
	snprintf(p, sizeof p, "%s/link", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	char blob[SEAL_BLOB_LEN(sizeof SECRET - 1) + 1], other[sizeof blob], out[64];

	assert_int_equal(seal_seal(f->a, SECRET, blob, sizeof blob), 0);
	assert_int_equal(strlen(blob), SEAL_BLOB_LEN(sizeof SECRET - 1));
	assert_true(seal_is_sealed(blob));
	assert_null(strstr(blob, SECRET));
	assert_int_equal(seal_open(f->a, blob, out, sizeof out), 0);
	assert_string_equal(out, SECRET);

	/* A fresh nonce each time: the same secret never looks the same. */
	assert_int_equal(seal_seal(f->a, SECRET, other, sizeof other), 0);
	assert_string_not_equal(blob, other);
	assert_int_equal(seal_open(f->a, other, out, sizeof out), 0);
	assert_string_equal(out, SECRET);

	/* The empty string and the longest allowed. */
	char longest[SEAL_PLAIN_MAX + 2], big[SEAL_BLOB_LEN(SEAL_PLAIN_MAX) + 1], back[SEAL_PLAIN_MAX + 1];
	assert_int_equal(seal_seal(f->a, "", blob, sizeof blob), 0);
	assert_int_equal(seal_open(f->a, blob, out, sizeof out), 0);
	assert_string_equal(out, "");
	memset(longest, 'A', SEAL_PLAIN_MAX);
	longest[SEAL_PLAIN_MAX] = '\0';
	assert_int_equal(seal_seal(f->a, longest, big, sizeof big), 0);
	assert_int_equal(seal_open(f->a, big, back, sizeof back), 0);
	assert_string_equal(back, longest);
	longest[SEAL_PLAIN_MAX] = 'A';
	longest[SEAL_PLAIN_MAX + 1] = '\0';
	assert_int_equal(seal_seal(f->a, longest, big, sizeof big), -EINVAL);
	assert_string_equal(big, "");

	/* Too small buffers. */
	assert_int_equal(seal_seal(f->a, SECRET, blob, sizeof blob - 1), -ENOSPC);
	assert_int_equal(seal_seal(f->a, SECRET, other, sizeof other), 0);
	assert_int_equal(seal_open(f->a, other, out, sizeof SECRET - 1), -ENOSPC);
	assert_int_equal(seal_open(f->a, other, out, sizeof SECRET), 0);
}

static void test_wrong_key(void **state)
{
	struct fixture *f = *state;
	char blob[SEAL_BLOB_LEN(sizeof SECRET - 1) + 1], out[64];

	assert_int_equal(seal_seal(f->a, SECRET, blob, sizeof blob), 0);
	memset(out, 'x', sizeof out);
	assert_int_equal(seal_open(f->b, blob, out, sizeof out), -EBADMSG);
	/* A failure leaves nothing behind. */
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(out[i], 0);
}

/* Every change to a blob is found: each character replaced by another,
 * and the blob cut short or made longer. */
static void test_tampered(void **state)
{
	struct fixture *f = *state;
	char blob[SEAL_BLOB_LEN(sizeof SECRET - 1) + 1], bad[sizeof blob + 8], out[64];
	size_t n;

	assert_int_equal(seal_seal(f->a, SECRET, blob, sizeof blob), 0);
	n = strlen(blob);
	for (size_t i = 3; i < n; i++) {
		memcpy(bad, blob, n + 1);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (bad[i] == blob[i])
			continue;
		/* 72 bytes make 96 characters without padding, so every
		 * character carries bits of the nonce or the box. */
		assert_int_equal(seal_open(f->a, bad, out, sizeof out), -EBADMSG);
	}
	memcpy(bad, blob, n + 1);
	bad[n - 4] = '\0';
	assert_int_equal(seal_open(f->a, bad, out, sizeof out), -EBADMSG);
	memcpy(bad, blob, n + 1);
	strcat(bad, "AAAA");
	assert_int_equal(seal_open(f->a, bad, out, sizeof out), -EBADMSG);
	/* Not a blob at all. */
	assert_int_equal(seal_open(f->a, SECRET, out, sizeof out), -EINVAL);
	assert_int_equal(seal_open(f->a, "v1:", out, sizeof out), -EINVAL);
	assert_int_equal(seal_open(f->a, "v1:not base64!", out, sizeof out), -EINVAL);
	assert_int_equal(seal_open(f->a, "v2:AAAA", out, sizeof out), -EINVAL);
	assert_false(seal_is_sealed(SECRET));
	assert_false(seal_is_sealed(NULL));
	assert_false(seal_is_sealed("V1:AAAA"));
}

static void test_key_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(seal_key_path("/var/lib/brug/brug.db", out, sizeof out), 0);
	assert_string_equal(out, "/var/lib/brug/secret.key");
	assert_int_equal(seal_key_path("brug.db", out, sizeof out), 0);
	assert_string_equal(out, "secret.key");
	assert_int_equal(seal_key_path("/brug.db", out, sizeof out), 0);
	assert_string_equal(out, "/secret.key");
	assert_int_equal(seal_key_path("/a/very/long/directory/name/brug.db", out, 20), -ENAMETOOLONG);
	assert_string_equal(out, "");
}

/* The key file is made private and whole, and loads as the same key. */
static void test_key_create_and_load(void **state)
{
	struct fixture *f = *state;
	struct seal_key *made = NULL, *loaded = NULL, *again = NULL;
	char blob[SEAL_BLOB_LEN(sizeof SECRET - 1) + 1], out[64];
	struct stat st;

	assert_int_equal(seal_key_load(f->key, &loaded), -ENOENT);
	assert_null(loaded);
	umask(022);
	assert_int_equal(seal_key_create(f->key, &made), 0);
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SEAL_KEY_BYTES);
	assert_int_equal(seal_seal(made, SECRET, blob, sizeof blob), 0);

	assert_int_equal(seal_key_load(f->key, &loaded), 0);
	assert_int_equal(seal_open(loaded, blob, out, sizeof out), 0);
	assert_string_equal(out, SECRET);

	/* A second process making a key finds the first one's. */
	assert_int_equal(seal_key_create(f->key, &again), 0);
	assert_int_equal(seal_open(again, blob, out, sizeof out), 0);
	assert_string_equal(out, SECRET);
	/* ... and leaves no temporary file behind. */
	char cmd[400];
	snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", f->dir);
	assert_int_equal(system(cmd), 0);

	/* Owner-only read is fine too. */
	assert_int_equal(chmod(f->key, 0400), 0);
	seal_key_free(loaded);
	loaded = NULL;
	assert_int_equal(seal_key_load(f->key, &loaded), 0);
	seal_key_free(made);
	seal_key_free(loaded);
	seal_key_free(again);
}

static void test_key_refused(void **state)
{
	struct fixture *f = *state;
	unsigned char raw[SEAL_KEY_BYTES + 1];
	struct seal_key *k = NULL;
	char link_path[320];

	memset(raw, 7, sizeof raw);
	/* Readable by the group or others. */
	write_file(f->key, raw, SEAL_KEY_BYTES, 0640);
	assert_int_equal(seal_key_load(f->key, &k), -EPERM);
	assert_null(k);
	write_file(f->key, raw, SEAL_KEY_BYTES, 0604);
	assert_int_equal(seal_key_load(f->key, &k), -EPERM);
	/* The wrong size, either way. */
	write_file(f->key, raw, SEAL_KEY_BYTES - 1, 0600);
	assert_int_equal(seal_key_load(f->key, &k), -EINVAL);
	write_file(f->key, raw, SEAL_KEY_BYTES + 1, 0600);
	assert_int_equal(seal_key_load(f->key, &k), -EINVAL);
	write_file(f->key, raw, 0, 0600);
	assert_int_equal(seal_key_load(f->key, &k), -EINVAL);
	/* Making one never replaces a bad file. */
	assert_int_equal(seal_key_create(f->key, &k), -EINVAL);
	assert_null(k);
	/* A symbolic link, even to a good key. */
	write_file(f->key, raw, SEAL_KEY_BYTES, 0600);
	snprintf(link_path, sizeof link_path, "%s/link", f->dir);
	assert_int_equal(symlink(f->key, link_path), 0);
	assert_int_equal(seal_key_load(link_path, &k), -EINVAL);
	assert_null(k);
	/* A directory. */
	unlink(f->key);
	assert_int_equal(mkdir(f->key, 0700), 0);
	assert_int_equal(seal_key_load(f->key, &k), -EINVAL);
	rmdir(f->key);
	/* The good key loads. */
	write_file(f->key, raw, SEAL_KEY_BYTES, 0600);
	assert_int_equal(seal_key_load(f->key, &k), 0);
	seal_key_free(k);
	seal_key_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_round_trip),
		T(test_wrong_key),
		T(test_tampered),
		T(test_key_path),
		T(test_key_create_and_load),
		T(test_key_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
