/* brugd's administrative commands ("brugd -f CONFIG staff ..."), run instead
 * of the server after the config is loaded. */
#ifndef BRUG_CLI_H
#define BRUG_CLI_H

struct config;

/*
 * Run "staff add|list|disable|passwd|totp|code|help ..." on the staff database
 * <cfg->state_dir>/brug.db (the state dir is created with mode 0700 if
 * missing). argv[0] is "staff"; argc counts it. Passwords are read from
 * standard input, one line, without echo on a terminal. Errors are one line
 * on stderr. add and totp print the account's otpauth:// URI on stdout,
 * code the current TOTP code (local demos only). Returns the exit status:
 * 0 ok, 1 error, 2 usage. cfg and argv are borrowed.
 */
int cli_staff(const struct config *cfg, int argc, char **argv);

#endif
