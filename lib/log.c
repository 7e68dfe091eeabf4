/* log.c: key=value logging to stderr with secret redaction. */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"

#define LOG_LINE_MAX    8192
#define LOG_MAX_SECRETS 32

static const char *log_prog = "opsbot";
static enum log_level log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_secrets[LOG_MAX_SECRETS];
static int log_nsecrets;

static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_OFF; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

void log_init(const char *prog)
{
	const char *slash = strrchr(prog, '/');
	log_prog = slash ? slash + 1 : prog;
	const char *lv = getenv("OPSBOT_LOG_LEVEL");
	enum log_level l;
	if (lv && log_level_parse(lv, &l) == 0)
		log_level = l;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_add_secret(const char *s)
{
	if (!s || strlen(s) < 4)
		return;
	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < log_nsecrets; i++) {
		if (strcmp(log_secrets[i], s) == 0) {
			pthread_mutex_unlock(&log_lock);
			return;
		}
	}
	if (log_nsecrets < LOG_MAX_SECRETS)
		log_secrets[log_nsecrets++] = xstrdup(s);
	pthread_mutex_unlock(&log_lock);
}

static const char REDACTED[] = "[redacted]";

/* Replace s[at..at+n) with REDACTED when that does not make s longer. */
static int log_splice(char *s, size_t at, size_t n)
{
	size_t rl = sizeof(REDACTED) - 1;
	if (n < rl) {
		memset(s + at, '*', n);
		return 1;
	}
	memcpy(s + at, REDACTED, rl);
	memmove(s + at + rl, s + at + n, strlen(s + at + n) + 1);
	return 1;
}

static int log_tokchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == '=';
}

int log_redact(char *s)
{
	int n = 0;
	/* Registered secrets. */
	for (int i = 0; i < log_nsecrets; i++) {
		const char *sec = log_secrets[i];
		size_t sl = strlen(sec);
		char *p;
		while ((p = strstr(s, sec)) != NULL)
			n += log_splice(s, (size_t)(p - s), sl);
	}
	/* Token-shaped words. */
	static const char *const prefixes[] = {"xoxb-", "xoxp-",   "xapp-", "xoxa-",  "xoxe-",
	                                       "Bot ",  "Bearer ", "bot ",  "bearer "};
	for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
		size_t pl = strlen(prefixes[k]);
		char *p = s;
		while ((p = strstr(p, prefixes[k])) != NULL) {
			if (p > s && isalnum((unsigned char)p[-1])) {
				p += pl;
				continue;
			}
			size_t start = (size_t)(p - s) + (prefixes[k][pl - 1] == ' ' ? pl : 0);
			size_t end = (size_t)(p - s) + pl;
			while (s[end] && log_tokchar(s[end]))
				end++;
			/* "Bot x"/"Bearer x" need a token-length word after them, so text
			 * such as "opsbot-bot pid=12" is left alone. */
			size_t min = prefixes[k][pl - 1] == ' ' ? 16 : 8;
			if (end - start >= min &&
			    strncmp(s + start, REDACTED, sizeof(REDACTED) - 1) != 0) {
				n += log_splice(s, start, end - start);
				p = s + start + sizeof(REDACTED) - 1;
			} else {
				p += pl;
			}
		}
	}
	return n;
}

const char *log_q(const char *s)
{
	static __thread char bufs[8][232];
	static __thread int next;
	char *b = bufs[next];
	next = (next + 1) % 8;
	size_t o = 0;
	b[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o < 205; p++) {
		if (*p == '"' || *p == '\\') {
			b[o++] = '\\';
			b[o++] = (char)*p;
		} else if (*p < 0x20) {
			b[o++] = '\\';
			b[o++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'x';
		} else {
			b[o++] = (char)*p;
		}
	}
	if (s && strlen(s) > 200 && o >= 205) {
		memcpy(b + o, "...", 3);
		o += 3;
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}

__attribute__((format(printf, 3, 0))) static void log_write(enum log_level level, const char *lname,
                                                            const char *fmt, va_list ap)
{
	if (level < log_level)
		return;
	char line[LOG_LINE_MAX];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	int o = snprintf(line, sizeof(line),
	                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s pid=%d ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, (int)(tv.tv_usec / 1000), lname, log_prog, (int)getpid());
	if (o < 0)
		return;
	vsnprintf(line + o, sizeof(line) - (size_t)o - 1, fmt, ap);
	pthread_mutex_lock(&log_lock);
	log_redact(line);
	pthread_mutex_unlock(&log_lock);
	size_t len = strlen(line);
	line[len++] = '\n';
	/* One write() per line so lines from several processes do not interleave. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

#define LOG_FN(name, lvl)                                                                          \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_write(lvl, log_names[lvl], fmt, ap);                                           \
		va_end(ap);                                                                        \
	}
LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_ERROR, "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_write(LOG_ERROR, "panic", fmt, ap);
	va_end(ap);
	abort();
}
