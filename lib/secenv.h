/*
 * secenv.h: which secret environment variables each daemon gets.
 *
 * The master (bot/master.c) starts every daemon with the environment it
 * was given minus the secrets that daemon does not use, so a worker that
 * is tricked into running something, or that dumps its environment, holds
 * no chat or mail token:
 *
 *   opsbot-bot       SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET,
 *                    DISCORD_BOT_TOKEN, OPSBOT_HOOK_TOKEN
 *   opsbot-plan      OPSBOT_LLM_API_KEY
 *   opsbot-retrieve  OPSBOT_LLM_API_KEY
 *   opsbot-report    OPSBOT_SMTP_PASSWORD
 *   anything else    none of them (opsbot-queue, opsbot-detect, opsbot-exec,
 *                    programs of your own)
 *
 * Programs are told apart by the file name of their path.  Variables not
 * in the list above pass unchanged.
 */
#ifndef OPSBOT_SECENV_H
#define OPSBOT_SECENV_H

/* Whether the program at `path` may see environment variable `name`. */
int secenv_allowed(const char *path, const char *name);

/*
 * A NULL-terminated copy of env (pointers into it, not the strings) without
 * the secrets the program at `path` does not use.  Free the array with free().
 */
char **secenv_for(const char *path, char *const *env);

#endif
