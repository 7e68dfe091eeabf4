/* json.c: strict cJSON helpers that name the offending field. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static void *json_check(void *p)
{
	if (!p)
		log_fatal("event=out_of_memory where=cjson");
	return p;
}

int json_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!j) {
		size_t off = end ? (size_t)(end - buf) : 0;
		snprintf(err, errlen, "invalid JSON near byte %zu", off);
		return -1;
	}
	for (const char *p = end; p && p < buf + len; p++) {
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != '\0') {
			cJSON_Delete(j);
			snprintf(err, errlen, "trailing bytes after JSON at byte %zu",
			         (size_t)(p - buf));
			return -1;
		}
	}
	*out = j;
	return 0;
}

int json_parse_object(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	if (json_parse(buf, len, out, err, errlen) < 0)
		return -1;
	if (!cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		snprintf(err, errlen, "expected a JSON object");
		return -1;
	}
	return 0;
}

const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_is_whole(const cJSON *v)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
	       v->valuedouble == floor(v->valuedouble) &&
	       fabs(v->valuedouble) <= 9007199254740992.0;
}

int64_t json_int(const cJSON *obj, const char *key, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return json_is_whole(v) ? (int64_t)v->valuedouble : def;
}

double json_num(const cJSON *obj, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int json_bool(const cJSON *obj, const char *key, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static const cJSON *json_need(const cJSON *obj, const char *key, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!v || cJSON_IsNull(v))
		snprintf(err, errlen, "field '%s' is missing", key);
	return cJSON_IsNull(v) ? NULL : v;
}

int json_get_str(const cJSON *obj, const char *key, const char **out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "field '%s' must be a string", key);
		return -1;
	}
	*out = v->valuestring;
	return 0;
}

int json_get_int(const cJSON *obj, const char *key, int64_t *out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!json_is_whole(v)) {
		snprintf(err, errlen, "field '%s' must be a whole number", key);
		return -1;
	}
	*out = (int64_t)v->valuedouble;
	return 0;
}

int json_get_num(const cJSON *obj, const char *key, double *out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsNumber(v)) {
		snprintf(err, errlen, "field '%s' must be a number", key);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

int json_get_bool(const cJSON *obj, const char *key, int *out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsBool(v)) {
		snprintf(err, errlen, "field '%s' must be true or false", key);
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 0;
}

int json_get_obj(const cJSON *obj, const char *key, cJSON **out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "field '%s' must be an object", key);
		return -1;
	}
	*out = (cJSON *)v;
	return 0;
}

int json_get_arr(const cJSON *obj, const char *key, cJSON **out, char *err, size_t errlen)
{
	const cJSON *v = json_need(obj, key, err, errlen);
	if (!v)
		return -1;
	if (!cJSON_IsArray(v)) {
		snprintf(err, errlen, "field '%s' must be an array", key);
		return -1;
	}
	*out = (cJSON *)v;
	return 0;
}

void json_add_str(cJSON *obj, const char *key, const char *val)
{
	if (val)
		json_check(cJSON_AddStringToObject(obj, key, val));
	else
		json_check(cJSON_AddNullToObject(obj, key));
}

void json_add_int(cJSON *obj, const char *key, int64_t val)
{
	json_check(cJSON_AddNumberToObject(obj, key, (double)val));
}

void json_add_num(cJSON *obj, const char *key, double val)
{
	json_check(cJSON_AddNumberToObject(obj, key, isfinite(val) ? val : 0));
}

void json_add_bool(cJSON *obj, const char *key, int val)
{
	json_check(cJSON_AddBoolToObject(obj, key, val ? 1 : 0));
}

void json_add(cJSON *obj, const char *key, cJSON *item)
{
	if (!cJSON_AddItemToObject(obj, key, item))
		log_fatal("event=out_of_memory where=cjson");
}

cJSON *json_new_object(void)
{
	return json_check(cJSON_CreateObject());
}

cJSON *json_new_array(void)
{
	return json_check(cJSON_CreateArray());
}

cJSON *json_dup(const cJSON *item)
{
	return item ? json_check(cJSON_Duplicate(item, 1)) : NULL;
}

char *json_print(const cJSON *item)
{
	return json_check(cJSON_PrintUnformatted(item));
}
