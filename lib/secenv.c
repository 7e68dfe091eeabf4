/* secenv.c: the per-daemon secret table of secenv.h. */
#include "secenv.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static const struct {
	const char *var;
	const char *programs; /* space-separated file names */
} secenv_table[] = {
    {"SLACK_BOT_TOKEN", "opsbot-bot"},
    {"SLACK_APP_TOKEN", "opsbot-bot"},
    {"SLACK_SIGNING_SECRET", "opsbot-bot"},
    {"DISCORD_BOT_TOKEN", "opsbot-bot"},
    {"OPSBOT_HOOK_TOKEN", "opsbot-bot"},
    {"OPSBOT_LLM_API_KEY", "opsbot-plan opsbot-retrieve"},
    {"OPSBOT_SMTP_PASSWORD", "opsbot-report"},
};

static int secenv_word_in(const char *word, const char *list)
{
	size_t n = strlen(word);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " ");
		if (k == n && strncmp(p, word, n) == 0)
			return 1;
		p += k;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int secenv_allowed(const char *path, const char *name)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(secenv_table) / sizeof(secenv_table[0]); i++)
		if (strcmp(secenv_table[i].var, name) == 0)
			return *base && secenv_word_in(base, secenv_table[i].programs);
	return 1;
}

char **secenv_for(const char *path, char *const *env)
{
	size_t n = 0;
	while (env && env[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(*out));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(env[i], '=');
		char name[128];
		size_t len = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
		if (len >= sizeof(name)) {
			out[k++] = env[i]; /* no secret has so long a name */
			continue;
		}
		memcpy(name, env[i], len);
		name[len] = '\0';
		if (secenv_allowed(path, name))
			out[k++] = env[i];
	}
	out[k] = NULL;
	return out;
}
