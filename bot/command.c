/*
 * command.c: `/incident ...` from Slack text or Discord options into one
 * struct cmd, and that into one queue request (see command.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "defaults.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "severity.h"
#include "step.h"
#include "submit.h"
#include "template.h"
#include "utf8.h"
#include "wire.h"

/* Copy s cut to max characters (step_clamp) into dst. */
static void clamp_into(char *dst, size_t len, const char *s, size_t max)
{
	char *c = step_clamp(s, max);
	str_copy(dst, len, c);
	free(c);
}

const char *cmd_action(enum cmd_kind kind)
{
	switch (kind) {
	case CMD_RESOLVE:
		return "resolve";
	case CMD_PAUSE:
		return "pause";
	case CMD_RESUME:
		return "resume";
	default:
		return NULL;
	}
}

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

/* Not understood: code names the case (the templates' why_text words it). */
static void bad_arg(struct cmd *c, const char *code, const char *arg)
{
	c->kind = CMD_BAD;
	str_copy(c->err, sizeof c->err, code);
	utf8_copy(c->err_arg, sizeof c->err_arg, arg);
}

static void bad(struct cmd *c, const char *code)
{
	bad_arg(c, code, "");
}

void cmd_parse_text(const char *text, struct cmd *c)
{
	char verb[32], w[128];
	const char *rest;

	memset(c, 0, sizeof *c);
	rest = word(text ? text : "", verb, sizeof verb);
	for (char *p = verb; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	if (!*verb || !strcmp(verb, "help")) {
		c->kind = CMD_HELP;
		return;
	}
	if (!strcmp(verb, "list")) {
		c->kind = CMD_LIST;
		if (*skip_ws(rest))
			bad(c, "list_args");
		return;
	}
	if (!strcmp(verb, "status")) {
		c->kind = CMD_STATUS;
		rest = word(rest, w, sizeof w);
		if (*w && parse_id(w, &c->incident) < 0)
			bad(c, "status_id");
		else if (*skip_ws(rest))
			bad(c, "status_extra");
		return;
	}
	if (!strcmp(verb, "resolve") || !strcmp(verb, "pause") || !strcmp(verb, "resume")) {
		c->kind = !strcmp(verb, "resolve") ? CMD_RESOLVE
		          : !strcmp(verb, "pause") ? CMD_PAUSE
		                                   : CMD_RESUME;
		rest = word(rest, w, sizeof w);
		if (parse_id(w, &c->incident) < 0) {
			bad_arg(c, "need_id", verb);
			return;
		}
		rest = skip_ws(rest);
		if (c->kind == CMD_RESOLVE)
			str_copy(c->text, sizeof c->text, rest);
		else if (*rest)
			bad(c, "id_only");
		return;
	}
	if (!strcmp(verb, "declare")) {
		c->kind = CMD_DECLARE;
		str_copy(c->severity, sizeof c->severity, "high");
		rest = word(rest, w, sizeof w);
		if (!service_ok(w) || strlen(w) >= sizeof c->service) {
			bad(c, "declare_service");
			return;
		}
		str_copy(c->service, sizeof c->service, w);
		rest = skip_ws(rest);
		if (!strncasecmp(rest, "sev=", 4)) {
			const char *after = word(rest, w, sizeof w);
			const char *sev = severity_canon(w + 4);
			if (!sev) {
				bad_arg(c, "severity", severity_list());
				return;
			}
			str_copy(c->severity, sizeof c->severity, sev);
			rest = skip_ws(after);
		}
		if (!*rest) {
			bad(c, "declare_summary");
			return;
		}
		if (str_copy(c->text, sizeof c->text, rest) < 0) {
			bad(c, "summary_long");
			return;
		}
		/* trailing white space is not part of the summary */
		for (size_t n = strlen(c->text); n && isspace((unsigned char)c->text[n - 1]); n--)
			c->text[n - 1] = '\0';
		clamp_into(c->title, sizeof c->title, c->text, DEF_TITLE_MAX);
		return;
	}
	bad_arg(c, "unknown", verb);
}

/* The value of option `name` among opts, or NULL. */
static const cJSON *opt(const cJSON *opts, const char *name)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, opts)
	{
		const char *n = json_str(o, "name");
		if (n && !strcmp(n, name))
			return cJSON_GetObjectItemCaseSensitive(o, "value");
	}
	return NULL;
}

void cmd_parse_options(const cJSON *data, struct cmd *c)
{
	const char *cname = json_str(data, "name");
	const cJSON *sub = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(data, "options"), 0);
	const char *sname = json_str(sub, "name");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(sub, "options");

	memset(c, 0, sizeof *c);
	if (!cname || strcmp(cname, CMD_NAME) || json_int(sub, "type", 0) != 1 || !sname) {
		bad(c, "no_subcommand");
		return;
	}
	if (!strcmp(sname, "help")) {
		c->kind = CMD_HELP;
		return;
	}
	if (!strcmp(sname, "list")) {
		c->kind = CMD_LIST;
		return;
	}
	if (!strcmp(sname, "declare")) {
		const cJSON *title = opt(opts, "title"), *service = opt(opts, "service");
		const cJSON *sev = opt(opts, "severity"), *summary = opt(opts, "summary");
		const char *canon = cJSON_IsString(sev) ? severity_canon(sev->valuestring) : NULL;
		if (!cJSON_IsString(title) || !*title->valuestring || (sev && !canon) ||
		    (service && (!cJSON_IsString(service) || !*service->valuestring)) ||
		    (summary && !cJSON_IsString(summary))) {
			bad(c, "declare_options");
			return;
		}
		c->kind = CMD_DECLARE;
		clamp_into(c->title, sizeof c->title, title->valuestring, 200);
		str_copy(c->service, sizeof c->service,
		         cJSON_IsString(service) ? service->valuestring : "unknown");
		str_copy(c->severity, sizeof c->severity, canon ? canon : SEVERITY_DEFAULT);
		if (summary)
			clamp_into(c->text, sizeof c->text, summary->valuestring, 1000);
		return;
	}
	const cJSON *idj = opt(opts, "id");
	int64_t id = cJSON_IsNumber(idj) && idj->valuedouble >= 1 && idj->valuedouble < 9e15
	                 ? (int64_t)idj->valuedouble
	                 : 0;
	if (!strcmp(sname, "status"))
		c->kind = CMD_STATUS;
	else if (!strcmp(sname, "resolve"))
		c->kind = CMD_RESOLVE;
	else if (!strcmp(sname, "pause"))
		c->kind = CMD_PAUSE;
	else if (!strcmp(sname, "resume"))
		c->kind = CMD_RESUME;
	else {
		bad(c, "unknown_sub");
		return;
	}
	if (id <= 0) {
		bad(c, "need_id_option");
		return;
	}
	c->incident = id;
	const cJSON *note = opt(opts, "note");
	if (c->kind == CMD_RESOLVE && cJSON_IsString(note))
		clamp_into(c->text, sizeof c->text, note->valuestring, 500);
}

cJSON *cmd_request(const struct cmd *c, const struct cmd_origin *o, const char *key)
{
	cJSON *req;

	switch (c->kind) {
	case CMD_DECLARE: {
		struct submit_incident s = {
		    .key = key,
		    .title = c->title,
		    .service = c->service,
		    .severity = c->severity,
		    .source = o->surface,
		    .summary = c->text[0] ? c->text : NULL,
		    .surface_kind = o->surface,
		    .channel = o->channel,
		    .user = o->user,
		    .user_id = o->user_id,
		};
		return submit_incident_new(&s);
	}
	case CMD_STATUS:
	case CMD_LIST:
		req = wire_new(WIRE_QUERY, c->incident);
		json_add_str(req, "what", c->incident ? "incident" : "incidents");
		if (!c->incident)
			json_add_int(req, "limit", 200);
		return req;
	case CMD_RESOLVE:
	case CMD_PAUSE:
	case CMD_RESUME:
		req = wire_new(WIRE_COMMAND, c->incident);
		json_add_str(req, "action", cmd_action(c->kind));
		json_add_str(req, "user", o->user);
		json_add_str(req, "surface", o->surface);
		if (c->kind == CMD_RESOLVE && c->text[0])
			json_add_str(req, "note", c->text);
		json_add_str(req, "key", key);
		return req;
	case CMD_HELP:
	case CMD_BAD:
		break;
	}
	return NULL;
}

#ifndef WIRE_JOB_DRYRUN
#define WIRE_JOB_DRYRUN "dryrun" /* what execute would run, running nothing */
#endif

int cmd_button_value(const char *value, int64_t *incident, char *arg, size_t arglen)
{
	char *end;
	long long id;

	if (!value || !isdigit((unsigned char)*value))
		return -1;
	errno = 0;
	id = strtoll(value, &end, 10);
	if (errno || id <= 0 || (*end && *end != ':'))
		return -1;
	*incident = id;
	arg[0] = '\0';
	if (*end == ':' && str_copy(arg, arglen, end + 1) < 0)
		return -1;
	return 0;
}

cJSON *cmd_button_request(const char *action, int64_t incident, const char *arg, const char *reason,
                          const struct cmd_origin *o, const char *key, const char **why)
{
	cJSON *req;

	*why = NULL;
	if (!action || incident <= 0) {
		*why = "button_unknown";
		return NULL;
	}
	if (!strcmp(action, STEP_ACT_APPROVE) || !strcmp(action, STEP_ACT_REJECT)) {
		if (!arg || !*arg) {
			*why = "button_no_plan";
			return NULL;
		}
		req = wire_new(WIRE_APPROVE, incident);
		json_add_str(req, "plan", arg);
		/* the queue judges by the id policy.conf names, not a display label */
		json_add_str(req, "user", o->user_id ? o->user_id : o->user);
		json_add_str(req, "surface", o->surface);
		json_add_str(req, "decision", action);
		if (reason && *reason)
			json_add_str(req, "reason", reason);
		json_add_str(req, "key", key);
		return req;
	}
	if (!strncmp(action, "step_", 5)) {
		const char *d = action + 5;
		if (strcmp(d, "retry") && strcmp(d, "skip") && strcmp(d, "abort")) {
			*why = "button_unknown";
			return NULL;
		}
		if (!arg || !*arg || strlen(arg) > WIRE_KEY_MAX) {
			*why = "button_no_step";
			return NULL;
		}
		req = wire_new(WIRE_LEDGER, incident);
		json_add_str(req, "op", "decide");
		json_add_str(req, "step_key", arg);
		json_add_str(req, "decision", d);
		/* judged like approve: by the id policy.conf names */
		json_add_str(req, "user", o->user_id ? o->user_id : o->user);
		json_add_str(req, "surface", o->surface);
		json_add_str(req, "key", key);
		return req;
	}
	if (!strcmp(action, STEP_ACT_DRYRUN)) {
		cJSON *job = json_new_object();
		req = wire_new(WIRE_SUBMIT, incident);
		json_add_str(req, "what", "job");
		json_add_str(req, "key", key);
		json_add_str(job, "kind", WIRE_JOB_DRYRUN);
		json_add(job, "input", json_new_object());
		json_add(req, "job", job);
		return req;
	}
	if (strcmp(action, STEP_ACT_ACK) && strcmp(action, STEP_ACT_RESOLVE) &&
	    strcmp(action, STEP_ACT_PAUSE) && strcmp(action, STEP_ACT_RESUME) &&
	    strcmp(action, STEP_ACT_RETRY)) {
		*why = "button_unknown";
		return NULL;
	}
	req = wire_new(WIRE_COMMAND, incident);
	json_add_str(req, "action", action);
	json_add_str(req, "user", o->user);
	json_add_str(req, "surface", o->surface);
	json_add_str(req, "key", key);
	if (!strcmp(action, STEP_ACT_RETRY)) {
		char *end = NULL;
		long long job = arg && *arg ? strtoll(arg, &end, 10) : 0;
		if (job <= 0 || (end && *end)) {
			cJSON_Delete(req);
			*why = "button_no_job";
			return NULL;
		}
		json_add_int(req, "job", job);
	}
	return req;
}

void cmd_set_message_incident(cJSON *req, int64_t incident)
{
	const char *type = json_str(req, "type");
	if (!req || incident <= 0 || !type || strcmp(type, "approve"))
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(req, "message_incident");
	json_add_int(req, "message_incident", incident);
}

cJSON *cmd_without_reason(const cJSON *req, const cJSON *reply, const char *err)
{
	const char *m = json_str(reply, "message");
	cJSON *copy;

	if (!req || !cJSON_GetObjectItemCaseSensitive(req, "reason"))
		return NULL;
	if (!(m && strstr(m, "'reason'")) && !(err && strstr(err, "'reason'")))
		return NULL;
	copy = json_dup(req);
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "reason");
	return copy;
}

char *cmd_why(const struct template_set *ts, const struct cmd *c)
{
	return cmd_why_code(ts, c->err, c->err_arg);
}

char *cmd_why_code(const struct template_set *ts, const char *code, const char *arg)
{
	struct buf out = {.max = 4096};
	char err[256];
	cJSON *ctx = json_new_object();
	json_add_bool(ctx, code, 1);
	json_add_str(ctx, "arg", arg ? arg : "");
	if (template_render(ts, "why_text", ctx, TEMPLATE_ESC_NONE, &out, err, sizeof err) < 0) {
		log_warn("event=template_failed template=why_text error=%s", log_q(err));
		buf_reset(&out);
	}
	cJSON_Delete(ctx);
	/* one case a line in the template: trim the blank lines around it */
	size_t lead = out.data ? strspn(out.data, "\n ") : 0, len = out.len;
	while (len > lead && (out.data[len - 1] == '\n' || out.data[len - 1] == ' '))
		len--;
	char *why = len > lead ? xstrndup(out.data + lead, len - lead) : xstrdup(code);
	buf_free(&out);
	return why;
}
