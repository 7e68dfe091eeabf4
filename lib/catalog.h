/*
 * catalog.h: the action catalog (config/actions.conf), every action opsbot
 * may ever run.
 *
 * The planner proposes only catalog actions; the executor runs only catalog
 * actions, with parameters that passed their types.  The file uses the
 * config.h syntax, one section per action:
 *
 *   [action scale_service]
 *   description = Set the replica count of one service.
 *   run = scripts/actions/scale_service.sh {service} {replicas}
 *   param = service enum api,checkout,payments
 *   param = replicas default=4 int 1..50
 *   param = reason optional pattern [A-Za-z0-9 ,._-]{1,120}
 *   risk = medium
 *   verify = scripts/actions/check_service.sh {service}
 *   rollback = scale_service
 *   cooldown = 10m
 *   rate_limit = 3/1h
 *   idempotent = yes
 *   timeout = 60s
 *   match = latency, saturation, cpu
 *
 * run is an argv template (split on blanks, never given to a shell; argv[0]
 * under scripts/actions/, or an absolute path when the action also says
 * external = yes: a program outside the repository, e.g. /usr/bin/kubectl,
 * to be reviewed like code).  env names the environment variables the
 * action gets from opsbot-exec's own environment (comma list of names;
 * nothing else passes, see workers/exec/run.h); workdir is its working
 * directory (default: [exec] workdir).  An action may instead say
 *   http = POST http://127.0.0.1:9000/hooks/{service}
 *   body = {"service":"{service}"}
 * {name} placeholders must name declared parameters; an argument whose
 * placeholder names an optional parameter left without a value is left out.  param is
 * "NAME [optional] [default=VALUE] TYPE SPEC" with TYPE enum (comma list),
 * int (MIN..MAX) or pattern (a POSIX extended regex matched against the whole
 * value, at most 256 bytes, no control characters).  rollback names another
 * action whose required parameters this action also has.  match lists words
 * that, found in findings or alert text, nominate the action to the playbook
 * planner (they cannot change what the action does).
 *
 * Every error is "file:line: what is wrong".  Ownership: the catalog owns all
 * of its strings; free with catalog_free().
 */
#ifndef OPSBOT_CATALOG_H
#define OPSBOT_CATALOG_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CATALOG_MAX_VALUE 256 /* longest string parameter value */

enum catalog_risk { CATALOG_RISK_LOW = 0, CATALOG_RISK_MEDIUM, CATALOG_RISK_HIGH };
enum catalog_ptype { CATALOG_ENUM, CATALOG_INT, CATALOG_PATTERN };
enum catalog_run { CATALOG_RUN_ARGV, CATALOG_RUN_HTTP };

struct catalog_param {
	char *name;
	enum catalog_ptype type;
	int optional;
	char *def; /* default value as text, or NULL */
	char **words;
	size_t nwords;    /* enum */
	int64_t min, max; /* int */
	char *pattern;    /* as written */
	regex_t re;       /* compiled "^(pattern)$" */
	int has_re;
	int line;
};

struct catalog_action {
	char *name;
	char *description;
	int line; /* first key of the section */
	enum catalog_run run;
	char **argv; /* CATALOG_RUN_ARGV: template, NULL-terminated */
	size_t argc;
	char *method, *url, *body; /* CATALOG_RUN_HTTP; body may be NULL */
	struct catalog_param *params;
	size_t nparams;
	enum catalog_risk risk;
	char **verify; /* argv template or NULL */
	size_t nverify;
	char *rollback; /* action name or NULL */
	int64_t cooldown_ms;
	int rate_count; /* 0: no rate limit */
	int64_t rate_window_ms;
	int idempotent;
	int64_t timeout_ms;
	char **match;
	size_t nmatch;
	int external; /* argv[0] may be an absolute path outside scripts/actions/ */
	char **env;   /* variable names passed through, NULL-terminated (may be empty) */
	size_t nenv;
	char *workdir; /* or NULL */
};

struct catalog {
	char *file;
	struct catalog_action *actions;
	size_t n;
};

int catalog_load(const char *path, struct catalog **out, char *err, size_t errlen);
/* Parse text as if it were file `name` (tests). */
int catalog_parse(const char *name, const char *text, struct catalog **out, char *err,
                  size_t errlen);
void catalog_free(struct catalog *c);

const struct catalog_action *catalog_find(const struct catalog *c, const char *name);
const struct catalog_param *catalog_param(const struct catalog_action *a, const char *name);

const char *catalog_risk_name(enum catalog_risk r);
int catalog_risk_parse(const char *s, enum catalog_risk *out);

/*
 * Check one parameter value: enum values must be one of the words (a JSON
 * string), int values a whole JSON number within range, pattern values a
 * string that matches whole.  0, or -1 with the reason in err.
 */
int catalog_check_value(const struct catalog_param *p, const cJSON *v, char *err, size_t errlen);
/* The same for a value given as text (defaults, command lines). */
int catalog_check_text(const struct catalog_param *p, const char *v, char *err, size_t errlen);
/* A JSON value for a text value of p's type; caller owns it (cJSON_Delete). */
cJSON *catalog_value_json(const struct catalog_param *p, const char *text);

/*
 * Render a template (argv element, URL or body) with params, which must
 * already have passed catalog_check_value.  Integers print in decimal.
 * Returns a new string (caller frees) or NULL with err when a placeholder
 * has no value.
 */
char *catalog_render(const char *tmpl, const cJSON *params, char *err, size_t errlen);

#endif
