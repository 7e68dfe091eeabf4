/*
 * fuzz_template.c: libFuzzer target for the template renderer
 * (lib/template.c).  Input: one flags byte (escapes), then a template text
 * rendered against a fixed context; the text also becomes partial "p".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mem.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[300];
	if (!ctx) {
		const char *j =
		    "{\"title\":\"Disk <full> & \\\"hot\\\"\",\"n\":3,\"ok\":true,"
		    "\"items\":[{\"k\":\"a\",\"v\":1},{\"k\":\"*b*\",\"v\":[1,2]}],"
		    "\"nested\":{\"deep\":{\"x\":\"\\u00e9\"}},\"empty\":[],\"none\":null}";
		json_parse_object(j, strlen(j), &ctx, err, sizeof err);
	}
	if (size < 1)
		return 0;
	unsigned esc = data[0] & 0x0f;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct template_set *ts = template_set_new();
	struct buf out = {.max = 1 << 20};
	if (template_set_add(ts, "p", text, err, sizeof err) == 0)
		template_render(ts, "p", ctx, esc, &out, err, sizeof err);
	buf_reset(&out);
	template_render_text(ts, text, ctx, esc, &out, err, sizeof err);
	buf_free(&out);
	template_set_free(ts);
	free(text);
	return 0;
}
