/* fuzz_config.c: libFuzzer target for the config loader (lib/config.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct config *c = NULL;
	char err[512];
	if (config_parse("fuzz.conf", text, &c, err, sizeof err) == 0) {
		const char *names[8];
		(void)config_str(c, "http", "listen", NULL);
		(void)config_int(c, "http", "max_body", 1, 0, 100);
		(void)config_duration_ms(c, "http", "header_timeout", 1);
		(void)config_bool(c, "hooks", "resolve", 1);
		(void)config_double(c, "detect", "z", 1, 0, 10);
		(void)config_enum(c, "hooks", "refire", (const char *const[]){"note", "new", NULL},
		                  0);
		(void)config_all(c, "source x", "query", names, 8);
		(void)config_sections_of(c, "source", names, 8);
		config_check(c, (const char *const[]){"http", "hooks", "source *", NULL}, err,
		             sizeof err);
		config_free(c);
	}
	free(text);
	return 0;
}
