/* check-bundles: the build's test of the compiled resource bundles. Every
 * locale of a package must have exactly root's keys, and every text must be
 * usable: under `daemon` an ICU MessageFormat pattern that parses in its
 * locale and uses root's arguments, elsewhere (the web client's labels) a
 * string with root's {name} placeholders. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unicode/umsg.h>
#include <unicode/ures.h>
#include <unicode/ustring.h>

/* Exit codes; tests/unit/test-check-bundles.c relies on them. */
enum {
	EXIT_OK = 0,      /* every bundle passed; the stamp file is written */
	EXIT_BAD = 1,     /* a bundle is wrong; one line per problem on stderr */
	EXIT_CANNOT = 2,  /* usage error, unreadable directory, no memory */
};

#define MAX_LOCALES 64
#define MAX_PATH_LEN 512
/* More than any text needs; a text past it is reported, not truncated. */
#define MAX_ITEMS 32
#define ITEM_LEN 48

struct check {
	const char *pkg;     /* "daemon", "client": the directory's last part */
	const char *dir;     /* the package directory, ending in '/' */
	const char *locale;  /* the locale being compared with root */
	unsigned problems;
};

static void problem(struct check *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line per problem, naming package, locale and key path, so that the
 * person who broke a bundle can find the line without reading this file. */
static void problem(struct check *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "check-bundles: %s %s: %s: ", c->pkg, c->locale, path[0] ? path : "(top)");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->problems++;
}

/* ---- what a text uses --------------------------------------------------------
 * A set of short strings, kept sorted so two sets compare with memcmp and
 * print in a stable order. */

struct items {
	unsigned n;
	bool overflow;
	char v[MAX_ITEMS][ITEM_LEN];
};

static int cmp_item(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void items_add(struct items *s, const char *item)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->v[i], item) == 0)
			return;
	if (s->n == MAX_ITEMS || strlen(item) >= ITEM_LEN) {
		s->overflow = true;
		return;
	}
	strcpy(s->v[s->n++], item);
	qsort(s->v, s->n, sizeof s->v[0], cmp_item);
}

static bool items_equal(const struct items *a, const struct items *b)
{
	if (a->n != b->n || a->overflow || b->overflow)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static void items_print(const struct items *s, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < s->n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s{%s}", i ? " " : "", s->v[i]);
	if (s->n == 0)
		snprintf(out, cap, "none");
}

static bool is_word(UChar c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool is_space(UChar c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The web client fills {name} placeholders (web-client/labels.js, fmt()):
 * a brace, word characters, a brace. */
static void client_placeholders(const UChar *s, int32_t len, struct items *out)
{
	for (int32_t i = 0; i < len; i++) {
		char name[ITEM_LEN];
		int32_t j = i + 1;
		size_t n = 0;

		if (s[i] != '{')
			continue;
		while (j < len && is_word(s[j]) && n + 1 < sizeof name)
			name[n++] = (char)s[j++];
		name[n] = '\0';
		if (n > 0 && j < len && s[j] == '}')
			items_add(out, name);
	}
}

/* A MessageFormat pattern's arguments as "name" or "name:type" items. The
 * pattern has already been accepted by ICU, so this walk only needs to tell
 * arguments from literal text and sub-messages. It follows ICU's default
 * apostrophe rule: an apostrophe quotes only before '{', '}', '#' or '|',
 * and two of them are one literal apostrophe. */
struct mscan {
	const UChar *p;
	int32_t len, i;
	struct items *out;
};

static void scan_message(struct mscan *m);

static void skip_quoted(struct mscan *m)
{
	/* m->i is on an opening apostrophe. */
	for (m->i++; m->i < m->len; m->i++) {
		if (m->p[m->i] != '\'')
			continue;
		if (m->i + 1 < m->len && m->p[m->i + 1] == '\'') {
			m->i++;
			continue;
		}
		m->i++;
		return;
	}
}

static void skip_spaces(struct mscan *m)
{
	while (m->i < m->len && is_space(m->p[m->i]))
		m->i++;
}

static void take(struct mscan *m, char *buf, size_t cap)
{
	size_t n = 0;

	while (m->i < m->len && !is_space(m->p[m->i]) && m->p[m->i] != ',' && m->p[m->i] != '}' &&
	       m->p[m->i] != '{') {
		if (n + 1 < cap)
			buf[n++] = (char)(m->p[m->i] < 0x80 ? m->p[m->i] : '?');
		m->i++;
	}
	buf[n] = '\0';
}

/* m->i is just past an argument's '{'; leaves it just past the '}'. */
static void scan_argument(struct mscan *m)
{
	char name[ITEM_LEN / 2], type[ITEM_LEN / 2], item[ITEM_LEN];
	bool cases;

	skip_spaces(m);
	take(m, name, sizeof name);
	skip_spaces(m);
	if (m->i >= m->len || m->p[m->i] == '}') {
		items_add(m->out, name);
		m->i++;
		return;
	}
	m->i++; /* ',' */
	skip_spaces(m);
	take(m, type, sizeof type);
	snprintf(item, sizeof item, "%s:%s", name, type);
	items_add(m->out, item);
	skip_spaces(m);
	if (m->i >= m->len || m->p[m->i] == '}') {
		m->i++;
		return;
	}
	m->i++; /* ',' */
	cases = strcmp(type, "plural") == 0 || strcmp(type, "select") == 0 ||
		strcmp(type, "selectordinal") == 0;
	if (!cases) {
		/* A style ("integer", "::currency/EUR", a choice list): skip to
		 * the brace that closes the argument. */
		for (int nest = 0; m->i < m->len; m->i++) {
			if (m->p[m->i] == '\'') {
				skip_quoted(m);
				m->i--;
			} else if (m->p[m->i] == '{') {
				nest++;
			} else if (m->p[m->i] == '}' && nest-- == 0) {
				break;
			}
		}
		m->i++;
		return;
	}
	/* Selectors ("one", "=-1", "offset:1"), each with a sub-message. */
	while (m->i < m->len) {
		skip_spaces(m);
		if (m->i >= m->len)
			return;
		if (m->p[m->i] == '}') {
			m->i++;
			return;
		}
		if (m->p[m->i] == '{') {
			m->i++;
			scan_message(m);
			m->i++; /* the sub-message's '}' */
			continue;
		}
		while (m->i < m->len && !is_space(m->p[m->i]) && m->p[m->i] != '{' && m->p[m->i] != '}')
			m->i++;
	}
}

/* Text up to an unmatched '}' (left in place) or the end. */
static void scan_message(struct mscan *m)
{
	while (m->i < m->len) {
		UChar c = m->p[m->i];

		if (c == '}')
			return;
		if (c == '{') {
			m->i++;
			scan_argument(m);
			continue;
		}
		if (c == '\'' && m->i + 1 < m->len) {
			UChar next = m->p[m->i + 1];

			if (next == '\'') {
				m->i += 2;
				continue;
			}
			if (next == '{' || next == '}' || next == '#' || next == '|') {
				skip_quoted(m);
				continue;
			}
		}
		m->i++;
	}
}

static void message_arguments(const UChar *s, int32_t len, struct items *out)
{
	struct mscan m = { .p = s, .len = len, .out = out };

	while (m.i < m.len) {
		scan_message(&m);
		m.i++; /* an unbalanced '}' cannot reach here: ICU parsed it */
	}
}

/* ---- comparing a locale with root -------------------------------------------- */

static const char *type_name(UResType t)
{
	switch (t) {
	case URES_STRING: return "string";
	case URES_TABLE: return "table";
	case URES_ARRAY: return "array";
	case URES_INT: return "integer";
	case URES_INT_VECTOR: return "integer vector";
	case URES_BINARY: return "binary";
	case URES_ALIAS: return "alias";
	default: return "resource";
	}
}

static void check_string(struct check *c, const char *path, const UResourceBundle *root,
			 const UResourceBundle *loc)
{
	const UChar *rs, *ls;
	int32_t rlen = 0, llen = 0;
	UErrorCode st = U_ZERO_ERROR;
	struct items ri = { 0 }, li = { 0 };
	char rbuf[512], lbuf[512];
	bool daemon = strncmp(path, "daemon/", 7) == 0;

	rs = ures_getString(root, &rlen, &st);
	if (U_FAILURE(st))
		return; /* root's own problems are reported when root is checked */
	ls = ures_getString(loc, &llen, &st);
	if (U_FAILURE(st)) {
		problem(c, path, "cannot be read (%s)", u_errorName(st));
		return;
	}
	if (llen == 0 && rlen > 0) {
		problem(c, path, "is empty");
		return;
	}
	if (daemon) {
		UParseError pe = { 0 };
		UMessageFormat *f;

		/* Parse in the locale the daemon formats it in: the plural
		 * keywords a pattern may use depend on it. */
		f = umsg_open(ls, llen, c->locale, &pe, &st);
		if (f != NULL)
			umsg_close(f);
		if (U_FAILURE(st)) {
			problem(c, path, "does not parse as a MessageFormat pattern (%s at line %d, offset %d)",
				u_errorName(st), (int)pe.line, (int)pe.offset);
			return;
		}
		st = U_ZERO_ERROR;
		f = umsg_open(rs, rlen, "root", &pe, &st);
		if (f != NULL)
			umsg_close(f);
		if (U_FAILURE(st))
			return;
		message_arguments(rs, rlen, &ri);
		message_arguments(ls, llen, &li);
	} else {
		client_placeholders(rs, rlen, &ri);
		client_placeholders(ls, llen, &li);
	}
	if (!items_equal(&ri, &li)) {
		items_print(&ri, rbuf, sizeof rbuf);
		items_print(&li, lbuf, sizeof lbuf);
		problem(c, path, "%s %s, root uses %s", daemon ? "uses the arguments" : "has the placeholders",
			lbuf, rbuf);
	}
}

static void join_path(char *out, const char *path, const char *key)
{
	snprintf(out, MAX_PATH_LEN, "%s%s%s", path, path[0] ? "/" : "", key);
}

static void compare(struct check *c, const char *path, UResourceBundle *root, UResourceBundle *loc)
{
	UResType rt = ures_getType(root), lt = ures_getType(loc);
	char sub[MAX_PATH_LEN];

	if (rt != lt) {
		problem(c, path, "is a %s, but a %s in root", type_name(lt), type_name(rt));
		return;
	}
	if (rt == URES_STRING) {
		check_string(c, path, root, loc);
		return;
	}
	if (rt != URES_TABLE && rt != URES_ARRAY)
		return;
	if (rt == URES_ARRAY && ures_getSize(root) != ures_getSize(loc))
		problem(c, path, "has %d items, root has %d", (int)ures_getSize(loc), (int)ures_getSize(root));

	/* Every key here must be in root, and those in both must agree. */
	for (int32_t i = 0; i < ures_getSize(loc); i++) {
		UErrorCode st = U_ZERO_ERROR;
		UResourceBundle *lc = ures_getByIndex(loc, i, NULL, &st), *rc;
		const char *key;
		char index[16];

		if (U_FAILURE(st)) {
			ures_close(lc);
			problem(c, path, "item %d cannot be read (%s)", (int)i, u_errorName(st));
			continue;
		}
		if (rt == URES_ARRAY) {
			snprintf(index, sizeof index, "%d", (int)i);
			key = index;
			rc = i < ures_getSize(root) ? ures_getByIndex(root, i, NULL, &st) : NULL;
		} else {
			key = ures_getKey(lc);
			rc = ures_getByKey(root, key, NULL, &st);
		}
		join_path(sub, path, key);
		if (rc == NULL || U_FAILURE(st)) {
			if (rt == URES_TABLE)
				problem(c, sub, "is a key that root lacks");
		} else {
			compare(c, sub, rc, lc);
		}
		ures_close(rc);
		ures_close(lc);
	}
	if (rt != URES_TABLE)
		return;
	/* And every key of root must be here. */
	for (int32_t i = 0; i < ures_getSize(root); i++) {
		UErrorCode st = U_ZERO_ERROR;
		UResourceBundle *rc = ures_getByIndex(root, i, NULL, &st), *lc;

		if (U_FAILURE(st)) {
			ures_close(rc);
			continue;
		}
		lc = ures_getByKey(loc, ures_getKey(rc), NULL, &st);
		if (U_FAILURE(st)) {
			join_path(sub, path, ures_getKey(rc));
			problem(c, sub, "is missing (root has it)");
		}
		ures_close(lc);
		ures_close(rc);
	}
}

/* ---- packages ------------------------------------------------------------------ */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The locales of a package: its .res files, root first, then by name. */
static int list_locales(const char *dir, char **names, unsigned *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*n = 0;
	if (d == NULL) {
		fprintf(stderr, "check-bundles: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len <= 4 || strcmp(e->d_name + len - 4, ".res") != 0)
			continue;
		if (*n == MAX_LOCALES) {
			fprintf(stderr, "check-bundles: %s has more than %d bundles\n", dir, MAX_LOCALES);
			closedir(d);
			return -1;
		}
		names[*n] = strndup(e->d_name, len - 4);
		if (names[*n] == NULL) {
			closedir(d);
			return -1;
		}
		(*n)++;
	}
	closedir(d);
	qsort(names, *n, sizeof *names, cmp_name);
	for (unsigned i = 0; i < *n; i++) {
		if (strcmp(names[i], "root") == 0) {
			char *root = names[i];

			memmove(names + 1, names, i * sizeof *names);
			names[0] = root;
		}
	}
	return 0;
}

/* Returns the number of problems, or -1 when the package cannot be read. */
static int check_package(const char *arg)
{
	char dir[MAX_PATH_LEN], pkg[64];
	char *names[MAX_LOCALES], *abs;
	const char *slash;
	size_t len;
	unsigned n = 0, problems = 0;
	UResourceBundle *root = NULL;
	UErrorCode st = U_ZERO_ERROR;
	int r = -1;

	/* ICU reads a directory of .res files when given an absolute path
	 * ending in '/'; a bare relative one ("daemon/") it takes for a
	 * package name. */
	abs = realpath(arg, NULL);
	if (abs == NULL) {
		fprintf(stderr, "check-bundles: cannot open %s: %s\n", arg, strerror(errno));
		return -1;
	}
	len = strlen(abs);
	if (len + 2 > sizeof dir) {
		fprintf(stderr, "check-bundles: path too long: %s\n", abs);
		free(abs);
		return -1;
	}
	snprintf(dir, sizeof dir, "%s/", abs);
	slash = strrchr(abs, '/');
	snprintf(pkg, sizeof pkg, "%s", slash != NULL && slash[1] != '\0' ? slash + 1 : abs);
	free(abs);

	if (list_locales(dir, names, &n) != 0)
		return -1;
	if (n == 0 || strcmp(names[0], "root") != 0) {
		fprintf(stderr, "check-bundles: %s %s: no root.res in %s\n", pkg, "root", dir);
		r = 1;
		goto out;
	}
	root = ures_openDirect(dir, "root", &st);
	if (U_FAILURE(st)) {
		fprintf(stderr, "check-bundles: %s root: cannot open (%s)\n", pkg, u_errorName(st));
		r = 1;
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		struct check c = { .pkg = pkg, .dir = dir, .locale = names[i] };
		UResourceBundle *loc;

		st = U_ZERO_ERROR;
		loc = ures_openDirect(dir, names[i], &st);
		if (U_FAILURE(st)) {
			problem(&c, "", "cannot open %s%s.res (%s)", dir, names[i], u_errorName(st));
		} else {
			/* root against itself still parses every pattern. */
			compare(&c, "", root, loc);
		}
		ures_close(loc);
		problems += c.problems;
	}
	r = (int)problems;
out:
	ures_close(root);
	for (unsigned i = 0; i < n; i++)
		free(names[i]);
	return r;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: check-bundles [--stamp FILE] PACKAGE_DIR...\n"
		     "Checks the compiled ICU bundles (*.res) in each package directory against\n"
		     "its root.res. Exit 0: all good (FILE is written); 1: a bundle is wrong;\n"
		     "2: could not check.\n");
}

int main(int argc, char **argv)
{
	const char *stamp = NULL;
	int first = 1, problems = 0, status;

	if (argc > 2 && strcmp(argv[1], "--stamp") == 0) {
		stamp = argv[2];
		first = 3;
	}
	if (first >= argc || argv[first][0] == '-') {
		usage(stderr);
		return EXIT_CANNOT;
	}
	/* A failed check must not leave an old stamp that says all is well. */
	if (stamp != NULL)
		unlink(stamp);
	for (int i = first; i < argc; i++) {
		int r = check_package(argv[i]);

		if (r < 0)
			return EXIT_CANNOT;
		problems += r;
	}
	if (problems > 0) {
		fprintf(stderr, "check-bundles: %d problem%s\n", problems, problems == 1 ? "" : "s");
		return EXIT_BAD;
	}
	status = EXIT_OK;
	if (stamp != NULL) {
		FILE *f = fopen(stamp, "w");

		if (f == NULL || fputs("bundles checked\n", f) == EOF || fclose(f) != 0) {
			fprintf(stderr, "check-bundles: cannot write %s\n", stamp);
			status = EXIT_CANNOT;
		}
	}
	return status;
}
