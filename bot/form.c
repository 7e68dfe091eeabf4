/*
 * form.c: form-urlencoded decoding (see form.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "json.h"
#include "mem.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			out[j++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		           hexval((unsigned char)s[i + 2]) >= 0) {
			out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
			                  hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

cJSON *form_parse(const char *s, size_t len)
{
	cJSON *o = json_new_object();
	const char *end = s + len;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(stop - s));
		if (stop > s) {
			char *k = decode(s, (size_t)((eq ? eq : stop) - s));
			char *v = eq ? decode(eq + 1, (size_t)(stop - eq - 1)) : xstrdup("");
			cJSON_DeleteItemFromObjectCaseSensitive(o, k);
			json_add_str(o, k, v);
			free(k);
			free(v);
		}
		s = stop + 1;
	}
	return o;
}
