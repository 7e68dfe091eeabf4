/*
 * fuzz_slack.c: libFuzzer target for what Slack HTTP mode sends: a form
 * body (bot/form.c), its "payload" JSON (interactions) and its "text"
 * through the /incident command parser (bot/command.c), plus an Events
 * API JSON body and the v0 signature check (bot/slack_sig.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/command.h"
#include "bot/form.h"
#include "bot/slack_sig.h"
#include "bot/step.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	cJSON *form = form_parse(s, size);
	if (form) {
		const char *payload = json_str(form, "payload");
		if (payload) {
			cJSON *p = NULL;
			char err[200];
			if (json_parse_object(payload, strlen(payload), &p, err, sizeof err) == 0)
				cJSON_Delete(p);
		}
		const char *text = json_str(form, "text");
		if (text) {
			struct cmd c;
			char *clean;
			size_t n;
			char err[200];
			if (utf8_clean(text, strlen(text), &clean, &n, err, sizeof err) == 0) {
				cmd_parse_text(clean, &c);
				free(clean);
			}
			char *t = step_clamp(text, 150);
			free(t);
		}
		cJSON_Delete(form);
	}
	/* the same bytes as an Events API body */
	cJSON *ev = NULL;
	char err[200];
	if (json_parse_object(s, size, &ev, err, sizeof err) == 0)
		cJSON_Delete(ev);
	/* and under a signature header */
	char *body = malloc(size + 1);
	memcpy(body, data, size);
	body[size] = '\0';
	slack_sig_verify("secret", "1700000000", body, body, size, 1700000000, err, sizeof err);
	free(body);
	return 0;
}
