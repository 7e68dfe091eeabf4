/* json.c: strict cJSON helpers that name the offending field. */
#include "json.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
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

/*
 * json_print: the same text as cJSON_PrintUnformatted, made faster for what
 * opsbot prints most (ids, counts and millisecond times): a whole number
 * below 1e15 is written with a plain integer conversion, where cJSON
 * formats every number with "%1.15g" and parses it back with sscanf to
 * check.  Other numbers follow cJSON's rule exactly (json_test compares the
 * two on random trees).
 */
struct out {
	char *p;
	size_t len, cap;
};

static void out_need(struct out *o, size_t n)
{
	if (o->len + n + 1 <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + n + 1)
		cap *= 2;
	o->p = json_check(realloc(o->p, cap));
	o->cap = cap;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	out_need(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_number(struct out *o, const cJSON *item)
{
	double d = item->valuedouble;
	char num[32];
	int n;
	if (isnan(d) || isinf(d)) {
		n = snprintf(num, sizeof(num), "null");
	} else if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) {
		/* What "%1.15g" writes for a whole number below 1e15: its digits. */
		char rev[24];
		uint64_t u = d < 0 ? (uint64_t)(-(int64_t)d) : (uint64_t)d;
		int k = 0;
		do {
			rev[k++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		n = 0;
		if (d < 0 && (int64_t)d != 0)
			num[n++] = '-';
		while (k)
			num[n++] = rev[--k];
	} else {
		n = snprintf(num, sizeof(num), "%1.15g", d);
		double back = strtod(num, NULL);
		double big = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
		if (!(fabs(back - d) <= big * DBL_EPSILON))
			n = snprintf(num, sizeof(num), "%1.17g", d);
	}
	out_put(o, num, (size_t)n);
}

static void out_string(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	out_put(o, "\"", 1);
	if (s) {
		const unsigned char *p = (const unsigned char *)s;
		while (*p) {
			const unsigned char *run = p;
			while (*p >= 32 && *p != '"' && *p != '\\')
				p++;
			if (p > run)
				out_put(o, (const char *)run, (size_t)(p - run));
			if (!*p)
				break;
			char esc[6] = {'\\', 0};
			size_t n = 2;
			switch (*p) {
			case '"':
				esc[1] = '"';
				break;
			case '\\':
				esc[1] = '\\';
				break;
			case '\b':
				esc[1] = 'b';
				break;
			case '\f':
				esc[1] = 'f';
				break;
			case '\n':
				esc[1] = 'n';
				break;
			case '\r':
				esc[1] = 'r';
				break;
			case '\t':
				esc[1] = 't';
				break;
			default:
				esc[1] = 'u', esc[2] = '0', esc[3] = '0';
				esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
				n = 6;
			}
			out_put(o, esc, n);
			p++;
		}
	}
	out_put(o, "\"", 1);
}

static int out_value(struct out *o, const cJSON *item)
{
	switch (item->type & 0xFF) {
	case cJSON_NULL:
		out_put(o, "null", 4);
		return 0;
	case cJSON_False:
		out_put(o, "false", 5);
		return 0;
	case cJSON_True:
		out_put(o, "true", 4);
		return 0;
	case cJSON_Number:
		out_number(o, item);
		return 0;
	case cJSON_String:
		out_string(o, item->valuestring);
		return 0;
	case cJSON_Raw:
		if (!item->valuestring)
			return -1;
		out_put(o, item->valuestring, strlen(item->valuestring));
		return 0;
	case cJSON_Array:
	case cJSON_Object: {
		int obj = (item->type & 0xFF) == cJSON_Object;
		out_put(o, obj ? "{" : "[", 1);
		for (const cJSON *c = item->child; c; c = c->next) {
			if (obj) {
				out_string(o, c->string);
				out_put(o, ":", 1);
			}
			if (out_value(o, c) < 0)
				return -1;
			if (c->next)
				out_put(o, ",", 1);
		}
		out_put(o, obj ? "}" : "]", 1);
		return 0;
	}
	default:
		return -1;
	}
}

char *json_print(const cJSON *item)
{
	struct out o = {0};
	if (!item || out_value(&o, item) < 0) {
		free(o.p);
		log_fatal("event=json_print_invalid");
	}
	out_need(&o, 0);
	o.p[o.len] = '\0';
	return o.p;
}
