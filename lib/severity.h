/*
 * severity.h: the one table of incident severities.  Every entrance (chat
 * commands, webhooks, opsbotctl, the wire decoder, the watch loop) checks
 * against it, so the list is written once.
 */
#ifndef OPSBOT_SEVERITY_H
#define OPSBOT_SEVERITY_H

/* Most severe first; NULL-terminated. */
extern const char *const severity_names[];

/* Used when a caller gives none. */
#define SEVERITY_DEFAULT "medium"

/* The table's own string for s (compared without case), or NULL. */
const char *severity_canon(const char *s);
/* 0 for the most severe, rising; -1 when s is not a severity (exact match). */
int severity_rank(const char *s);
/* "critical, high, medium, low, info": for messages to people. */
const char *severity_list(void);

#endif
