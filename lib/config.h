/*
 * config.h: the human-editable configuration file.
 *
 * Format (config/opsbot.conf is the commented example):
 *
 *   # comment
 *   [section]            or  [type name], e.g. [source prometheus]
 *   key = value          value may be "double quoted"; # starts a comment
 *                        outside quotes; a key may repeat (lists, tables)
 *
 * Lookups are typed and record the first bad value as "file:line: message";
 * config_check() then reports it, together with any key in the caller's own
 * sections that nobody asked for (a typo is an error, not a silent default).
 * A process calls its getters, then config_check(), and stops on error:
 *
 *   struct config *cfg;
 *   if (config_load(path, &cfg, err, sizeof err) < 0) log_fatal(...)
 *   int64_t lease = config_duration_ms(cfg, "queue", "lease", 30000);
 *   if (config_check(cfg, (const char *[]){"queue", NULL}, err, sizeof err) < 0) ...
 *
 * Secrets never come from the file: a key whose name looks like a secret
 * (token, password, secret, api_key) with a value is refused at load time.
 * config_secret() reads them from the environment and registers them for
 * log redaction.
 *
 * Ownership: strings returned by getters belong to the config and live until
 * config_free().
 */
#ifndef OPSBOT_CONFIG_H
#define OPSBOT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config;

struct config_entry {
	const char *section; /* "queue", or "source prometheus" */
	const char *key;
	const char *value;
	int line;
};

/* Load path.  On error returns -1 with "file:line: message" in err. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* Parse text as if it were file `name` (for tests). */
int config_parse(const char *name, const char *text, struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);
const char *config_file(const struct config *cfg);

/* Raw access: the entries in file order; n is set to the count. */
const struct config_entry *config_entries(const struct config *cfg, size_t *n);
/* Whether a section exists (even empty). */
int config_has_section(const struct config *cfg, const char *section);
/*
 * Sections named "<type> <name>" for a type, in file order; returns the
 * count and fills up to max names (pointers into the config).
 */
size_t config_sections_of(const struct config *cfg, const char *type, const char **names,
                          size_t max);

/* Typed getters; the last value wins when a key repeats. */
const char *config_str(struct config *cfg, const char *section, const char *key, const char *def);
int64_t config_int(struct config *cfg, const char *section, const char *key, int64_t def,
                   int64_t min, int64_t max);
/* "250ms", "30s", "5m", "2h", "1d"; a bare number is seconds. */
int64_t config_duration_ms(struct config *cfg, const char *section, const char *key,
                           int64_t def_ms);
/* yes/no, true/false, on/off, 1/0 */
int config_bool(struct config *cfg, const char *section, const char *key, int def);
double config_double(struct config *cfg, const char *section, const char *key, double def,
                     double min, double max);
/* One of the given words (NULL-terminated list); returns its index. */
int config_enum(struct config *cfg, const char *section, const char *key, const char *const *words,
                int def);
/* Every value of a repeated key, in order; returns the count. */
size_t config_all(struct config *cfg, const char *section, const char *key, const char **values,
                  size_t max);
/* Line of the last occurrence of a key, 0 when absent. */
int config_line(const struct config *cfg, const char *section, const char *key);

/* Record an error found by the caller against a key ("file:line: msg"). */
void config_error(struct config *cfg, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Report the first recorded error, or the first key of one of `owned`
 * sections (NULL-terminated; section names or "type *" for all sections of
 * a type) that no getter read.  Returns 0 or -1 with the message in err.
 */
int config_check(struct config *cfg, const char *const *owned, char *err, size_t errlen);

/*
 * A secret from the environment, registered for log redaction; NULL when
 * unset or empty.  Ownership: getenv's string.
 */
const char *config_secret(const char *env_name);

/* Parse helpers shared with other file formats. */
int config_parse_duration_ms(const char *s, int64_t *out);
int config_parse_bool(const char *s, int *out);

#endif
