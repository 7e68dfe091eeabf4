/*
 * slack_cmd.c: parse the text of `/incident ...` (and of an @opsbot
 * mention) into a command.  Pure: no I/O, so it is tested on its own.
 *
 *   declare <service> [sev=<critical|high|medium|low|info>] <summary...>
 *   status [id]       list                 help
 *   resolve <id> [note...]   pause <id>    resume <id>
 *
 * An id may be written "12" or "#12".  Anything else is SLACK_CMD_BAD with a
 * one-line reason; the caller answers it with the help text.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "slack.h"

const char slack_cmd_help[] =
    "*/incident* commands:\n"
    "• `/incident declare <service> [sev=high] <summary>` opens an incident and a thread "
    "in this channel\n"
    "• `/incident status [id]` shows one incident, or every open one\n"
    "• `/incident list` lists open incidents\n"
    "• `/incident resolve <id> [note]` closes an incident by hand\n"
    "• `/incident pause <id>` and `/incident resume <id>` hold and continue the work\n"
    "• `/incident help` shows this";

static const char *skip_ws(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* Copy the next word into w; returns the rest. */
static const char *word(const char *s, char *w, size_t wlen)
{
	size_t n = 0;
	s = skip_ws(s);
	while (*s && !isspace((unsigned char)*s)) {
		if (n + 1 < wlen)
			w[n++] = *s;
		s++;
	}
	w[n] = '\0';
	return s;
}

static int parse_id(const char *w, int64_t *id)
{
	char *end;
	long long v;
	if (*w == '#')
		w++;
	if (!isdigit((unsigned char)*w))
		return -1;
	errno = 0;
	v = strtoll(w, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	*id = v;
	return 0;
}

static int service_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.' && *s != '/')
			return 0;
	return 1;
}

static void bad(struct slack_cmd *c, const char *why)
{
	c->kind = SLACK_CMD_BAD;
	str_copy(c->err, sizeof c->err, why);
}

void slack_cmd_parse(const char *text, struct slack_cmd *c)
{
	static const char *const sevs[] = {"critical", "high", "medium", "low", "info", NULL};
	char verb[32], w[128];
	const char *rest;

	memset(c, 0, sizeof *c);
	rest = word(text ? text : "", verb, sizeof verb);
	for (char *p = verb; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	if (!*verb || !strcmp(verb, "help")) {
		c->kind = SLACK_CMD_HELP;
		return;
	}
	if (!strcmp(verb, "list")) {
		c->kind = SLACK_CMD_LIST;
		if (*skip_ws(rest))
			bad(c, "`list` takes no arguments");
		return;
	}
	if (!strcmp(verb, "status")) {
		c->kind = SLACK_CMD_STATUS;
		rest = word(rest, w, sizeof w);
		if (*w && parse_id(w, &c->incident) < 0)
			bad(c, "`status` takes an incident number, like `/incident status 12`");
		else if (*skip_ws(rest))
			bad(c, "`status` takes at most one incident number");
		return;
	}
	if (!strcmp(verb, "resolve") || !strcmp(verb, "pause") || !strcmp(verb, "resume")) {
		c->kind = !strcmp(verb, "resolve") ? SLACK_CMD_RESOLVE
		          : !strcmp(verb, "pause") ? SLACK_CMD_PAUSE
		                                   : SLACK_CMD_RESUME;
		rest = word(rest, w, sizeof w);
		if (parse_id(w, &c->incident) < 0) {
			char msg[160];
			snprintf(msg, sizeof msg,
			         "`%s` needs an incident number, like `/incident %s 12`", verb,
			         verb);
			bad(c, msg);
			return;
		}
		rest = skip_ws(rest);
		if (c->kind == SLACK_CMD_RESOLVE)
			str_copy(c->text, sizeof c->text, rest);
		else if (*rest)
			bad(c, "`pause` and `resume` take only an incident number");
		return;
	}
	if (!strcmp(verb, "declare")) {
		c->kind = SLACK_CMD_DECLARE;
		str_copy(c->severity, sizeof c->severity, "high");
		rest = word(rest, w, sizeof w);
		if (!service_ok(w) || strlen(w) >= sizeof c->service) {
			bad(c, "`declare` needs a service name (letters, digits, - _ . /) and a "
			       "summary, like `/incident declare checkout p99 latency over 2s`");
			return;
		}
		str_copy(c->service, sizeof c->service, w);
		rest = skip_ws(rest);
		if (!strncasecmp(rest, "sev=", 4)) {
			const char *after = word(rest, w, sizeof w);
			int ok = 0;
			for (int i = 0; sevs[i]; i++)
				if (!strcasecmp(w + 4, sevs[i])) {
					str_copy(c->severity, sizeof c->severity, sevs[i]);
					ok = 1;
				}
			if (!ok) {
				bad(c, "severity must be one of critical, high, medium, low, info");
				return;
			}
			rest = skip_ws(after);
		}
		if (!*rest) {
			bad(c, "`declare` needs a summary after the service name");
			return;
		}
		if (str_copy(c->text, sizeof c->text, rest) < 0) {
			bad(c, "the summary is too long (at most 1000 characters)");
			return;
		}
		/* trailing white space is not part of the summary */
		for (size_t n = strlen(c->text); n && isspace((unsigned char)c->text[n - 1]); n--)
			c->text[n - 1] = '\0';
		return;
	}
	{
		char msg[160];
		snprintf(msg, sizeof msg, "I don't know the command `%.40s`", verb);
		bad(c, msg);
	}
}
