/*
 * daemons.h: the master's process table, read from the [daemons] section.
 *
 * Like Postfix's master.cf, one table says which daemons run:
 *
 *   [daemons]
 *   queue  = opsbot-queue
 *   detect = opsbot-detect --watch
 *
 * name = command line, in start order.  The command is split on blanks
 * ("double quotes" keep blanks in one argument; no shell is involved).  A
 * bare program name is looked up in the master's own bin directory.  Each
 * daemon gets "-c CONFIG" right after its program name.
 *
 * Ownership: daemons_load allocates the array and every string in it;
 * daemons_free releases them.
 */
#ifndef OPSBOT_DAEMONS_H
#define OPSBOT_DAEMONS_H

#include <stddef.h>

#include "config.h"

#define DAEMONS_MAX      32
#define DAEMONS_ARGS_MAX 32 /* words of one command line */
#define DAEMONS_NAME_MAX 32

struct daemon_spec {
	char name[DAEMONS_NAME_MAX];
	char *cmdline; /* as written in the file */
	char *path;    /* the program to exec */
	char **argv;   /* path, "-c", config, the other words; NULL-terminated */
	int line;      /* in the config file, for messages */
};

/*
 * Split cmdline into words (each allocated; *argc set).  -1 with err for an
 * unclosed quote, an empty line or more than max words.
 */
int daemons_split(const char *cmdline, char **words, size_t max, size_t *argc, char *err,
                  size_t errlen);

/*
 * Read [daemons] from cfg.  bindir resolves bare program names; config_path
 * is passed to every daemon.  Errors (bad name, repeated name, bad command
 * line) are recorded on cfg with config_error, so config_check reports them
 * with file:line; *out then holds the entries that were good.
 */
void daemons_load(struct config *cfg, const char *bindir, const char *config_path,
                  struct daemon_spec **out, size_t *n);
/* Free the array from daemons_load and everything in it. */
void daemons_free(struct daemon_spec *d, size_t n);
/* Free the strings of one entry (not the entry itself); zeroes it. */
void daemons_spec_free(struct daemon_spec *s);

#endif
