/* Secrets at rest (seal.h): the key file, made once and checked at every
 * start, and crypto_secretbox blobs with a random nonce per secret. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "log.h"
#include "seal.h"

_Static_assert(SEAL_KEY_BYTES == crypto_secretbox_KEYBYTES, "key size");
_Static_assert(SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES,
	       "blob overhead");

#define PREFIX_LEN (sizeof SEAL_PREFIX - 1)
#define BOX_MAX (SEAL_PLAIN_MAX + SEAL_OVERHEAD)

struct seal_key {
	unsigned char bytes[SEAL_KEY_BYTES];
};

int seal_key_path(const char *db_path, char *out, size_t size)
{
	const char *slash = strrchr(db_path, '/');
	int n;

	if (slash == NULL)
		n = snprintf(out, size, "%s", SEAL_KEY_FILE);
	else
		n = snprintf(out, size, "%.*s/%s", (int)(slash - db_path), db_path, SEAL_KEY_FILE);
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Guarded, locked memory (never swapped out), wiped by sodium_free. */
static struct seal_key *key_alloc(void)
{
	return sodium_malloc(sizeof(struct seal_key));
}

void seal_key_free(struct seal_key *k)
{
	if (k != NULL)
		sodium_free(k); /* makes it writable again and wipes it first */
}

struct seal_key *seal_key_from_bytes(const unsigned char *bytes)
{
	struct seal_key *k = key_alloc();

	if (k == NULL)
		return NULL;
	memcpy(k->bytes, bytes, SEAL_KEY_BYTES);
	sodium_mprotect_readonly(k);
	return k;
}

/* Read exactly n bytes from fd. Returns 0, -EIO at an early end, -errno. */
static int read_all(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const unsigned char *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

int seal_key_load(const char *path, struct seal_key **out)
{
	struct seal_key *k = NULL;
	struct stat st;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r == -ELOOP)
			log_err("seal: the key file %s is a symbolic link; it must be a regular file", path);
		else
			log_err("seal: cannot open the key file %s: %s", path, strerror(-r));
		return r == -ELOOP ? -EINVAL : r;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		log_err("seal: cannot read the key file %s: %s", path, strerror(-r));
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("seal: the key file %s is not a regular file", path);
		r = -EINVAL;
		goto close_fd;
	}
	/* A key others may read is no longer a secret of this service's
	 * alone: say so and stop, rather than go on quietly. */
	if ((st.st_mode & 077) != 0) {
		log_err("seal: the key file %s has mode %04o; it must be readable by its owner only"
			" (chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		r = -EPERM;
		goto close_fd;
	}
	if (st.st_size != SEAL_KEY_BYTES) {
		log_err("seal: the key file %s is %lld bytes long, a key is %d; restore it from the"
			" backup", path, (long long)st.st_size, SEAL_KEY_BYTES);
		r = -EINVAL;
		goto close_fd;
	}
	k = key_alloc();
	if (k == NULL) {
		r = -ENOMEM;
		goto close_fd;
	}
	r = read_all(fd, k->bytes, SEAL_KEY_BYTES);
	if (r != 0) {
		log_err("seal: cannot read the key file %s: %s", path, strerror(-r));
		seal_key_free(k);
		goto close_fd;
	}
	sodium_mprotect_readonly(k);
	*out = k;
close_fd:
	close(fd);
	return r;
}

/* fsync the directory holding path, so a new link survives a crash. */
static void sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int seal_key_create(const char *path, struct seal_key **out)
{
	char tmp[PATH_MAX];
	struct seal_key *k;
	int fd, r;

	*out = NULL;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	k = key_alloc();
	if (k == NULL)
		return -ENOMEM;
	randombytes_buf(k->bytes, sizeof k->bytes);
	/* mkostemp makes the file 0600 whatever the umask. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err("seal: cannot create a key file beside %s: %s", path, strerror(-r));
		goto free_key;
	}
	r = write_all(fd, k->bytes, sizeof k->bytes);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r != 0) {
		log_err("seal: cannot write the key file %s: %s", tmp, strerror(-r));
		goto unlink_tmp;
	}
	/* link() never replaces a file: of two processes making a key at the
	 * same time, the second finds the first one's and uses that. */
	if (link(tmp, path) != 0) {
		r = -errno;
		unlink(tmp);
		seal_key_free(k);
		if (r == -EEXIST)
			return seal_key_load(path, out);
		log_err("seal: cannot create the key file %s: %s", path, strerror(-r));
		return r;
	}
	unlink(tmp);
	sync_dir_of(path);
	sodium_mprotect_readonly(k);
	*out = k;
	return 0;

unlink_tmp:
	unlink(tmp);
free_key:
	seal_key_free(k);
	return r;
}

bool seal_is_sealed(const char *value)
{
	return value != NULL && strncmp(value, SEAL_PREFIX, PREFIX_LEN) == 0;
}

int seal_seal(const struct seal_key *k, const char *plain, char *out, size_t out_size)
{
	unsigned char box[BOX_MAX];
	size_t len = strlen(plain);

	if (out_size > 0)
		out[0] = '\0';
	if (len > SEAL_PLAIN_MAX)
		return -EINVAL;
	if (out_size < SEAL_BLOB_LEN(len) + 1)
		return -ENOSPC;
	/* A random 192-bit nonce per blob: no counter to keep, and no two
	 * secrets ever share one under the same key. */
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, len,
			      box, k->bytes);
	memcpy(out, SEAL_PREFIX, PREFIX_LEN);
	sodium_bin2base64(out + PREFIX_LEN, out_size - PREFIX_LEN, box, len + SEAL_OVERHEAD,
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(box, sizeof box);
	return 0;
}

int seal_open(const struct seal_key *k, const char *blob, char *out, size_t out_size)
{
	unsigned char box[BOX_MAX];
	const char *b64, *end = NULL;
	size_t b64_len, box_len = 0, len;
	int r;

	if (out_size > 0)
		out[0] = '\0';
	if (!seal_is_sealed(blob))
		return -EINVAL;
	b64 = blob + PREFIX_LEN;
	b64_len = strlen(b64);
	if (b64_len > SEAL_BLOB_LEN(SEAL_PLAIN_MAX) - PREFIX_LEN ||
	    sodium_base642bin(box, sizeof box, b64, b64_len, NULL, &box_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64_len)
		return -EINVAL;
	if (box_len < SEAL_OVERHEAD)
		return -EINVAL;
	len = box_len - SEAL_OVERHEAD;
	if (len + 1 > out_size) {
		r = -ENOSPC;
		goto wipe;
	}
	if (crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
				       box_len - crypto_secretbox_NONCEBYTES, box, k->bytes) != 0) {
		r = -EBADMSG;
		goto wipe;
	}
	out[len] = '\0';
	/* The secrets are strings: a NUL inside would cut one short. */
	r = memchr(out, '\0', len) == NULL ? 0 : -EBADMSG;
wipe:
	sodium_memzero(box, sizeof box);
	if (r != 0)
		sodium_memzero(out, out_size);
	return r;
}
