/* "brugd staff ...": adding, listing and disabling staff accounts, setting
 * their passwords and second factors from scripts and a terminal. Passwords
 * come in on standard input and are wiped as soon as they are hashed. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "cli.h"
#include "common.h"
#include "config.h"
#include "staff.h"

enum {
	CLI_OK = 0,    /* done */
	CLI_ERROR = 1, /* a value was refused or the database failed */
	CLI_USAGE = 2, /* the command line itself was wrong */
};

#define LIST_ITEM_MAX 64

static const char usage_text[] =
	"usage: brugd -f CONFIG [--state-dir DIR] staff COMMAND\n"
	"  staff add USER --alias NAME --roles ROLE[,ROLE...] --langs LANG[,LANG...]\n"
	"            [--topics TOPIC[,TOPIC...]] [--max-chats N]\n"
	"  staff list\n"
	"  staff disable USER\n"
	"  staff passwd USER\n"
	"  staff totp USER\n"
	"  staff code USER\n"
	"Roles: volunteer, keyperson, professional, coordinator. --max-chats is 1 to 20\n"
	"(default 2). add and passwd read the password from standard input, one line;\n"
	"on a terminal they ask for it twice without echo.\n"
	"Every account has a TOTP second factor: add prints its otpauth:// URI (scan it\n"
	"or type its secret into an authenticator app); totp gives the account a new\n"
	"secret and prints the new URI. code prints the current 6-digit code: for local\n"
	"demos and scripts only, never on a real helpline's server.\n";

static void complain(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr: "brugd: staff CMD: message". */
static void complain(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "brugd: staff%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The usage of each command, shown under a usage error. */
static const char *usage_of(const char *cmd)
{
	static const struct {
		const char *cmd, *text;
	} lines[] = {
		{ "add", "usage: brugd -f CONFIG staff add USER --alias NAME --roles ROLE[,ROLE...]"
			 " --langs LANG[,LANG...] [--topics TOPIC[,TOPIC...]] [--max-chats N]" },
		{ "list", "usage: brugd -f CONFIG staff list" },
		{ "disable", "usage: brugd -f CONFIG staff disable USER" },
		{ "passwd", "usage: brugd -f CONFIG staff passwd USER" },
		{ "totp", "usage: brugd -f CONFIG staff totp USER" },
		{ "code", "usage: brugd -f CONFIG staff code USER   (local demos and scripts only)" },
	};

	for (size_t i = 0; cmd != NULL && i < sizeof lines / sizeof lines[0]; i++)
		if (strcmp(lines[i].cmd, cmd) == 0)
			return lines[i].text;
	return "usage: brugd -f CONFIG staff add|list|disable|passwd|totp|code|help ...";
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A wrong command line: the error, then that command's usage line. */
static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "brugd: staff%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s\n", usage_of(cmd));
	return CLI_USAGE;
}

/* ---- the database ------------------------------------------------------- */

/* Create dir and any missing parents with mode 0700. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof path)
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(dir, &sb) != 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

static struct staff *open_staff(const struct config *cfg, const char *cmd)
{
	char path[PATH_MAX];
	struct staff *st;
	int r;

	if (cfg->state_dir == NULL || cfg->state_dir[0] == '\0') {
		complain(cmd, "no state directory configured");
		return NULL;
	}
	r = make_dirs(cfg->state_dir);
	if (r != 0) {
		complain(cmd, "cannot create the state directory %s: %s", cfg->state_dir, strerror(-r));
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/brug.db", cfg->state_dir) >= sizeof path) {
		complain(cmd, "the state directory path is too long");
		return NULL;
	}
	st = staff_open(path, NULL);
	if (st == NULL)
		complain(cmd, "cannot open the staff database %s", path);
	return st;
}

/* ---- reading a password ------------------------------------------------- */

/* The terminal's settings while echo is off, for the signal handler. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty_and_die(int sig)
{
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
#define N_TTY_SIGNALS (sizeof tty_signals / sizeof tty_signals[0])

/*
 * Read one line from stdin into buf (size bytes) without the line end
 * ("\n" or "\r\n"). Reads byte by byte with read(2) so that no stdio buffer
 * keeps a copy of the password. Returns 0, or -1 with *err set: nothing
 * read, a line longer than size - 1 bytes, a NUL byte, or a read error.
 */
static int read_line(char *buf, size_t size, const char **err)
{
	size_t n = 0;
	bool too_long = false, nul = false;
	char c;

	for (;;) {
		ssize_t got = read(STDIN_FILENO, &c, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*err = "cannot read the password from standard input";
			goto fail;
		}
		if (got == 0) {
			if (n == 0 && !too_long) {
				*err = "no password on standard input";
				goto fail;
			}
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0')
			nul = true;
		if (n + 1 >= size) {
			too_long = true;
			continue;
		}
		buf[n++] = c;
	}
	if (too_long) {
		*err = "the password must be at most 1024 bytes long";
		goto fail;
	}
	/* A NUL would silently cut the password short. */
	if (nul) {
		*err = "the password must not contain NUL bytes";
		goto fail;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	sodium_memzero(&c, sizeof c);
	return 0;

fail:
	sodium_memzero(buf, size);
	sodium_memzero(&c, sizeof c);
	return -1;
}

/* Like read_line(), but on a terminal show prompt on stderr and turn echo
 * off while the line is typed. */
static int read_password(const char *prompt, char *buf, size_t size, const char **err)
{
	struct sigaction sa, old[N_TTY_SIGNALS];
	struct termios quiet;
	int r;

	if (!isatty(STDIN_FILENO))
		return read_line(buf, size, err);
	if (tcgetattr(STDIN_FILENO, &saved_tty) != 0) {
		*err = "cannot read the terminal's settings";
		return -1;
	}
	/* If we are killed with echo off, put the terminal back first. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = restore_tty_and_die;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &sa, &old[i]);
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	fputs(prompt, stderr);
	fflush(stderr);
	tty_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
		*err = "cannot turn off the terminal's echo";
		r = -1;
	} else {
		r = read_line(buf, size, err);
	}
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	fputc('\n', stderr);
	for (size_t i = 0; i < N_TTY_SIGNALS; i++)
		sigaction(tty_signals[i], &old[i], NULL);
	return r;
}

/*
 * Get a new password for user into buf (STAFF_PASSWORD_MAX + 2 bytes): one
 * line from a pipe, or typed twice on a terminal; then checked against the
 * password rules. Returns 0, or CLI_ERROR after saying why.
 */
static int get_new_password(const char *cmd, const char *user, char *buf, size_t size)
{
	char again[STAFF_PASSWORD_MAX + 2], prompt[128];
	const char *err = NULL;
	int r = CLI_ERROR;

	snprintf(prompt, sizeof prompt, "Password for %s: ", user);
	if (read_password(prompt, buf, size, &err) != 0) {
		complain(cmd, "%s", err);
		return CLI_ERROR;
	}
	if (staff_check_password(buf, &err) != 0) {
		complain(cmd, "%s", err);
		goto wipe;
	}
	if (isatty(STDIN_FILENO)) {
		if (read_password("Repeat the password: ", again, sizeof again, &err) != 0) {
			complain(cmd, "%s", err);
			goto wipe;
		}
		if (strcmp(buf, again) != 0) {
			complain(cmd, "the passwords do not match");
			goto wipe;
		}
	}
	r = CLI_OK;
wipe:
	sodium_memzero(again, sizeof again);
	if (r != CLI_OK)
		sodium_memzero(buf, size);
	return r;
}

/* Print user's otpauth:// URI on stdout, one line (scripts read it). */
static int print_uri(struct staff *st, const char *cmd, const char *user)
{
	char *uri = NULL;
	int r;

	r = staff_totp_uri(st, user, &uri);
	if (r != 0) {
		complain(cmd, "cannot read the second factor of '%s'", user);
		return CLI_ERROR;
	}
	printf("%s\n", uri);
	sodium_memzero(uri, strlen(uri));
	free(uri);
	if (fflush(stdout) != 0) {
		complain(cmd, "cannot write: %s", strerror(errno));
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* ---- staff add ---------------------------------------------------------- */

/* Print "a, b, c" (or "none") for a list of n names into out. */
static void join_names(char *const *names, unsigned n, char *out, size_t size)
{
	size_t used = 0;

	out[0] = '\0';
	if (n == 0) {
		snprintf(out, size, "none");
		return;
	}
	for (unsigned i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "", names[i]);
}

/*
 * Check a comma-separated list against the configured names (names, n);
 * what is "language" or "topic" for the messages. Duplicates and empty
 * items are refused. Returns 0 or CLI_ERROR after saying why.
 */
static int check_list(const char *cmd, const char *what, const char *list, char *const *names,
		      unsigned n, bool allow_empty)
{
	char item[LIST_ITEM_MAX], configured[1024];
	const char *p = list, *end;

	if (*list == '\0') {
		if (allow_empty)
			return CLI_OK;
		complain(cmd, "at least one %s is needed", what);
		return CLI_ERROR;
	}
	for (;; p = end + 1) {
		size_t len;
		bool known = false;

		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0) {
			complain(cmd, "empty %s in '%s'", what, list);
			return CLI_ERROR;
		}
		snprintf(item, sizeof item, "%.*s", (int)len, p);
		for (unsigned i = 0; i < n && !known; i++)
			known = strlen(names[i]) == len && strncmp(names[i], p, len) == 0;
		if (!known || len >= sizeof item) {
			join_names(names, n, configured, sizeof configured);
			complain(cmd, "unknown %s '%s' (configured: %s)", what, item, configured);
			return CLI_ERROR;
		}
		/* A second occurrence later in the list is a duplicate. */
		for (const char *q = end; *q != '\0';) {
			const char *qe = strchr(q + 1, ',');
			size_t ql;

			q++;
			if (qe == NULL)
				qe = q + strlen(q);
			ql = (size_t)(qe - q);
			if (ql == len && strncmp(q, p, len) == 0) {
				complain(cmd, "%s '%s' is given twice", what, item);
				return CLI_ERROR;
			}
			q = qe;
		}
		if (*end == '\0')
			return CLI_OK;
	}
}

/* Parse "volunteer,professional" into role bits. */
static int parse_roles(const char *cmd, const char *list, uint32_t *roles)
{
	char item[LIST_ITEM_MAX];
	const char *p = list, *end;
	uint32_t bit;

	*roles = 0;
	if (*list == '\0') {
		complain(cmd, "at least one role is needed");
		return CLI_ERROR;
	}
	for (;; p = end + 1) {
		size_t len;

		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (len == 0) {
			complain(cmd, "empty role in '%s'", list);
			return CLI_ERROR;
		}
		snprintf(item, sizeof item, "%.*s", (int)len, p);
		bit = len < sizeof item ? brug_role_parse(item) : 0;
		if (bit == 0) {
			complain(cmd, "unknown role '%s' (roles: volunteer, keyperson, professional, coordinator)",
				 item);
			return CLI_ERROR;
		}
		*roles |= bit;
		if (*end == '\0')
			return CLI_OK;
	}
}

static int parse_max_chats(const char *cmd, const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 || v > STAFF_MAX_CHATS_MAX) {
		complain(cmd, "--max-chats must be a number from 1 to %d, not '%s'", STAFF_MAX_CHATS_MAX, s);
		return CLI_ERROR;
	}
	*out = (unsigned)v;
	return CLI_OK;
}

/* The options of "staff add", in the order of the option table below. */
enum { OPT_ALIAS, OPT_ROLES, OPT_LANGS, OPT_TOPICS, OPT_MAX_CHATS, N_OPTS };

static const char *const add_options[N_OPTS] = {
	[OPT_ALIAS] = "alias",
	[OPT_ROLES] = "roles",
	[OPT_LANGS] = "langs",
	[OPT_TOPICS] = "topics",
	[OPT_MAX_CHATS] = "max-chats",
};

/* Parse "USER --opt VALUE --opt=VALUE ..." after "staff add". */
static int parse_add_args(int argc, char **argv, const char **user, const char *opt[N_OPTS])
{
	bool options_done = false;

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		size_t name_len;
		int o;

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (*user != NULL)
				return usage_error("add", "unexpected argument '%s'", arg);
			*user = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (arg[1] != '-')
			return usage_error("add", "unknown option '%s'", arg);
		arg += 2;
		name_len = strcspn(arg, "=");
		for (o = 0; o < N_OPTS; o++)
			if (strlen(add_options[o]) == name_len && strncmp(add_options[o], arg, name_len) == 0)
				break;
		if (o == N_OPTS)
			return usage_error("add", "unknown option '--%.*s'", (int)name_len, arg);
		if (arg[name_len] == '=')
			value = arg + name_len + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return usage_error("add", "--%s needs a value", add_options[o]);
		if (opt[o] != NULL)
			return usage_error("add", "--%s is given twice", add_options[o]);
		opt[o] = value;
	}
	if (*user == NULL)
		return usage_error("add", "which user? (staff add USER --alias ...)");
	for (int o = OPT_ALIAS; o <= OPT_LANGS; o++)
		if (opt[o] == NULL)
			return usage_error("add", "--%s is required", add_options[o]);
	return CLI_OK;
}

static int cmd_add(const struct config *cfg, int argc, char **argv)
{
	const char *user = NULL, *opt[N_OPTS] = { 0 }, *why = NULL;
	char password[STAFF_PASSWORD_MAX + 2];
	struct staff_account a = { 0 }, existing;
	struct staff *st = NULL;
	int r;

	r = parse_add_args(argc, argv, &user, opt);
	if (r != CLI_OK)
		return r;
	/* Every field is checked before the password is asked for. */
	a.username = (char *)user;
	a.alias = (char *)opt[OPT_ALIAS];
	a.langs = (char *)opt[OPT_LANGS];
	a.topics = (char *)(opt[OPT_TOPICS] != NULL ? opt[OPT_TOPICS] : "");
	a.max_chats = STAFF_MAX_CHATS_DEFAULT;
	if (parse_roles("add", opt[OPT_ROLES], &a.roles) != CLI_OK ||
	    check_list("add", "language", a.langs, cfg->langs, cfg->n_langs, false) != CLI_OK ||
	    check_list("add", "topic", a.topics, cfg->topics, cfg->n_topics, true) != CLI_OK ||
	    (opt[OPT_MAX_CHATS] != NULL &&
	     parse_max_chats("add", opt[OPT_MAX_CHATS], &a.max_chats) != CLI_OK))
		return CLI_ERROR;
	if (staff_check_account(&a, &why) != 0) {
		complain("add", "%s", why);
		return CLI_ERROR;
	}
	st = open_staff(cfg, "add");
	if (st == NULL)
		return CLI_ERROR;
	r = staff_get(st, user, &existing);
	staff_account_fini(&existing);
	if (r == 0) {
		complain("add", "user '%s' already exists", user);
		r = CLI_ERROR;
		goto close;
	}
	if (r != BRUG_E_NOT_FOUND) {
		complain("add", "cannot read the staff database");
		r = CLI_ERROR;
		goto close;
	}
	r = get_new_password("add", user, password, sizeof password);
	if (r != CLI_OK)
		goto close;
	r = staff_add(st, &a, password, STAFF_ACTOR_CLI, &why);
	sodium_memzero(password, sizeof password);
	if (r == 0)
		r = print_uri(st, "add", user);
	else if (r == BRUG_E_CONFLICT) {
		complain("add", "user '%s' already exists", user);
		r = CLI_ERROR;
	} else if (r == BRUG_E_BAD_FIELD) {
		complain("add", "%s", why);
		r = CLI_ERROR;
	} else if (r != 0) {
		complain("add", "cannot add the account (database error)");
		r = CLI_ERROR;
	}
close:
	staff_close(st);
	return r;
}

/* ---- staff list --------------------------------------------------------- */

enum { COL_USER, COL_ALIAS, COL_ROLES, COL_LANGS, COL_TOPICS, COL_MAX, COL_DISABLED, COL_TOTP,
       N_COLS };

static const char *const col_titles[N_COLS] = {
	"USERNAME", "ALIAS", "ROLES", "LANGS", "TOPICS", "MAX_CHATS", "DISABLED", "TOTP",
};

struct table {
	size_t width[N_COLS]; /* in characters */
	bool print;           /* false: measuring, true: printing */
};

/* Width on a terminal, counted as code points (good enough for aliases in
 * the scripts we serve; wide CJK characters would need wcwidth). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void table_row(struct table *t, const char *const cells[N_COLS])
{
	for (int c = 0; c < N_COLS; c++) {
		size_t w = text_width(cells[c]);

		if (!t->print) {
			if (w > t->width[c])
				t->width[c] = w;
			continue;
		}
		fputs(cells[c], stdout);
		if (c + 1 < N_COLS)
			printf("%*s", (int)(t->width[c] - w + 2), "");
	}
	if (t->print)
		putchar('\n');
}

static int list_row(const struct staff_account *a, void *ctx)
{
	char roles[128] = "", max[16];
	const char *cells[N_COLS];
	size_t used = 0;

	for (uint32_t bit = 1; bit <= BRUG_ROLE_ALL; bit <<= 1) {
		const char *name = brug_role_name(bit);

		if ((a->roles & bit) && name != NULL && used < sizeof roles)
			used += (size_t)snprintf(roles + used, sizeof roles - used, "%s%s",
						 used > 0 ? "," : "", name);
	}
	snprintf(max, sizeof max, "%u", a->max_chats);
	cells[COL_USER] = a->username;
	cells[COL_ALIAS] = a->alias;
	cells[COL_ROLES] = roles;
	cells[COL_LANGS] = a->langs;
	cells[COL_TOPICS] = a->topics[0] != '\0' ? a->topics : "-";
	cells[COL_MAX] = max;
	cells[COL_DISABLED] = a->disabled ? "yes" : "no";
	cells[COL_TOTP] = a->totp ? "yes" : "no";
	table_row(ctx, cells);
	return 0;
}

static int cmd_list(const struct config *cfg, int argc, char **argv)
{
	struct table t = { .print = false };
	struct staff *st;
	int r;

	if (argc > 2)
		return usage_error("list", "unexpected argument '%s'", argv[2]);
	st = open_staff(cfg, "list");
	if (st == NULL)
		return CLI_ERROR;
	/* Measure, then print: two passes instead of holding every row. */
	table_row(&t, col_titles);
	r = staff_list(st, list_row, &t);
	if (r == 0) {
		t.print = true;
		table_row(&t, col_titles);
		r = staff_list(st, list_row, &t);
	}
	staff_close(st);
	if (r != 0) {
		complain("list", "cannot read the staff database");
		return CLI_ERROR;
	}
	if (fflush(stdout) != 0) {
		complain("list", "cannot write: %s", strerror(errno));
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* ---- staff disable, staff passwd ---------------------------------------- */

static int cmd_disable(const struct config *cfg, int argc, char **argv)
{
	struct staff *st;
	int r;

	if (argc != 3)
		return usage_error("disable", argc < 3 ? "which user?" : "too many arguments");
	st = open_staff(cfg, "disable");
	if (st == NULL)
		return CLI_ERROR;
	r = staff_disable(st, argv[2], STAFF_ACTOR_CLI);
	staff_close(st);
	if (r == BRUG_E_NOT_FOUND) {
		complain("disable", "no such user '%s'", argv[2]);
		return CLI_ERROR;
	}
	if (r != 0) {
		complain("disable", "cannot disable the account (database error)");
		return CLI_ERROR;
	}
	return CLI_OK;
}

static int cmd_passwd(const struct config *cfg, int argc, char **argv)
{
	char password[STAFF_PASSWORD_MAX + 2];
	struct staff_account existing;
	struct staff *st;
	const char *why = NULL;
	int r;

	if (argc != 3)
		return usage_error("passwd", argc < 3 ? "which user?" : "too many arguments");
	st = open_staff(cfg, "passwd");
	if (st == NULL)
		return CLI_ERROR;
	r = staff_get(st, argv[2], &existing);
	staff_account_fini(&existing);
	if (r != 0) {
		if (r == BRUG_E_NOT_FOUND)
			complain("passwd", "no such user '%s'", argv[2]);
		else
			complain("passwd", "cannot read the staff database");
		r = CLI_ERROR;
		goto close;
	}
	r = get_new_password("passwd", argv[2], password, sizeof password);
	if (r != CLI_OK)
		goto close;
	r = staff_set_password(st, argv[2], password, STAFF_ACTOR_CLI, &why);
	sodium_memzero(password, sizeof password);
	if (r == BRUG_E_NOT_FOUND) {
		complain("passwd", "no such user '%s'", argv[2]);
		r = CLI_ERROR;
	} else if (r == BRUG_E_BAD_FIELD) {
		complain("passwd", "%s", why);
		r = CLI_ERROR;
	} else if (r != 0) {
		complain("passwd", "cannot set the password (database error)");
		r = CLI_ERROR;
	}
close:
	staff_close(st);
	return r;
}

/* ---- staff totp, staff code -------------------------------------------- */

static int cmd_totp(const struct config *cfg, int argc, char **argv)
{
	struct staff *st;
	char *uri = NULL;
	int r;

	if (argc != 3)
		return usage_error("totp", argc < 3 ? "which user?" : "too many arguments");
	st = open_staff(cfg, "totp");
	if (st == NULL)
		return CLI_ERROR;
	r = staff_totp_reset(st, argv[2], STAFF_ACTOR_CLI, &uri);
	staff_close(st);
	if (r == BRUG_E_NOT_FOUND) {
		complain("totp", "no such user '%s'", argv[2]);
		return CLI_ERROR;
	}
	if (r != 0) {
		complain("totp", "cannot set a new secret (database error)");
		return CLI_ERROR;
	}
	printf("%s\n", uri);
	sodium_memzero(uri, strlen(uri));
	free(uri);
	if (fflush(stdout) != 0) {
		complain("totp", "cannot write: %s", strerror(errno));
		return CLI_ERROR;
	}
	return CLI_OK;
}

/* The current code, for local demos and scripts: whoever can run this can
 * read the database anyway, so it gives away nothing they do not have. */
static int cmd_code(const struct config *cfg, int argc, char **argv)
{
	char code[TOTP_DIGITS + 1];
	struct staff *st;
	int r;

	if (argc != 3)
		return usage_error("code", argc < 3 ? "which user?" : "too many arguments");
	st = open_staff(cfg, "code");
	if (st == NULL)
		return CLI_ERROR;
	r = staff_totp_code(st, argv[2], (int64_t)time(NULL), code);
	staff_close(st);
	if (r == BRUG_E_NOT_FOUND) {
		complain("code", "no such user '%s', or it has no second factor", argv[2]);
		return CLI_ERROR;
	}
	if (r != 0) {
		complain("code", "cannot read the second factor (database error)");
		return CLI_ERROR;
	}
	printf("%s\n", code);
	sodium_memzero(code, sizeof code);
	return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(const struct config *cfg, int argc, char **argv);
} commands[] = {
	{ "add", cmd_add },
	{ "list", cmd_list },
	{ "disable", cmd_disable },
	{ "passwd", cmd_passwd },
	{ "totp", cmd_totp },
	{ "code", cmd_code },
};

int cli_staff(const struct config *cfg, int argc, char **argv)
{
	const char *cmd;

	if (cfg == NULL || argc < 1 || argv == NULL)
		return CLI_USAGE;
	if (argc < 2)
		return usage_error(NULL, "which command?");
	cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, cmd) == 0)
			return commands[i].run(cfg, argc, argv);
	return usage_error(NULL, "unknown command '%s'", cmd);
}
