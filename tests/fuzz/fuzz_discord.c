/*
 * fuzz_discord.c: libFuzzer target for what Discord HTTP interactions bring
 * in: the Ed25519 signature headers (bot/discord_sig.c), the interaction
 * JSON read the way bot/discord.c reads it (type, data.name, options,
 * custom_id, member.user.id), its options through the shared command
 * parser (bot/command.c), REST route
 * keys of paths (bot/discord_rest.c) and gateway URLs (bot/discord_gw.c).
 * Input: "sig\ntimestamp\nbody".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/command.h"
#include "bot/discord_gw.h"
#include "bot/discord_rest.h"
#include "bot/discord_sig.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *PUB = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *sig = copy, *ts = strchr(sig, '\n'), *body = NULL;
	if (ts) {
		*ts++ = '\0';
		body = strchr(ts, '\n');
		if (body)
			*body++ = '\0';
	}
	if (ts && body) {
		size_t blen = size - (size_t)(body - copy);
		discord_sig_verify(PUB, sig, ts, body, blen);
		cJSON *in = NULL;
		char err[200];
		if (json_parse_object(body, blen, &in, err, sizeof err) == 0) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(in, "data");
			const cJSON *member = cJSON_GetObjectItemCaseSensitive(in, "member");
			const cJSON *user = cJSON_GetObjectItemCaseSensitive(member, "user");
			(void)json_int(in, "type", 0);
			(void)json_str(d, "name");
			(void)json_str(d, "custom_id");
			(void)json_str(user, "id");
			struct cmd c;
			cmd_parse_options(d,
			                  &c); /* the parser both surfaces share (bot/command.c) */
			const cJSON *o;
			cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(d, "options"))
			{
				(void)json_str(o, "name");
				(void)json_str(o, "value");
			}
			cJSON_Delete(in);
		}
	}
	char route[512], url[1024];
	discord_rest_route("POST", copy, route, sizeof route);
	discord_gw_join_url(copy, url, sizeof url);
	free(copy);
	return 0;
}
