/*
 * json.h: small strict helpers over cJSON.
 *
 * Getters that take err name the field in their message ("field 'incident'
 * is missing", "field 'attempt' must be a whole number"), so a decoder can
 * report exactly what was wrong.  Ownership: cJSON trees returned to the
 * caller are freed with cJSON_Delete(); strings from json_print() with free().
 */
#ifndef OPSBOT_JSON_H
#define OPSBOT_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Parse exactly one JSON value from buf[0..len); trailing bytes other than
 * white space are an error. */
int json_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen);
/* Parse and require an object. */
int json_parse_object(const char *buf, size_t len, cJSON **out, char *err, size_t errlen);

/* Optional lookups: NULL/def when missing or of another type. */
const char *json_str(const cJSON *obj, const char *key);
int64_t json_int(const cJSON *obj, const char *key, int64_t def);
double json_num(const cJSON *obj, const char *key, double def);
int json_bool(const cJSON *obj, const char *key, int def);

/* Required lookups: 0, or -1 with the field named in err. */
int json_get_str(const cJSON *obj, const char *key, const char **out, char *err, size_t errlen);
int json_get_int(const cJSON *obj, const char *key, int64_t *out, char *err, size_t errlen);
int json_get_num(const cJSON *obj, const char *key, double *out, char *err, size_t errlen);
int json_get_bool(const cJSON *obj, const char *key, int *out, char *err, size_t errlen);
int json_get_obj(const cJSON *obj, const char *key, cJSON **out, char *err, size_t errlen);
int json_get_arr(const cJSON *obj, const char *key, cJSON **out, char *err, size_t errlen);

/* Adders that exit on allocation failure (cJSON returns NULL only then). */
void json_add_str(cJSON *obj, const char *key, const char *val); /* NULL val adds null */
void json_add_int(cJSON *obj, const char *key, int64_t val);
void json_add_num(cJSON *obj, const char *key, double val);
void json_add_bool(cJSON *obj, const char *key, int val);
/* Takes ownership of item. */
void json_add(cJSON *obj, const char *key, cJSON *item);
cJSON *json_new_object(void);
cJSON *json_new_array(void);
/* Deep copy; caller owns the result. */
cJSON *json_dup(const cJSON *item);

/* Unformatted text; caller frees with free(). */
char *json_print(const cJSON *item);

#endif
