/* daemons.c: parsing the [daemons] process table into argv vectors. */
#include "daemons.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

int daemons_split(const char *cmdline, char **words, size_t max, size_t *argc, char *err,
                  size_t errlen)
{
	size_t n = 0;
	const char *p = cmdline;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == max) {
			snprintf(err, errlen, "more than %zu words in the command", max);
			goto fail;
		}
		struct buf w = {.max = 4096};
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '"') {
				const char *q = strchr(p + 1, '"');
				if (!q) {
					snprintf(err, errlen, "unclosed double quote");
					buf_free(&w);
					goto fail;
				}
				if (buf_append(&w, p + 1, (size_t)(q - p - 1)) < 0) {
					snprintf(err, errlen, "a word longer than 4096 bytes");
					buf_free(&w);
					goto fail;
				}
				p = q + 1;
			} else {
				if (buf_append(&w, p, 1) < 0) {
					snprintf(err, errlen, "a word longer than 4096 bytes");
					buf_free(&w);
					goto fail;
				}
				p++;
			}
		}
		words[n++] = w.data ? w.data : xstrdup("");
	}
	if (n == 0) {
		snprintf(err, errlen, "empty command");
		return -1;
	}
	*argc = n;
	return 0;
fail:
	while (n > 0)
		free(words[--n]);
	return -1;
}

static int daemons_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= DAEMONS_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

void daemons_load(struct config *cfg, const char *bindir, const char *config_path,
                  struct daemon_spec **out, size_t *n)
{
	size_t ne;
	const struct config_entry *e = config_entries(cfg, &ne);
	struct daemon_spec *d = xcalloc(DAEMONS_MAX, sizeof(*d));
	size_t nd = 0;
	for (size_t i = 0; i < ne; i++) {
		if (strcmp(e[i].section, "daemons") != 0)
			continue;
		/* Mark the key read; the last value is what config_str sees, so a
		 * repeated name is reported below instead of silently winning. */
		config_str(cfg, "daemons", e[i].key, NULL);
		int dup = 0;
		for (size_t k = 0; k < nd; k++)
			if (strcmp(d[k].name, e[i].key) == 0)
				dup = 1;
		if (dup) {
			config_error(cfg, "daemons", e[i].key,
			             "listed twice; name each daemon once");
			continue;
		}
		if (!daemons_name_ok(e[i].key)) {
			config_error(cfg, "daemons", e[i].key,
			             "a daemon name is 1 to %d of a-z 0-9 - _",
			             DAEMONS_NAME_MAX - 1);
			continue;
		}
		if (nd == DAEMONS_MAX) {
			config_error(cfg, "daemons", e[i].key, "more than %d daemons", DAEMONS_MAX);
			break;
		}
		char *words[DAEMONS_ARGS_MAX];
		size_t nw;
		char err[128];
		if (daemons_split(e[i].value, words, DAEMONS_ARGS_MAX, &nw, err, sizeof(err)) < 0) {
			config_error(cfg, "daemons", e[i].key, "%s", err);
			continue;
		}
		struct daemon_spec *s = &d[nd++];
		str_copy(s->name, sizeof(s->name), e[i].key);
		s->cmdline = xstrdup(e[i].value);
		s->line = e[i].line;
		s->path = strchr(words[0], '/') ? xstrdup(words[0])
		                                : xasprintf("%s/%s", bindir, words[0]);
		s->argv = xcalloc(nw + 3, sizeof(char *));
		s->argv[0] = xstrdup(s->path);
		s->argv[1] = xstrdup("-c");
		s->argv[2] = xstrdup(config_path);
		for (size_t k = 1; k < nw; k++)
			s->argv[k + 2] = words[k];
		free(words[0]);
	}
	*out = d;
	*n = nd;
}

void daemons_spec_free(struct daemon_spec *s)
{
	free(s->cmdline);
	free(s->path);
	for (char **a = s->argv; a && *a; a++)
		free(*a);
	free(s->argv);
	memset(s, 0, sizeof(*s));
}

void daemons_free(struct daemon_spec *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		daemons_spec_free(&d[i]);
	free(d);
}
