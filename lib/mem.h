/*
 * mem.h: allocation that never returns NULL.
 *
 * Allocation failure is not an error opsbot can recover from in a useful
 * way, so every allocation goes through these wrappers, which log and exit
 * (the master restarts the process).  Ownership: the caller frees every
 * pointer returned here with free().
 */
#ifndef OPSBOT_MEM_H
#define OPSBOT_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bounded copy that always NUL-terminates; returns -1 when it truncated. */
int str_copy(char *dst, size_t dstlen, const char *src);

/*
 * A growable byte buffer with a hard maximum (every buffer that grows from
 * outside input has one).  buf_append returns -1 and leaves the buffer as it
 * was when the maximum would be passed.  The data is always NUL-terminated.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 means 64 MiB */
};
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/*
 * Append the whole file at path ("-" is standard input) to b, within b->max.
 * Returns 0, or -1 with "path: cannot open: ...", "path: larger than N
 * bytes" or "path: read error" in err; b then holds what was read so far.
 */
int buf_read_file(struct buf *b, const char *path, char *err, size_t errlen);
void buf_free(struct buf *b);

#endif
