/* utf8.c: the one UTF-8 rule for every entrance (see utf8.h). */
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when the bytes there are not one (RFC 3629, Unicode table 3-7).
 */
static size_t seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0; /* continuation byte, overlong lead or beyond U+10FFFF */
	size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (n < need)
		return 0;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* beyond U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

/*
 * Bytes of one maximal invalid subpart at s (at least 1): the W3C/Unicode
 * "substitution of maximal subparts" practice, so one broken character
 * becomes one U+FFFD.
 */
static size_t bad_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0xC2 || c > 0xF4)
		return 1;
	size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	size_t i = 1;
	if (i < n && i < need && s[i] >= lo && s[i] <= hi) {
		i++;
		while (i < n && i < need && s[i] >= 0x80 && s[i] <= 0xBF)
			i++;
	}
	return i;
}

int utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (p[i] == 0)
			return 0;
		size_t k = seq_len(p + i, len - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

static void repair(const unsigned char *p, size_t len, struct buf *o)
{
	size_t i = 0;
	while (i < len) {
		size_t k = seq_len(p + i, len - i);
		if (k) {
			size_t run = i;
			while (i < len && (k = seq_len(p + i, len - i)) != 0)
				i += k;
			buf_append(o, p + run, i - run);
			continue;
		}
		buf_append(o, UTF8_REPLACEMENT, 3);
		i += bad_len(p + i, len - i);
	}
}

int utf8_clean(const char *s, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct buf o = {.max = 3 * len + 16}; /* each bad byte: 3 bytes at most */
	if (memchr(s, '\0', len)) {
		snprintf(err, errlen, "the text holds a NUL byte (at offset %zu)",
		         (size_t)((const char *)memchr(s, '\0', len) - s));
		return -1;
	}
	if (utf8_valid(s, len)) {
		*out = xmalloc(len + 1);
		memcpy(*out, s, len);
		(*out)[len] = '\0';
		*outlen = len;
		return 0;
	}
	repair((const unsigned char *)s, len, &o);
	*out = o.data ? o.data : xstrdup("");
	*outlen = o.len;
	return 0;
}

int utf8_clean_json(const char *s, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
	/* "\u0000" outside a string is a JSON syntax error anyway, so a plain
	 * scan with escape tracking is enough */
	for (size_t i = 0; i + 5 < len; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
		    s[i + 5] == '0') {
			snprintf(err, errlen,
			         "a string holds a NUL character (\\u0000 at offset %zu)", i);
			return -1;
		}
		i++; /* skip the escaped character (also a second backslash) */
	}
	return utf8_clean(s, len, out, outlen, err, errlen);
}

size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t k = seq_len(p + i, len - i);
		if (!k)
			k = 1; /* invalid input: step one byte (callers pass valid text) */
		if (i + k > max)
			break;
		i += k;
	}
	return i;
}

int utf8_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);
	struct buf o = {.max = 3 * n + 16};
	const char *text = src;

	if (dstlen == 0)
		return 1;
	if (!utf8_valid(src, n)) {
		repair((const unsigned char *)src, n, &o);
		text = o.data ? o.data : "";
		n = o.len;
	}
	int cut = n >= dstlen;
	if (!cut) {
		memcpy(dst, text, n + 1);
	} else if (dstlen < 4) {
		size_t k = utf8_prefix(text, n, dstlen - 1);
		memcpy(dst, text, k);
		dst[k] = '\0';
	} else {
		/* room for "…" (3 bytes) and the NUL */
		size_t k = utf8_prefix(text, n, dstlen - 4);
		memcpy(dst, text, k);
		memcpy(dst + k, "\xE2\x80\xA6", 3);
		dst[k + 3] = '\0';
	}
	buf_free(&o);
	return cut;
}

size_t utf8_repair_inplace(char *s, size_t cap)
{
	size_t n = strlen(s), fixes = 0;
	if (utf8_valid(s, n))
		return 0;
	struct buf o = {.max = 3 * n + 16};
	repair((const unsigned char *)s, n, &o);
	for (size_t i = 0; i < n;) {
		size_t k = seq_len((const unsigned char *)s + i, n - i);
		if (!k) {
			fixes++;
			i += bad_len((const unsigned char *)s + i, n - i);
		} else {
			i += k;
		}
	}
	if (o.len < cap) {
		memcpy(s, o.data, o.len + 1);
	} else {
		/* no room to grow: replace each bad byte by '?' in place */
		for (size_t i = 0; i < n;) {
			size_t k = seq_len((const unsigned char *)s + i, n - i);
			if (k) {
				i += k;
			} else {
				s[i] = '?';
				i++;
			}
		}
	}
	buf_free(&o);
	return fixes;
}

int utf8_parse_json(const char *s, size_t len, cJSON **out, char *err, size_t errlen)
{
	char *clean;
	size_t n;
	if (utf8_clean_json(s, len, &clean, &n, err, errlen) < 0)
		return -1;
	int rc = json_parse_object(clean, n, out, err, errlen);
	free(clean);
	return rc;
}

static char *repaired(const char *s)
{
	size_t n = strlen(s);
	struct buf o = {.max = 3 * n + 16};
	repair((const unsigned char *)s, n, &o);
	char *c = cJSON_malloc(o.len + 1);
	if (c) {
		memcpy(c, o.data ? o.data : "", o.len);
		c[o.len] = '\0';
	}
	buf_free(&o);
	return c;
}

size_t utf8_repair_json(cJSON *item)
{
	size_t fixed = 0;
	for (; item; item = item->next) {
		if (item->string && !(item->type & cJSON_StringIsConst) &&
		    !utf8_valid(item->string, strlen(item->string))) {
			char *c = repaired(item->string);
			if (c) {
				cJSON_free(item->string);
				item->string = c;
				fixed++;
			}
		}
		if (cJSON_IsString(item) && item->valuestring &&
		    !utf8_valid(item->valuestring, strlen(item->valuestring))) {
			char *c = repaired(item->valuestring);
			if (c) {
				cJSON_free(item->valuestring);
				item->valuestring = c;
				fixed++;
			}
		}
		if (item->child)
			fixed += utf8_repair_json(item->child);
	}
	return fixed;
}
