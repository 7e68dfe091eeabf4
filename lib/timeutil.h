/*
 * timeutil.h: clocks, RFC 3339 timestamps and durations.
 * Times are int64 milliseconds: wall clock since the Unix epoch, or a
 * monotonic clock for deadlines and latencies.
 */
#ifndef OPSBOT_TIMEUTIL_H
#define OPSBOT_TIMEUTIL_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

int64_t time_now_ms(void);  /* CLOCK_REALTIME */
int64_t time_mono_ms(void); /* CLOCK_MONOTONIC */
int64_t time_mono_us(void);
/* CLOCK_REALTIME now plus ms, normalised: the deadline pthread_cond_timedwait wants. */
struct timespec time_deadline(int64_t ms);
/* "2026-11-21T04:50:00.123Z" into buf (at least 32 bytes); returns buf. */
char *time_fmt_iso(int64_t ms, char *buf, size_t len);
/* RFC 3339 with optional fraction and Z or +hh:mm; also "YYYY-MM-DD HH:MM:SS". */
int time_parse_iso(const char *s, int64_t *ms);
/*
 * Sleep, restarting on EINTR unless *stop becomes nonzero (stop may be NULL).
 * A flag written by another thread must be an atomic_int (C11; plain
 * volatile is a data race); volatile int stays for flags only a signal
 * handler of the same thread sets.
 */
void time_sleep_ms_atomic(int64_t ms, atomic_int *stop);
void time_sleep_ms_volatile(int64_t ms, volatile int *stop);
#define time_sleep_ms(ms, stop)                                                                    \
	_Generic((stop), atomic_int *                                                              \
	         : time_sleep_ms_atomic, default                                                   \
	         : time_sleep_ms_volatile)(ms, stop)

#endif
