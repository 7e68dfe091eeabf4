/* discord_sig_test.c: Ed25519 check against the real vector captured from Discord. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discord_sig.h"
#include "json.h"
#include "mem.h"

static cJSON *vec;

static int load(void **state)
{
	(void)state;
	const char *path = "tests/data/discord/ed25519_vector.json";
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	struct buf b = {.max = 1 << 20};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	char err[128];
	if (json_parse_object(b.data, b.len, &vec, err, sizeof err) < 0)
		fail_msg("vector: %s", err);
	buf_free(&b);
	return 0;
}

static int unload(void **state)
{
	(void)state;
	cJSON_Delete(vec);
	return 0;
}

static void test_vector(void **state)
{
	(void)state;
	const char *key = json_str(vec, "public_key_hex");
	const char *sig = json_str(vec, "signature_hex");
	const char *ts = json_str(vec, "timestamp");
	const char *body = json_str(vec, "body");
	assert_non_null(key);
	assert_non_null(body);
	size_t len = strlen(body);
	char *body2 = xstrdup(body);
	body2[len / 2] ^= 1; /* one byte changed */
	char *sig2 = xstrdup(sig);
	sig2[10] = sig2[10] == '0' ? '1' : '0';
	char key2[65];
	str_copy(key2, sizeof key2, key);
	key2[0] = key2[0] == 'b' ? 'c' : 'b';
	struct {
		const char *name, *key, *sig, *ts, *body;
		size_t len;
		int want;
	} cases[] = {
	    {"real vector", key, sig, ts, body, len, 1},
	    {"body changed", key, sig, ts, body2, len, 0},
	    {"body truncated", key, sig, ts, body, len - 1, 0},
	    {"timestamp changed", key, sig, "1749368684", body, len, 0},
	    {"signature changed", key, sig2, ts, body, len, 0},
	    {"other key", key2, sig, ts, body, len, 0},
	    {"signature not hex", key, "zz", ts, body, len, 0},
	    {"signature missing", key, NULL, ts, body, len, 0},
	    {"timestamp missing", key, sig, NULL, body, len, 0},
	    {"key short", "b853", sig, ts, body, len, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = discord_sig_verify(cases[i].key, cases[i].sig, cases[i].ts, cases[i].body,
		                             cases[i].len);
		if (got != cases[i].want)
			fail_msg("%s: got %d want %d", cases[i].name, got, cases[i].want);
	}
	free(body2);
	free(sig2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_vector)};
	return cmocka_run_group_tests(tests, load, unload);
}
