/*
 * fuzz_alert.c: libFuzzer target for the webhook parsers (bot/alert.c):
 * the first byte picks Alertmanager or generic, the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>

#include "bot/alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alert_req r;
	char err[300];
	if (size < 1)
		return 0;
	const char *body = (const char *)data + 1;
	if (data[0] & 1) {
		if (alert_parse_alertmanager(body, size - 1, &r, err, sizeof err) == 0)
			alert_req_free(&r);
	} else {
		if (alert_parse_generic(body, size - 1, &r, err, sizeof err) == 0)
			alert_req_free(&r);
	}
	return 0;
}
