/* config.c: the INI-like configuration file with typed, line-numbered errors. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mem.h"

#define CONFIG_MAX_BYTES (4 << 20)

struct config {
	char *file;
	struct config_entry *e;
	unsigned char *used;
	size_t n, cap;
	char **sections; /* every section header seen, in order */
	int *section_lines;
	size_t nsections;
	char error[512];     /* first error recorded by a getter */
	char dup_error[512]; /* first key read while set twice (reported last) */
};

static void config_add(struct config *c, const char *sec, const char *key, const char *val,
                       int line)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->e = xrealloc(c->e, c->cap * sizeof(*c->e));
		c->used = xrealloc(c->used, c->cap);
	}
	c->e[c->n] = (struct config_entry){sec, xstrdup(key), xstrdup(val), line};
	c->used[c->n] = 0;
	c->n++;
}

static char *config_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * A key names a secret when its last word is token, password, passwd or
 * secret, or it ends in api_key/apikey ("bot_token", "smtp_password"); a
 * key that only mentions one ("token_budget", "secret_file") does not.
 */
static int config_secret_name(const char *key)
{
	static const char *const last[] = {"token", "password", "passwd", "secret", "apikey"};
	const char *word = key;
	for (const char *p = key; *p; p++)
		if (*p == '_' || *p == '-' || *p == '.')
			word = p + 1;
	for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++)
		if (strcasecmp(word, last[i]) == 0)
			return 1;
	size_t n = strlen(key);
	return n >= 7 && strcasecmp(key + n - 7, "api_key") == 0;
}

/* "[name]" (already trimmed): a new section; 0, or -1 with err. */
static int config_section_line(struct config *c, char *line, int lineno, char *err, size_t errlen)
{
	const char *name = c->file;
	char *close = strchr(line, ']');
	if (!close || config_trim(close + 1)[0] != '\0') {
		snprintf(err, errlen, "%s:%d: section header needs a closing ']'", name, lineno);
		return -1;
	}
	*close = '\0';
	char *sec = config_trim(line + 1);
	/* fold inner runs of spaces to one */
	char folded[256];
	size_t o = 0;
	for (char *s = sec; *s && o + 1 < sizeof(folded); s++) {
		if (isspace((unsigned char)*s)) {
			if (o && folded[o - 1] != ' ')
				folded[o++] = ' ';
		} else {
			folded[o++] = *s;
		}
	}
	folded[o] = '\0';
	if (o == 0) {
		snprintf(err, errlen, "%s:%d: empty section name", name, lineno);
		return -1;
	}
	/* a repeated section is reported by config_check (after the callers' own,
	 * more precise errors, e.g. the catalog's) */
	for (size_t k = 0; k < c->nsections && !c->dup_error[0]; k++)
		if (strcmp(c->sections[k], folded) == 0)
			snprintf(c->dup_error, sizeof(c->dup_error),
			         "%s:%d: section [%s] appears again (first at line "
			         "%d); keep its keys in one place",
			         name, lineno, folded, c->section_lines[k]);
	c->sections = xrealloc(c->sections, (c->nsections + 1) * sizeof(char *));
	c->section_lines = xrealloc(c->section_lines, (c->nsections + 1) * sizeof(int));
	c->section_lines[c->nsections] = lineno;
	c->sections[c->nsections++] = xstrdup(folded);
	return 0;
}

/* "key = value" (already trimmed) in section; 0, or -1 with err. */
static int config_key_line(struct config *c, const char *section, char *line, int lineno, char *err,
                           size_t errlen)
{
	const char *name = c->file;
	char *eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, errlen, "%s:%d: expected 'key = value', got %s", name, lineno,
		         log_q(line));
		return -1;
	}
	*eq = '\0';
	char *key = config_trim(line);
	char *val = config_trim(eq + 1);
	if (*key == '\0') {
		snprintf(err, errlen, "%s:%d: missing key before '='", name, lineno);
		return -1;
	}
	for (char *k = key; *k; k++) {
		if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-' && *k != '.') {
			snprintf(err, errlen,
			         "%s:%d: key %s may hold only letters, digits, '_', '-', '.'", name,
			         lineno, log_q(key));
			return -1;
		}
	}
	if (*val == '"') {
		char *endq = strrchr(val + 1, '"');
		if (!endq) {
			snprintf(err, errlen, "%s:%d: unterminated quoted value", name, lineno);
			return -1;
		}
		char *after = config_trim(endq + 1);
		if (*after != '\0' && *after != '#') {
			snprintf(err, errlen, "%s:%d: text after the closing quote", name, lineno);
			return -1;
		}
		*endq = '\0';
		val = val + 1;
	} else {
		char *hash = strstr(val, " #");
		if (hash) {
			*hash = '\0';
			val = config_trim(val);
		}
	}
	if (*section == '\0') {
		snprintf(err, errlen, "%s:%d: key %s is outside any [section]", name, lineno,
		         log_q(key));
		return -1;
	}
	if (config_secret_name(key) && *val != '\0') {
		snprintf(err, errlen,
		         "%s:%d: %s looks like a secret; secrets come from environment "
		         "variables, not from the config file",
		         name, lineno, key);
		return -1;
	}
	config_add(c, section, key, val, lineno);
	return 0;
}

int config_parse(const char *name, const char *text, struct config **out, char *err, size_t errlen)
{
	struct config *c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(name);
	const char *section = "";
	char *copy = xstrdup(text);
	int lineno = 0;
	int rc = 0;
	/* strtok_r would skip empty lines and break numbering; walk by hand. */
	char *p = copy;
	while (p && *p != '\0' && rc == 0) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *line = config_trim(p);
		p = nl ? nl + 1 : NULL;
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			rc = config_section_line(c, line, lineno, err, errlen);
			if (rc == 0)
				section = c->sections[c->nsections - 1];
		} else {
			rc = config_key_line(c, section, line, lineno, err, errlen);
		}
	}
	free(copy);
	if (rc < 0) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct buf b = {.max = CONFIG_MAX_BYTES};
	int rc = buf_read_file(&b, path, err, errlen);
	if (rc == 0)
		rc = config_parse(path, b.data, out, err, errlen);
	buf_free(&b);
	return rc;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->e[i].key);
		free((char *)c->e[i].value);
	}
	for (size_t i = 0; i < c->nsections; i++)
		free(c->sections[i]);
	free(c->sections);
	free(c->section_lines);
	free(c->e);
	free(c->used);
	free(c->file);
	free(c);
}

const char *config_file(const struct config *c)
{
	return c->file;
}

const struct config_entry *config_entries(const struct config *c, size_t *n)
{
	*n = c->n;
	return c->e;
}

int config_has_section(const struct config *c, const char *section)
{
	for (size_t i = 0; i < c->nsections; i++)
		if (strcmp(c->sections[i], section) == 0)
			return 1;
	return 0;
}

size_t config_sections_of(const struct config *c, const char *type, const char **names, size_t max)
{
	size_t count = 0, tl = strlen(type);
	for (size_t i = 0; i < c->nsections; i++) {
		const char *s = c->sections[i];
		if (strncmp(s, type, tl) == 0 && s[tl] == ' ') {
			int dup = 0;
			for (size_t j = 0; j < i; j++)
				if (strcmp(c->sections[j], s) == 0)
					dup = 1;
			if (dup)
				continue;
			if (count < max)
				names[count] = s + tl + 1;
			count++;
		}
	}
	return count;
}

/* The one entry for a single-valued key; a key set twice is an error. */
static long config_find(struct config *c, const char *section, const char *key)
{
	long found = -1;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0) {
			c->used[i] = 1;
			if (found >= 0 && !c->dup_error[0])
				snprintf(
				    c->dup_error, sizeof(c->dup_error),
				    "%s:%d: %s is set twice in [%s] (first at line %d); keep one",
				    c->file, c->e[i].line, key, section, c->e[found].line);
			if (found < 0)
				found = (long)i;
		}
	}
	return found;
}

int config_line(const struct config *c, const char *section, const char *key)
{
	int line = 0;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0)
			line = c->e[i].line;
	return line;
}

void config_error(struct config *c, const char *section, const char *key, const char *fmt, ...)
{
	if (c->error[0])
		return;
	int line = config_line(c, section, key);
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(c->error, sizeof(c->error), "%s:%d: %s: %s", c->file, line, key, msg);
	else
		snprintf(c->error, sizeof(c->error), "%s: [%s] %s: %s", c->file, section, key, msg);
}

const char *config_str(struct config *c, const char *section, const char *key, const char *def)
{
	long i = config_find(c, section, key);
	return i < 0 ? def : c->e[i].value;
}

int64_t config_int(struct config *c, const char *section, const char *key, int64_t def, int64_t min,
                   int64_t max)
{
	long i = config_find(c, section, key);
	if (i < 0)
		return def;
	const char *v = c->e[i].value;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0') {
		config_error(c, section, key, "%s is not a whole number", log_q(v));
		return def;
	}
	if (x < min || x > max) {
		config_error(c, section, key, "%lld is outside %lld..%lld", x, (long long)min,
		             (long long)max);
		return def;
	}
	return x;
}

double config_double(struct config *c, const char *section, const char *key, double def, double min,
                     double max)
{
	long i = config_find(c, section, key);
	if (i < 0)
		return def;
	const char *v = c->e[i].value;
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || *end != '\0') {
		config_error(c, section, key, "%s is not a number", log_q(v));
		return def;
	}
	if (x < min || x > max) {
		config_error(c, section, key, "%g is outside %g..%g", x, min, max);
		return def;
	}
	return x;
}

int config_parse_duration_ms(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || x < 0)
		return -1;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60e3;
	else if (strcmp(end, "h") == 0)
		mult = 3600e3;
	else if (strcmp(end, "d") == 0)
		mult = 86400e3;
	else
		return -1;
	*out = (int64_t)(x * mult + 0.5);
	return 0;
}

int64_t config_duration_ms(struct config *c, const char *section, const char *key, int64_t def_ms)
{
	long i = config_find(c, section, key);
	if (i < 0)
		return def_ms;
	int64_t ms;
	if (config_parse_duration_ms(c->e[i].value, &ms) < 0) {
		config_error(c, section, key,
		             "%s is not a duration (use e.g. 250ms, 30s, 5m, 2h, 1d)",
		             log_q(c->e[i].value));
		return def_ms;
	}
	return ms;
}

int config_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int config_bool(struct config *c, const char *section, const char *key, int def)
{
	long i = config_find(c, section, key);
	if (i < 0)
		return def;
	int b;
	if (config_parse_bool(c->e[i].value, &b) < 0) {
		config_error(c, section, key, "%s is not yes or no", log_q(c->e[i].value));
		return def;
	}
	return b;
}

int config_enum(struct config *c, const char *section, const char *key, const char *const *words,
                int def)
{
	long i = config_find(c, section, key);
	if (i < 0)
		return def;
	for (int k = 0; words[k]; k++)
		if (strcmp(words[k], c->e[i].value) == 0)
			return k;
	char list[256] = "";
	size_t o = 0;
	for (int k = 0; words[k] && o < sizeof(list) - 1; k++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", k ? ", " : "", words[k]);
	config_error(c, section, key, "%s is not one of: %s", log_q(c->e[i].value), list);
	return def;
}

size_t config_all(struct config *c, const char *section, const char *key, const char **values,
                  size_t max)
{
	size_t count = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->e[i].section, section) == 0 && strcmp(c->e[i].key, key) == 0) {
			c->used[i] = 1;
			if (count < max)
				values[count] = c->e[i].value;
			count++;
		}
	}
	return count;
}

static int config_owned(const char *section, const char *const *owned)
{
	for (int k = 0; owned && owned[k]; k++) {
		size_t l = strlen(owned[k]);
		if (l >= 2 && strcmp(owned[k] + l - 2, " *") == 0) {
			if (strncmp(section, owned[k], l - 1) == 0)
				return 1;
		} else if (strcmp(section, owned[k]) == 0) {
			return 1;
		}
	}
	return 0;
}

/*
 * Every section type any opsbot program reads.  A section of another type
 * is a typo ([slak]) and an error in every program that checks the file.
 * ADD YOUR SECTION HERE (one per line, keeps merges clean) when a program
 * reads a new one; a program's own `owned` sections count as known too.
 */
static const char *const config_known_sections[] = {
    "action",      /* actions.conf */
    "approval",    /* policy.conf */
    "bot",         /* opsbot-bot */
    "daemons",     /* the master */
    "detect",      /* opsbot-detect */
    "discord",     /* opsbot-bot */
    "email",       /* opsbot-report: the mail relay */
    "exec",        /* opsbot-exec */
    "freeze",      /* policy.conf */
    "group",       /* policy.conf */
    "hooks",       /* opsbot-bot intake */
    "http",        /* opsbot-bot */
    "llm",         /* opsbot-plan */
    "master",      /* the master */
    "opsbot",      /* shared settings */
    "person",      /* policy.conf */
    "pipeline",    /* the queue's pipeline */
    "plan",        /* opsbot-plan */
    "policy",      /* policy.conf */
    "queue",       /* opsbot-queue and every client */
    "replicas",    /* worker replicas */
    "report",      /* opsbot-report */
    "retrieve",    /* opsbot-retrieve */
    "services",    /* opsbot-detect, the queue's alert grouping */
    "sim",         /* opsbot-sim, the simulated system */
    "slack",       /* opsbot-bot */
    "source",      /* opsbot-detect sources */
    "test-worker", /* tests' worker */
    NULL,
};

static int config_section_known(const char *section, const char *const *owned)
{
	size_t tl = strcspn(section, " ");
	if (config_owned(section, owned))
		return 1;
	for (int k = 0; config_known_sections[k]; k++)
		if (strlen(config_known_sections[k]) == tl &&
		    strncmp(section, config_known_sections[k], tl) == 0)
			return 1;
	return 0;
}

int config_check(struct config *c, const char *const *owned, char *err, size_t errlen)
{
	if (c->error[0]) {
		snprintf(err, errlen, "%s", c->error);
		return -1;
	}
	if (c->dup_error[0]) { /* after the callers' own, more precise errors */
		snprintf(err, errlen, "%s", c->dup_error);
		return -1;
	}
	for (size_t i = 0; i < c->nsections; i++) {
		if (!config_section_known(c->sections[i], owned)) {
			snprintf(err, errlen, "%s:%d: unknown section [%s] (a typo?)", c->file,
			         c->section_lines[i], c->sections[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		if (!c->used[i] && config_owned(c->e[i].section, owned)) {
			snprintf(err, errlen, "%s:%d: unknown key %s in [%s]", c->file,
			         c->e[i].line, log_q(c->e[i].key), c->e[i].section);
			return -1;
		}
	}
	return 0;
}

const char *config_secret(const char *env_name)
{
	const char *v = getenv(env_name);
	if (!v || !*v)
		return NULL;
	log_add_secret(v);
	return v;
}
