/*
 * wsq.h: a websocket's outgoing queue, for the lws loop.
 *
 * lws writes one frame per WRITEABLE callback and wants LWS_PRE bytes of
 * headroom before the payload, so a message to send is copied into a queue
 * entry with that headroom and written out later, oldest first.  The Socket
 * Mode client (bot/slack_socket.c) and the listener's websockets
 * (lib/httpd.c) both keep one per socket.
 *
 * Invariants:
 *  1. head is NULL exactly when tail is NULL and n is 0.
 *  2. n counts the entries from head to tail.
 *  3. All calls happen on the lws service thread of the socket.
 *
 * Ownership: the queue owns its entries; wsq_clear() frees them.  An entry
 * returned by wsq_pop() is the caller's to free().
 */
#ifndef OPSBOT_WSQ_H
#define OPSBOT_WSQ_H

#include <stddef.h>

struct lws;

struct wsq_msg {
	struct wsq_msg *next;
	int ping;             /* a ping frame rather than text */
	size_t len;           /* payload bytes */
	unsigned char data[]; /* LWS_PRE headroom, then the payload */
};

struct wsq {
	struct wsq_msg *head, *tail;
	size_t n; /* entries waiting */
};

/* Copies len bytes of data to the tail (a ping frame when ping is set). */
void wsq_push(struct wsq *q, const void *data, size_t len, int ping);
/* The oldest entry, taken off the queue (the caller frees it), or NULL. */
struct wsq_msg *wsq_pop(struct wsq *q);
/* The payload of an entry (after its headroom). */
unsigned char *wsq_payload(struct wsq_msg *m);
/*
 * From a WRITEABLE callback: writes the oldest entry to wsi and asks for
 * another callback while entries remain or when then_close is set (the
 * caller closes once the queue is empty).  Returns 1 when it wrote one, 0
 * when the queue was empty, -1 when the write failed (close the socket).
 */
int wsq_write_next(struct wsq *q, struct lws *wsi, int then_close);
/* Frees every entry; the queue is empty and reusable after. */
void wsq_clear(struct wsq *q);

#endif
