/* wsq.c: a websocket's outgoing queue (wsq.h). */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "fifo.h"
#include "mem.h"
#include "wsq.h"

void wsq_push(struct wsq *q, const void *data, size_t len, int ping)
{
	struct wsq_msg *m = xmalloc(sizeof *m + LWS_PRE + len);
	m->ping = ping;
	m->len = len;
	if (len)
		memcpy(m->data + LWS_PRE, data, len);
	FIFO_PUSH(q->head, q->tail, m);
	q->n++;
}

struct wsq_msg *wsq_pop(struct wsq *q)
{
	struct wsq_msg *m = q->head;
	if (!m)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	m->next = NULL;
	return m;
}

unsigned char *wsq_payload(struct wsq_msg *m)
{
	return m->data + LWS_PRE;
}

int wsq_write_next(struct wsq *q, struct lws *wsi, int then_close)
{
	struct wsq_msg *m = wsq_pop(q);
	if (!m)
		return 0;
	int n = lws_write(wsi, wsq_payload(m), m->len, m->ping ? LWS_WRITE_PING : LWS_WRITE_TEXT);
	free(m);
	if (n < 0)
		return -1;
	if (q->head || then_close)
		lws_callback_on_writable(wsi);
	return 1;
}

void wsq_clear(struct wsq *q)
{
	struct wsq_msg *m;
	while ((m = wsq_pop(q)))
		free(m);
}
