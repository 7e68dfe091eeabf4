/*
 * catalog.c: loading and checking the action catalog (see catalog.h).
 *
 * Invariants once catalog_load() returned 0:
 *   1. action names are unique and match [a-z][a-z0-9_]{0,47};
 *   2. every action has a description, exactly one of run/http, a risk and
 *      an explicit idempotent yes/no;
 *   3. every {placeholder} in run, http, body and verify names a parameter;
 *   4. every default passes its parameter's type;
 *   5. a rollback names another action whose required parameters exist here.
 */
#include "catalog.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#define CATALOG_MAX_ACTIONS 512
#define CATALOG_MAX_PARAMS  32
#define CATALOG_MAX_WORDS   128

static const char *const catalog_risks[] = {"low", "medium", "high", NULL};

const char *catalog_risk_name(enum catalog_risk r)
{
	return r <= CATALOG_RISK_HIGH ? catalog_risks[r] : "unknown";
}

int catalog_risk_parse(const char *s, enum catalog_risk *out)
{
	for (int i = 0; catalog_risks[i]; i++)
		if (strcmp(s, catalog_risks[i]) == 0) {
			*out = (enum catalog_risk)i;
			return 0;
		}
	return -1;
}

static int catalog_name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static void catalog_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Split on blanks (or commas when commas is set) into a NULL-terminated vector. */
static char **catalog_split(const char *s, int commas, size_t *n)
{
	char **v = NULL;
	size_t cnt = 0;
	const char *p = s;
	while (*p) {
		while (*p && (isspace((unsigned char)*p) || (commas && *p == ',')))
			p++;
		if (!*p)
			break;
		const char *st = p;
		while (*p && !(commas ? *p == ',' : isspace((unsigned char)*p)))
			p++;
		const char *en = p;
		while (en > st && isspace((unsigned char)en[-1]))
			en--;
		v = xrealloc(v, (cnt + 2) * sizeof(*v));
		v[cnt++] = xstrndup(st, (size_t)(en - st));
		v[cnt] = NULL;
	}
	if (!v) {
		v = xcalloc(1, sizeof(*v));
	}
	*n = cnt;
	return v;
}

static void catalog_param_free(struct catalog_param *p)
{
	free(p->name);
	free(p->def);
	catalog_strv_free(p->words, p->nwords);
	free(p->pattern);
	if (p->has_re)
		regfree(&p->re);
}

static void catalog_action_free(struct catalog_action *a)
{
	free(a->name);
	free(a->description);
	if (a->argv)
		catalog_strv_free(a->argv, a->argc);
	free(a->method);
	free(a->url);
	free(a->body);
	for (size_t i = 0; i < a->nparams; i++)
		catalog_param_free(&a->params[i]);
	free(a->params);
	if (a->verify)
		catalog_strv_free(a->verify, a->nverify);
	free(a->rollback);
	if (a->match)
		catalog_strv_free(a->match, a->nmatch);
	if (a->env)
		catalog_strv_free(a->env, a->nenv);
	free(a->workdir);
}

void catalog_free(struct catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		catalog_action_free(&c->actions[i]);
	free(c->actions);
	free(c->file);
	free(c);
}

const struct catalog_action *catalog_find(const struct catalog *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n; i++)
		if (strcmp(c->actions[i].name, name) == 0)
			return &c->actions[i];
	return NULL;
}

const struct catalog_param *catalog_param(const struct catalog_action *a, const char *name)
{
	for (size_t i = 0; a && name && i < a->nparams; i++)
		if (strcmp(a->params[i].name, name) == 0)
			return &a->params[i];
	return NULL;
}

static int catalog_parse_int(const char *s, int64_t *out)
{
	char *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno || e == s || *e)
		return -1;
	*out = v;
	return 0;
}

int catalog_check_text(const struct catalog_param *p, const char *v, char *err, size_t errlen)
{
	size_t len = strlen(v);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(err, errlen, "%s holds a control character", p->name);
			return -1;
		}
	switch (p->type) {
	case CATALOG_ENUM:
		for (size_t i = 0; i < p->nwords; i++)
			if (strcmp(p->words[i], v) == 0)
				return 0;
		snprintf(err, errlen, "%s must be one of the catalog's values, not %s", p->name,
		         log_q(v));
		return -1;
	case CATALOG_INT: {
		int64_t n;
		if (catalog_parse_int(v, &n) < 0) {
			snprintf(err, errlen, "%s must be a whole number, not %s", p->name,
			         log_q(v));
			return -1;
		}
		if (n < p->min || n > p->max) {
			snprintf(err, errlen, "%s must be from %lld to %lld, not %lld", p->name,
			         (long long)p->min, (long long)p->max, (long long)n);
			return -1;
		}
		return 0;
	}
	case CATALOG_PATTERN:
		if (len == 0 || len > CATALOG_MAX_VALUE) {
			snprintf(err, errlen, "%s must be 1 to %d bytes", p->name,
			         CATALOG_MAX_VALUE);
			return -1;
		}
		if (v[0] == '-') {
			snprintf(
			    err, errlen,
			    "%s must not begin with '-' (a program would read it as an option)",
			    p->name);
			return -1;
		}
		if (regexec(&p->re, v, 0, NULL, 0) != 0) {
			snprintf(err, errlen, "%s does not match the pattern %s", p->name,
			         log_q(p->pattern));
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "%s has an unknown type", p->name);
	return -1;
}

int catalog_check_value(const struct catalog_param *p, const cJSON *v, char *err, size_t errlen)
{
	if (p->type == CATALOG_INT) {
		if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
		    v->valuedouble > 9e15 || v->valuedouble < -9e15) {
			snprintf(err, errlen, "%s must be a whole number", p->name);
			return -1;
		}
		int64_t n = (int64_t)v->valuedouble;
		if (n < p->min || n > p->max) {
			snprintf(err, errlen, "%s must be from %lld to %lld, not %lld", p->name,
			         (long long)p->min, (long long)p->max, (long long)n);
			return -1;
		}
		return 0;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "%s must be a string", p->name);
		return -1;
	}
	return catalog_check_text(p, v->valuestring, err, errlen);
}

cJSON *catalog_value_json(const struct catalog_param *p, const char *text)
{
	if (p->type == CATALOG_INT) {
		int64_t n = 0;
		catalog_parse_int(text, &n);
		return cJSON_CreateNumber((double)n);
	}
	cJSON *s = cJSON_CreateString(text);
	if (!s)
		log_fatal("event=out_of_memory where=catalog_value_json");
	return s;
}

char *catalog_render(const char *tmpl, const cJSON *params, char *err, size_t errlen)
{
	struct buf b = {.max = 64 << 10};
	const char *p = tmpl;
	while (*p) {
		const char *open = strchr(p, '{');
		const char *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			buf_append(&b, p, strlen(p));
			break;
		}
		buf_append(&b, p, (size_t)(open - p));
		char name[64];
		size_t n = (size_t)(close - open - 1);
		if (n == 0 || n >= sizeof(name)) {
			buf_append(&b, open, (size_t)(close - open + 1));
			p = close + 1;
			continue;
		}
		memcpy(name, open + 1, n);
		name[n] = '\0';
		if (!catalog_name_ok(name, 63)) { /* not a placeholder, e.g. JSON braces */
			buf_append(&b, open, 1);
			p = open + 1;
			continue;
		}
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
		if (cJSON_IsString(v)) {
			buf_append(&b, v->valuestring, strlen(v->valuestring));
		} else if (cJSON_IsNumber(v)) {
			buf_appendf(&b, "%lld", (long long)v->valuedouble);
		} else {
			snprintf(err, errlen, "no value for {%s}", name);
			buf_free(&b);
			return NULL;
		}
		p = close + 1;
	}
	if (!b.data)
		return xstrdup("");
	return b.data;
}

/* ---- loading ------------------------------------------------------------ */

struct catalog_ld {
	const char *file;
	char *err;
	size_t errlen;
	int failed;
};

static int catalog_fail(struct catalog_ld *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int catalog_fail(struct catalog_ld *ld, int line, const char *fmt, ...)
{
	if (ld->failed)
		return -1;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file, line, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->file, msg);
	ld->failed = 1;
	return -1;
}

/* The types of a parameter's TYPE SPEC; each fills p or fails (-1). */

static int catalog_type_enum(struct catalog_ld *ld, struct catalog_param *p, const char *spec,
                             int line)
{
	p->type = CATALOG_ENUM;
	p->words = catalog_split(spec, 1, &p->nwords);
	if (p->nwords == 0 || p->nwords > CATALOG_MAX_WORDS)
		return catalog_fail(ld, line, "enum %s needs 1 to %d words", p->name,
		                    CATALOG_MAX_WORDS);
	for (size_t i = 0; i < p->nwords; i++) {
		const char *w = p->words[i];
		if (!*w || strlen(w) > 64 ||
		    strspn(w, "abcdefghijklmnopqrstuvwxyz"
		              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		              "0123456789._:-/") != strlen(w))
			return catalog_fail(ld, line,
			                    "enum %s: word %s may hold only letters, "
			                    "digits and . _ : - /",
			                    p->name, log_q(w));
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->words[j], w) == 0)
				return catalog_fail(ld, line, "enum %s: word %s repeats", p->name,
				                    w);
	}
	return 0;
}

static int catalog_type_int(struct catalog_ld *ld, struct catalog_param *p, const char *spec,
                            int line)
{
	p->type = CATALOG_INT;
	const char *dots = strstr(spec, "..");
	char lo[32], hi[32];
	if (!dots || (size_t)(dots - spec) >= sizeof(lo) || strlen(dots + 2) >= sizeof(hi))
		return catalog_fail(ld, line, "int %s needs a range MIN..MAX, got %s", p->name,
		                    log_q(spec));
	memcpy(lo, spec, (size_t)(dots - spec));
	lo[dots - spec] = '\0';
	str_copy(hi, sizeof(hi), dots + 2);
	if (catalog_parse_int(lo, &p->min) < 0 || catalog_parse_int(hi, &p->max) < 0 ||
	    p->min > p->max || p->min < -1000000000000LL || p->max > 1000000000000LL)
		return catalog_fail(ld, line,
		                    "int %s needs a range MIN..MAX of whole numbers with "
		                    "MIN <= MAX, got %s",
		                    p->name, log_q(spec));
	return 0;
}

static int catalog_type_pattern(struct catalog_ld *ld, struct catalog_param *p, const char *spec,
                                int line)
{
	p->type = CATALOG_PATTERN;
	p->pattern = xstrdup(spec);
	char *anch = xasprintf("^(%s)$", spec);
	int r = regcomp(&p->re, anch, REG_EXTENDED | REG_NOSUB);
	free(anch);
	if (r != 0) {
		char m[128];
		regerror(r, &p->re, m, sizeof(m));
		return catalog_fail(ld, line, "pattern %s does not compile: %s", p->name, m);
	}
	p->has_re = 1;
	return 0;
}

static int catalog_parse_type(struct catalog_ld *ld, struct catalog_param *p, const char *type,
                              const char *spec, int line)
{
	if (strcmp(type, "enum") == 0)
		return catalog_type_enum(ld, p, spec, line);
	if (strcmp(type, "int") == 0)
		return catalog_type_int(ld, p, spec, line);
	if (strcmp(type, "pattern") == 0)
		return catalog_type_pattern(ld, p, spec, line);
	return catalog_fail(ld, line, "parameter %s: type must be enum, int or pattern, not %s",
	                    p->name ? p->name : "?", log_q(type));
}

static int catalog_parse_param(struct catalog_ld *ld, struct catalog_action *a, const char *val,
                               int line)
{
	if (a->nparams >= CATALOG_MAX_PARAMS)
		return catalog_fail(ld, line, "action %s has more than %d parameters", a->name,
		                    CATALOG_MAX_PARAMS);
	struct catalog_param p = {.line = line};
	const char *s = val;
	char tok[128];
	/* NAME [optional] [default=V] TYPE SPEC */
	int idx = 0;
	int rc = -1;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		const char *st = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		size_t n = (size_t)(s - st);
		if (n == 0)
			break;
		if (n >= sizeof(tok)) {
			catalog_fail(ld, line, "parameter word too long");
			goto out;
		}
		memcpy(tok, st, n);
		tok[n] = '\0';
		if (idx++ == 0) {
			if (!catalog_name_ok(tok, 63)) {
				catalog_fail(ld, line,
				             "parameter name %s must be lower-case letters, digits "
				             "and '_'",
				             log_q(tok));
				goto out;
			}
			if (catalog_param(a, tok)) {
				catalog_fail(ld, line, "parameter %s declared twice", tok);
				goto out;
			}
			p.name = xstrdup(tok);
			continue;
		}
		if (strcmp(tok, "optional") == 0) {
			p.optional = 1;
			continue;
		}
		if (strncmp(tok, "default=", 8) == 0) {
			free(p.def);
			p.def = xstrdup(tok + 8);
			continue;
		}
		while (isspace((unsigned char)*s))
			s++;
		const char *spec = s;
		if (!*spec) {
			catalog_fail(ld, line, "parameter %s: type %s needs a value after it",
			             p.name ? p.name : "?", log_q(tok));
			goto out;
		}
		if (catalog_parse_type(ld, &p, tok, spec, line) < 0)
			goto out;
		break; /* the spec was the rest of the line */
	}
	if (!p.name) {
		catalog_fail(ld, line, "param needs NAME TYPE SPEC");
		goto out;
	}
	if (p.type == CATALOG_ENUM && !p.words) {
		catalog_fail(ld, line, "parameter %s needs a type: enum, int or pattern", p.name);
		goto out;
	}
	if (p.def) {
		char e[256];
		if (catalog_check_text(&p, p.def, e, sizeof(e)) < 0) {
			catalog_fail(ld, line, "default of %s: %s", p.name, e);
			goto out;
		}
	}
	a->params = xrealloc(a->params, (a->nparams + 1) * sizeof(*a->params));
	a->params[a->nparams++] = p;
	return 0;
out:
	catalog_param_free(&p);
	return rc;
}

/* Every {name} in s names a parameter of a. */
static int catalog_check_placeholders(struct catalog_ld *ld, const struct catalog_action *a,
                                      const char *s, int line, int json_body)
{
	const char *p = s;
	while ((p = strchr(p, '{')) != NULL) {
		const char *close = strchr(p, '}');
		if (!close)
			break;
		char name[64];
		size_t n = (size_t)(close - p - 1);
		if (n > 0 && n < sizeof(name)) {
			memcpy(name, p + 1, n);
			name[n] = '\0';
			if (catalog_name_ok(name, 63)) {
				if (!catalog_param(a, name))
					return catalog_fail(ld, line,
					                    "{%s} is not a parameter of %s", name,
					                    a->name);
				p = close + 1;
				continue;
			}
		}
		if (!json_body)
			return catalog_fail(ld, line, "'{' must open a {parameter} placeholder");
		p++;
	}
	return 0;
}

static int catalog_check_argv(struct catalog_ld *ld, const struct catalog_action *a, char **argv,
                              size_t argc, int line)
{
	if (argc == 0)
		return catalog_fail(ld, line, "empty command");
	int inside = strncmp(argv[0], "scripts/actions/", 16) == 0 && strlen(argv[0]) > 16;
	int outside = a->external && argv[0][0] == '/' && argv[0][1] != '\0';
	if ((!inside && !outside) || strstr(argv[0], "..") || strchr(argv[0], '{'))
		return catalog_fail(ld, line,
		                    "the program must be a script under scripts/actions/ "
		                    "without '..' or placeholders (or an absolute path with "
		                    "external = yes), not %s",
		                    log_q(argv[0]));
	for (size_t i = 1; i < argc; i++)
		if (catalog_check_placeholders(ld, a, argv[i], line, 0) < 0)
			return -1;
	return 0;
}

static int catalog_rate(const char *v, int *count, int64_t *window)
{
	const char *slash = strchr(v, '/');
	char num[16];
	if (!slash || (size_t)(slash - v) >= sizeof(num) || slash == v)
		return -1;
	memcpy(num, v, (size_t)(slash - v));
	num[slash - v] = '\0';
	int64_t n;
	if (catalog_parse_int(num, &n) < 0 || n < 1 || n > 10000)
		return -1;
	if (config_parse_duration_ms(slash + 1, window) < 0 || *window <= 0)
		return -1;
	*count = (int)n;
	return 0;
}

static int catalog_key(struct catalog_ld *ld, struct catalog_action *a, const char *key,
                       const char *val, int line, unsigned *seen)
{
	static const char *const keys[] = {
	    "description", "run",      "http",     "body",    "param",      "risk",
	    "verify",      "rollback", "cooldown", "timeout", "rate_limit", "idempotent",
	    "match",       "external", "env",      "workdir", NULL};
	int k = -1;
	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			k = i;
	if (k < 0)
		return catalog_fail(ld, line,
		                    "unknown key %s (known: description, run, http, body, param, "
		                    "risk, verify, rollback, cooldown, timeout, rate_limit, "
		                    "idempotent, match, external, env, workdir)",
		                    log_q(key));
	if (k != 4 && (*seen & (1u << k)))
		return catalog_fail(ld, line, "%s given twice for action %s", key, a->name);
	*seen |= 1u << k;
	if (!*val)
		return catalog_fail(ld, line, "%s needs a value", key);
	switch (k) {
	case 0:
		if (strlen(val) > 300)
			return catalog_fail(ld, line, "description longer than 300 bytes");
		a->description = xstrdup(val);
		return 0;
	case 1:
		a->run = CATALOG_RUN_ARGV;
		a->argv = catalog_split(val, 0, &a->argc);
		return 0;
	case 2: {
		size_t n;
		char **v = catalog_split(val, 0, &n);
		int rc = 0;
		if (n != 2 || (strcmp(v[0], "GET") && strcmp(v[0], "POST") && strcmp(v[0], "PUT") &&
		               strcmp(v[0], "PATCH") && strcmp(v[0], "DELETE")))
			rc = catalog_fail(
			    ld, line, "http needs METHOD URL (GET, POST, PUT, PATCH or DELETE)");
		else if (strncmp(v[1], "http://", 7) && strncmp(v[1], "https://", 8))
			rc = catalog_fail(ld, line, "http URL must start with http:// or https://");
		if (rc == 0) {
			a->run = CATALOG_RUN_HTTP;
			a->method = xstrdup(v[0]);
			a->url = xstrdup(v[1]);
		}
		catalog_strv_free(v, n);
		return rc;
	}
	case 3:
		a->body = xstrdup(val);
		return 0;
	case 4:
		return catalog_parse_param(ld, a, val, line);
	case 5:
		if (catalog_risk_parse(val, &a->risk) < 0)
			return catalog_fail(ld, line, "risk must be low, medium or high, not %s",
			                    log_q(val));
		return 0;
	case 6:
		a->verify = catalog_split(val, 0, &a->nverify);
		return 0;
	case 7:
		a->rollback = xstrdup(val);
		return 0;
	case 8:
		if (config_parse_duration_ms(val, &a->cooldown_ms) < 0 || a->cooldown_ms < 0)
			return catalog_fail(
			    ld, line, "cooldown must be a duration like 10m, not %s", log_q(val));
		return 0;
	case 9:
		if (config_parse_duration_ms(val, &a->timeout_ms) < 0 || a->timeout_ms <= 0 ||
		    a->timeout_ms > 3600000)
			return catalog_fail(ld, line,
			                    "timeout must be a duration from 1ms to 1h, not %s",
			                    log_q(val));
		return 0;
	case 10:
		if (catalog_rate(val, &a->rate_count, &a->rate_window_ms) < 0)
			return catalog_fail(ld, line,
			                    "rate_limit must be COUNT/DURATION like 3/1h, not %s",
			                    log_q(val));
		return 0;
	case 11:
		if (config_parse_bool(val, &a->idempotent) < 0)
			return catalog_fail(ld, line, "idempotent must be yes or no, not %s",
			                    log_q(val));
		return 0;
	case 12:
		a->match = catalog_split(val, 1, &a->nmatch);
		return 0;
	case 13:
		if (config_parse_bool(val, &a->external) < 0)
			return catalog_fail(ld, line, "external must be yes or no, not %s",
			                    log_q(val));
		return 0;
	case 14:
		a->env = catalog_split(val, 1, &a->nenv);
		for (size_t i = 0; i < a->nenv; i++) {
			const char *n = a->env[i];
			int ok = n[0] && !(n[0] >= '0' && n[0] <= '9') && strlen(n) <= 64 &&
			         strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			                   "0123456789_") == strlen(n);
			if (!ok)
				return catalog_fail(ld, line,
				                    "env lists variable names (letters, digits, "
				                    "'_'), not %s",
				                    log_q(n));
		}
		return 0;
	case 15:
		if (strlen(val) > 1024 || strchr(val, '{'))
			return catalog_fail(ld, line,
			                    "workdir must be a path of at most 1024 bytes without "
			                    "placeholders");
		a->workdir = xstrdup(val);
		return 0;
	}
	return 0;
}

/* The whole-catalog checks that need every action read. */
static int catalog_cross_check(struct catalog_ld *ld, struct catalog *c, unsigned *seen)
{
	for (size_t i = 0; i < c->n; i++) {
		struct catalog_action *a = &c->actions[i];
		int line = a->line;
		if (!(seen[i] & 1u))
			return catalog_fail(ld, line, "action %s needs a description", a->name);
		int has_run = (seen[i] >> 1) & 1u, has_http = (seen[i] >> 2) & 1u;
		if (has_run == has_http)
			return catalog_fail(ld, line, "action %s needs exactly one of run or http",
			                    a->name);
		if (!(seen[i] & (1u << 5)))
			return catalog_fail(ld, line, "action %s needs a risk (low, medium, high)",
			                    a->name);
		if (!(seen[i] & (1u << 11)))
			return catalog_fail(ld, line, "action %s needs idempotent = yes or no",
			                    a->name);
		if (a->body && a->run != CATALOG_RUN_HTTP)
			return catalog_fail(ld, line, "action %s: body is only for http actions",
			                    a->name);
		if (a->run == CATALOG_RUN_ARGV &&
		    catalog_check_argv(ld, a, a->argv, a->argc, line) < 0)
			return -1;
		if (a->run == CATALOG_RUN_HTTP &&
		    (catalog_check_placeholders(ld, a, a->url, line, 0) < 0 ||
		     (a->body && catalog_check_placeholders(ld, a, a->body, line, 1) < 0)))
			return -1;
		if (a->verify && catalog_check_argv(ld, a, a->verify, a->nverify, line) < 0)
			return -1;
		if (!a->timeout_ms)
			a->timeout_ms = 60000;
		if (a->rollback) {
			const struct catalog_action *r = catalog_find(c, a->rollback);
			if (!r)
				return catalog_fail(ld, line,
				                    "rollback of %s names unknown action %s",
				                    a->name, log_q(a->rollback));
			if (r == a)
				return catalog_fail(ld, line, "action %s cannot roll back itself",
				                    a->name);
			for (size_t k = 0; k < r->nparams; k++)
				if (!r->params[k].optional && !r->params[k].def &&
				    !catalog_param(a, r->params[k].name))
					return catalog_fail(ld, line,
					                    "rollback %s needs parameter %s, which "
					                    "%s does not have",
					                    r->name, r->params[k].name, a->name);
		}
	}
	return 0;
}

int catalog_parse(const char *name, const char *text, struct catalog **out, char *err,
                  size_t errlen)
{
	struct config *cfg = NULL;
	if (config_parse(name, text, &cfg, err, errlen) < 0)
		return -1;
	struct catalog_ld ld = {.file = name, .err = err, .errlen = errlen};
	struct catalog *c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(name);
	unsigned *seen = NULL;
	size_t n;
	const struct config_entry *e = config_entries(cfg, &n);
	const char *cur = NULL;
	struct catalog_action *a = NULL;
	for (size_t i = 0; i < n && !ld.failed; i++) {
		if (strncmp(e[i].section, "action ", 7) != 0) {
			catalog_fail(&ld, e[i].line,
			             "section [%s] is not an action; write [action NAME]",
			             e[i].section);
			break;
		}
		if (!cur || strcmp(cur, e[i].section) != 0) {
			const char *an = e[i].section + 7;
			cur = e[i].section;
			a = NULL;
			for (size_t k = 0; k < c->n; k++)
				if (strcmp(c->actions[k].name, an) == 0)
					a = &c->actions[k];
			if (a) {
				catalog_fail(&ld, e[i].line,
				             "action %s is defined twice (first at line %d)", an,
				             a->line);
				break;
			}
			if (!catalog_name_ok(an, 48)) {
				catalog_fail(
				    &ld, e[i].line,
				    "action name %s must be lower-case letters, digits and "
				    "'_', at most 48",
				    log_q(an));
				break;
			}
			if (c->n >= CATALOG_MAX_ACTIONS) {
				catalog_fail(&ld, e[i].line, "more than %d actions",
				             CATALOG_MAX_ACTIONS);
				break;
			}
			c->actions = xrealloc(c->actions, (c->n + 1) * sizeof(*c->actions));
			seen = xrealloc(seen, (c->n + 1) * sizeof(*seen));
			seen[c->n] = 0;
			a = &c->actions[c->n++];
			memset(a, 0, sizeof(*a));
			a->name = xstrdup(an);
			a->line = e[i].line;
		}
		catalog_key(&ld, a, e[i].key, e[i].value, e[i].line, &seen[c->n - 1]);
	}
	if (!ld.failed) {
		/* sections without keys never showed up above */
		const char *names[CATALOG_MAX_ACTIONS];
		size_t ns = config_sections_of(cfg, "action", names, CATALOG_MAX_ACTIONS);
		for (size_t i = 0; i < ns && i < CATALOG_MAX_ACTIONS; i++)
			if (!catalog_find(c, names[i])) {
				catalog_fail(&ld, 0, "[action %s] is empty", names[i]);
				break;
			}
	}
	if (!ld.failed && c->n == 0)
		catalog_fail(&ld, 0, "no actions defined");
	if (!ld.failed)
		catalog_cross_check(&ld, c, seen);
	free(seen);
	config_free(cfg);
	if (ld.failed) {
		catalog_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int catalog_load(const char *path, struct catalog **out, char *err, size_t errlen)
{
	struct buf b = {.max = 1 << 20};
	int rc = buf_read_file(&b, path, err, errlen);
	if (rc == 0)
		rc = catalog_parse(path, b.data, out, err, errlen);
	buf_free(&b);
	return rc;
}
