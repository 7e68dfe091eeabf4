/*
 * log.h: one line per event, key=value, with secret redaction.
 *
 * Lines look like
 *   ts=2026-11-21T04:50:00.123Z level=info prog=opsbot-queue event=submit incident=12
 * The format string carries the key=value pairs after the fixed prefix;
 * quote values that may hold spaces with log_q().
 *
 * Severities (after Postfix's msg.c):
 *   log_warn   something went wrong; keep going.
 *   log_fatal  bad configuration or environment; exit(1) and let the master
 *              restart us.  Never for input from the network or a user.
 *   log_panic  a broken invariant; abort().
 *
 * Redaction: every string registered with log_add_secret() and every
 * token-looking word (xoxb-, xoxp-, xapp-, xoxa-, "Bot <tok>", "Bearer <tok>")
 * is replaced with [redacted] before the line is written.  log_redact() applies
 * the same rule to any text bound for chat, email or PDF.
 */
#ifndef OPSBOT_LOG_H
#define OPSBOT_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* prog names the process; the level comes from OPSBOT_LOG_LEVEL (default info). */
void log_init(const char *prog);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "debug|info|warn|error|off"; -1 when unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* Remember a secret so it never reaches a log line; copies s. */
void log_add_secret(const char *s);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Check an invariant; a failure is a panic naming the file and line. */
#define LOG_ASSERT(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			log_panic("event=assert_failed cond=\"%s\" at=%s:%d", #cond, __FILE__,     \
			          __LINE__);                                                       \
	} while (0)

/*
 * Redact secrets in s in place (the result is never longer than s).
 * Returns the number of replacements.
 */
int log_redact(char *s);

/*
 * Quote a value for a key=value line: wraps it in double quotes, escapes
 * quotes, backslashes and control characters, and cuts it at 200 bytes.
 * Returns a pointer into one of 8 thread-local rotating buffers.
 */
const char *log_q(const char *s);

#endif
