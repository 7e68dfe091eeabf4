/*
 * fifo.h: the two link steps of an intrusive singly linked queue (a head
 * and a tail pointer, items linked through their `next` field), written
 * once for the queues that keep one: a lane's jobs (bot/lane.c), the Slack
 * outbox's channels and seq records (bot/slack_web.c), a websocket's send
 * queue (lib/wsq.c).
 *
 * head, tail and item must be plain lvalues without side effects (each is
 * named more than once).  Invariant kept: head is NULL exactly when tail is.
 */
#ifndef OPSBOT_FIFO_H
#define OPSBOT_FIFO_H

/* Appends item at the tail. */
#define FIFO_PUSH(head, tail, item)                                                                \
	do {                                                                                       \
		(item)->next = NULL;                                                               \
		if (tail)                                                                          \
			(tail)->next = (item);                                                     \
		else                                                                               \
			(head) = (item);                                                           \
		(tail) = (item);                                                                   \
	} while (0)

/* Puts item back at the head (it goes first again). */
#define FIFO_PUSH_FRONT(head, tail, item)                                                          \
	do {                                                                                       \
		(item)->next = (head);                                                             \
		(head) = (item);                                                                   \
		if (!(tail))                                                                       \
			(tail) = (item);                                                           \
	} while (0)

#endif
