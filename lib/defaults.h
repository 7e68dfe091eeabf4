/*
 * defaults.h: the defaults several programs share, named once (after
 * Postfix's mail_params.h).  A config key that several processes read has
 * its default here, so they cannot drift apart.  Values only: no code.
 */
#ifndef OPSBOT_DEFAULTS_H
#define OPSBOT_DEFAULTS_H

/* [queue] listen: the queue's REP socket (requests) */
#define DEF_QUEUE_URL "ipc://var/run/opsbot-queue.ipc"
/* [queue] events: the queue's PUB socket (events) */
#define DEF_EVENTS_URL "ipc://var/run/opsbot-events.ipc"
/* [queue] db, [bot] state: the two SQLite files the bot side knows of */
#define DEF_QUEUE_DB  "var/opsbot.db"
#define DEF_BOT_STATE "var/bot.db"
/* [master] run_dir: pid files, sockets */
#define DEF_RUN_DIR "var/run"
/* [http] listen of opsbot-bot */
#define DEF_HTTP_LISTEN "127.0.0.1:8080"

/* one HTTP call to a chat API (Slack Web API, Discord REST), ms */
#define DEF_CHAT_API_TIMEOUT_MS 10000
/* one request to the queue from an admin tool, ms */
#define DEF_CTL_TIMEOUT_MS 3000

/* characters of an incident title as a chat message shows it */
#define DEF_TITLE_MAX 120
/* characters of one step's text in a chat thread */
#define DEF_STEP_TEXT_MAX 1500
/* characters of an incident summary on its parent message */
#define DEF_SUMMARY_MAX 1000

#endif
