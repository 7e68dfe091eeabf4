/*
 * blocks.c: fake-slack's Block Kit limit checks, as Slack's API applies them
 * (reference/slack.md section 3): 50 blocks per message; section text 1-3000
 * characters; at most 10 fields of 2000; header 150; context 10 elements;
 * actions 25 elements; button text plain_text of at most 75, action_id 255,
 * value 2000, url 3000; block_id 255.  Lengths count characters, not bytes.
 */
#include <stdio.h>
#include <string.h>

#include "fake_slack.h"
#include "json.h"

size_t blocks_strlen(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int text_obj(const cJSON *t, const char *where, size_t max, int plain_only, char *err,
                    size_t errlen)
{
	const char *type = json_str(t, "type");
	const char *text = json_str(t, "text");

	if (!cJSON_IsObject(t) || !type || !text) {
		snprintf(err, errlen, "%s must be a text object with type and text", where);
		return -1;
	}
	if (strcmp(type, "plain_text") != 0 && (plain_only || strcmp(type, "mrkdwn") != 0)) {
		snprintf(err, errlen, "%s type must be %s", where,
		         plain_only ? "plain_text" : "plain_text or mrkdwn");
		return -1;
	}
	size_t n = blocks_strlen(text);
	if (n < 1 || n > max) {
		snprintf(err, errlen, "%s must be 1-%zu characters (got %zu)", where, max, n);
		return -1;
	}
	return 0;
}

static int max_str(const cJSON *o, const char *key, size_t max, const char *where, char *err,
                   size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || blocks_strlen(v->valuestring) > max) {
		snprintf(err, errlen, "%s.%s must be a string of at most %zu characters", where,
		         key, max);
		return -1;
	}
	return 0;
}

static int element(const cJSON *e, const char *where, char *err, size_t errlen)
{
	const char *type = json_str(e, "type");
	char w[96];

	if (!type) {
		snprintf(err, errlen, "%s must have a type", where);
		return -1;
	}
	if (max_str(e, "action_id", 255, where, err, errlen) < 0)
		return -1;
	if (strcmp(type, "button") == 0) {
		snprintf(w, sizeof w, "%s.text", where);
		if (text_obj(cJSON_GetObjectItemCaseSensitive(e, "text"), w, 75, 1, err, errlen) <
		        0 ||
		    max_str(e, "value", 2000, where, err, errlen) < 0 ||
		    max_str(e, "url", 3000, where, err, errlen) < 0)
			return -1;
		const char *style = json_str(e, "style");
		if (style && strcmp(style, "primary") != 0 && strcmp(style, "danger") != 0) {
			snprintf(err, errlen, "%s.style must be primary or danger", where);
			return -1;
		}
	}
	return 0;
}

static int block(const cJSON *b, int i, char *err, size_t errlen)
{
	const char *type = json_str(b, "type");
	char where[64];
	const cJSON *arr, *it;
	int n = 0;

	snprintf(where, sizeof where, "blocks[%d]", i);
	if (!cJSON_IsObject(b) || !type) {
		snprintf(err, errlen, "%s must be an object with a type", where);
		return -1;
	}
	if (max_str(b, "block_id", 255, where, err, errlen) < 0)
		return -1;
	if (strcmp(type, "section") == 0) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
		arr = cJSON_GetObjectItemCaseSensitive(b, "fields");
		if (!t && !arr) {
			snprintf(err, errlen, "%s needs text or fields", where);
			return -1;
		}
		if (t && text_obj(t, where, 3000, 0, err, errlen) < 0)
			return -1;
		if (arr) {
			if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > 10) {
				snprintf(err, errlen, "%s.fields must be an array of at most 10",
				         where);
				return -1;
			}
			cJSON_ArrayForEach(it, arr)
			{
				if (text_obj(it, where, 2000, 0, err, errlen) < 0)
					return -1;
			}
		}
		const cJSON *acc = cJSON_GetObjectItemCaseSensitive(b, "accessory");
		if (acc && element(acc, where, err, errlen) < 0)
			return -1;
		return 0;
	}
	if (strcmp(type, "header") == 0)
		return text_obj(cJSON_GetObjectItemCaseSensitive(b, "text"), where, 150, 1, err,
		                errlen);
	if (strcmp(type, "divider") == 0)
		return 0;
	if (strcmp(type, "context") == 0 || strcmp(type, "actions") == 0) {
		int max = strcmp(type, "context") == 0 ? 10 : 25;
		arr = cJSON_GetObjectItemCaseSensitive(b, "elements");
		if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
		    cJSON_GetArraySize(arr) > max) {
			snprintf(err, errlen, "%s.elements must be an array of 1-%d", where, max);
			return -1;
		}
		cJSON_ArrayForEach(it, arr)
		{
			char w[96];
			snprintf(w, sizeof w, "%s.elements[%d]", where, n++);
			if (strcmp(type, "context") == 0) {
				const char *et = json_str(it, "type");
				if (!et) {
					snprintf(err, errlen, "%s must have a type", w);
					return -1;
				}
				if ((strcmp(et, "mrkdwn") == 0 || strcmp(et, "plain_text") == 0) &&
				    text_obj(it, w, 3000, 0, err, errlen) < 0)
					return -1;
			} else if (element(it, w, err, errlen) < 0) {
				return -1;
			}
		}
		return 0;
	}
	if (strcmp(type, "markdown") == 0)
		return max_str(b, "text", 12000, where, err, errlen);
	if (strcmp(type, "image") == 0 || strcmp(type, "rich_text") == 0 ||
	    strcmp(type, "input") == 0 || strcmp(type, "file") == 0 || strcmp(type, "video") == 0)
		return 0;
	snprintf(err, errlen, "%s has unknown type '%s'", where, type);
	return -1;
}

int blocks_check(const cJSON *blocks, char *err, size_t errlen)
{
	return blocks_check_max(blocks, 50, err, errlen);
}

int blocks_check_max(const cJSON *blocks, int max, char *err, size_t errlen)
{
	const cJSON *b;
	int i = 0;

	if (!cJSON_IsArray(blocks)) {
		snprintf(err, errlen, "blocks must be an array");
		return -1;
	}
	if (cJSON_GetArraySize(blocks) > max) {
		snprintf(err, errlen, "no more than %d items allowed (got %d)", max,
		         cJSON_GetArraySize(blocks));
		return -1;
	}
	cJSON_ArrayForEach(b, blocks)
	{
		if (block(b, i++, err, errlen) < 0)
			return -1;
	}
	return 0;
}
