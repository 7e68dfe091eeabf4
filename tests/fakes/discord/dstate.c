/* dstate.c: fake-discord's model: channels, messages, interactions, sessions. */
#include "dstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "mem.h"

#define DISCORD_EPOCH_MS 1420070400000LL

int64_t dstate_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void dstate_snowflake(struct dstate *st, char *out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	uint64_t v = ((uint64_t)(ms - DISCORD_EPOCH_MS) << 22) | (st->snow_seq++ & 0x3fffff);
	snprintf(out, DSTATE_ID_LEN, "%llu", (unsigned long long)v);
}

void dstate_init(struct dstate *st, const struct dconfig *cfg)
{
	memset(st, 0, sizeof *st);
	st->cfg = *cfg;
	st->global_commands = json_new_array();
	st->users = json_new_object();
	st->guild_commands = json_new_array();
	st->force_retry_after = 0.2;
	char id[DSTATE_ID_LEN];
	dstate_snowflake(st, id);
	dstate_chan_add(st, id, "general", 0, NULL);
	dstate_snowflake(st, id);
	dstate_chan_add(st, id, "ops", 0, NULL);
}

static void sess_free(struct dsess *s)
{
	for (size_t i = 0; i < s->log_len; i++)
		free(s->log[i].text);
	free(s->log);
	free(s);
}

void dstate_free(struct dstate *st)
{
	for (struct dchan *c = st->chans, *cn; c; c = cn) {
		cn = c->next;
		for (struct dmsg *m = c->msgs, *mn; m; m = mn) {
			mn = m->next;
			cJSON_Delete(m->obj);
			free(m);
		}
		free(c);
	}
	for (struct dinter *i = st->inters, *in; i; i = in) {
		in = i->next;
		free(i);
	}
	for (struct dsess *s = st->sessions, *sn; s; s = sn) {
		sn = s->next;
		sess_free(s);
	}
	for (struct dconn *c = st->conns, *cn; c; c = cn) {
		cn = c->next;
		struct dframe *f;
		while ((f = dstate_conn_pop(c))) {
			free(f->text);
			free(f);
		}
		free(c);
	}
	for (struct dbucket *b = st->buckets, *bn; b; b = bn) {
		bn = b->next;
		free(b);
	}
	for (struct dattach *a = st->attachments, *an; a; a = an) {
		an = a->next;
		free(a->data);
		free(a);
	}
	cJSON_Delete(st->global_commands);
	cJSON_Delete(st->users);
	cJSON_Delete(st->guild_commands);
	memset(st, 0, sizeof *st);
}

struct dchan *dstate_chan(struct dstate *st, const char *id)
{
	for (struct dchan *c = st->chans; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

struct dchan *dstate_chan_by_name(struct dstate *st, const char *name)
{
	for (struct dchan *c = st->chans; c; c = c->next)
		if (c->type == 0 && strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct dchan *dstate_chan_add(struct dstate *st, const char *id, const char *name, int type,
                              const char *parent)
{
	struct dchan *c = xcalloc(1, sizeof *c);
	str_copy(c->id, sizeof c->id, id);
	str_copy(c->name, sizeof c->name, name);
	if (parent)
		str_copy(c->parent_id, sizeof c->parent_id, parent);
	c->type = type;
	/* Appended, so channel order is creation order. */
	struct dchan **pp = &st->chans;
	while (*pp)
		pp = &(*pp)->next;
	*pp = c;
	return c;
}

struct dmsg *dstate_msg_add(struct dchan *c, const char *id, cJSON *obj)
{
	struct dmsg *m = xcalloc(1, sizeof *m);
	str_copy(m->id, sizeof m->id, id);
	str_copy(m->channel_id, sizeof m->channel_id, c->id);
	m->obj = obj;
	m->created_us = dstate_now_us();
	if (c->last)
		c->last->next = m;
	else
		c->msgs = m;
	c->last = m;
	c->nmsgs++;
	return m;
}

struct dmsg *dstate_msg(struct dstate *st, const char *channel_id, const char *id)
{
	struct dchan *c = dstate_chan(st, channel_id);
	if (!c)
		return NULL;
	for (struct dmsg *m = c->msgs; m; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

void dstate_msg_del(struct dchan *c, struct dmsg *m)
{
	struct dmsg *prev = NULL;
	for (struct dmsg **pp = &c->msgs; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != m)
			continue;
		*pp = m->next;
		if (c->last == m)
			c->last = prev;
		c->nmsgs--;
		cJSON_Delete(m->obj);
		free(m);
		return;
	}
}

struct dmsg *dstate_msg_any(struct dstate *st, const char *id)
{
	for (struct dchan *c = st->chans; c; c = c->next)
		for (struct dmsg *m = c->msgs; m; m = m->next)
			if (strcmp(m->id, id) == 0)
				return m;
	return NULL;
}

struct dinter *dstate_inter(struct dstate *st, const char *id)
{
	for (struct dinter *i = st->inters; i; i = i->next)
		if (strcmp(i->id, id) == 0)
			return i;
	return NULL;
}

struct dinter *dstate_inter_by_token(struct dstate *st, const char *token)
{
	for (struct dinter *i = st->inters; i; i = i->next)
		if (strcmp(i->token, token) == 0)
			return i;
	return NULL;
}

void dstate_conn_send(struct dstate *st, struct dconn *c, const char *text, size_t len)
{
	if (c->gone || c->close_code || c->drop)
		return;
	if (c->nout >= DSTATE_OUT_MAX) {
		/* A client that does not read is cut off, as a real server would. */
		dstate_conn_close(st, c, 4000, "Unknown error.");
		return;
	}
	struct dframe *f = xcalloc(1, sizeof *f);
	f->text = xstrndup(text, len);
	f->len = len;
	if (c->out_last)
		c->out_last->next = f;
	else
		c->out = f;
	c->out_last = f;
	c->nout++;
	if (st->wake)
		st->wake(c);
}

void dstate_conn_close(struct dstate *st, struct dconn *c, int code, const char *reason)
{
	if (c->gone)
		return;
	if (code == 0)
		c->drop = 1;
	else if (!c->close_code) {
		c->close_code = code;
		str_copy(c->close_reason, sizeof c->close_reason, reason ? reason : "");
	}
	if (st->wake)
		st->wake(c);
}

struct dframe *dstate_conn_pop(struct dconn *c)
{
	struct dframe *f = c->out;
	if (!f)
		return NULL;
	c->out = f->next;
	if (!c->out)
		c->out_last = NULL;
	c->nout--;
	f->next = NULL;
	return f;
}

char *dstate_frame(int op, const cJSON *d, int64_t s, const char *t)
{
	cJSON *f = json_new_object();
	if (t)
		json_add_str(f, "t", t);
	else
		json_add(f, "t", cJSON_CreateNull());
	if (s > 0)
		json_add_int(f, "s", s);
	else
		json_add(f, "s", cJSON_CreateNull());
	json_add_int(f, "op", op);
	json_add(f, "d", d ? json_dup(d) : cJSON_CreateNull());
	char *text = json_print(f);
	cJSON_Delete(f);
	return text;
}

static void sess_log(struct dsess *s, char *text, unsigned intent)
{
	if (!s->log) {
		s->log_cap = DSTATE_LOG_MAX;
		s->log = xcalloc(s->log_cap, sizeof *s->log);
	}
	struct devent *e;
	if (s->log_len < s->log_cap) {
		e = &s->log[(s->log_head + s->log_len) % s->log_cap];
		s->log_len++;
	} else {
		e = &s->log[s->log_head];
		free(e->text);
		s->log_head = (s->log_head + 1) % s->log_cap;
	}
	e->s = s->seq;
	e->text = text;
	e->len = strlen(text);
	e->intent = intent;
}

void dstate_dispatch_to(struct dstate *st, struct dsess *s, const char *t, const cJSON *d)
{
	s->seq++;
	char *text = dstate_frame(0, d, s->seq, t);
	if (s->conn)
		dstate_conn_send(st, s->conn, text, strlen(text));
	sess_log(s, text, 0);
}

void dstate_dispatch(struct dstate *st, const char *t, const cJSON *d, unsigned intent)
{
	for (struct dsess *s = st->sessions; s; s = s->next) {
		if (!s->valid)
			continue;
		if (intent && !(s->intents & intent))
			continue;
		dstate_dispatch_to(st, s, t, d);
	}
}

struct dsess *dstate_active(struct dstate *st)
{
	/* Sessions are prepended, so the first match is the newest. */
	for (struct dsess *s = st->sessions; s; s = s->next)
		if (s->valid && s->conn)
			return s;
	return NULL;
}

void dstate_reqlog_add(struct dstate *st, const struct dreq *r)
{
	st->reqlog[st->reqlog_n % DSTATE_REQLOG_MAX] = *r;
	st->reqlog_n++;
}

struct dattach *dstate_attach_add(struct dstate *st, const char *id, const char *channel_id,
                                  const char *message_id, const char *filename,
                                  const char *content_type, const char *data, size_t len)
{
	struct dattach *a = xcalloc(1, sizeof *a);
	str_copy(a->id, sizeof a->id, id);
	str_copy(a->channel_id, sizeof a->channel_id, channel_id);
	str_copy(a->message_id, sizeof a->message_id, message_id);
	str_copy(a->filename, sizeof a->filename, filename);
	str_copy(a->content_type, sizeof a->content_type, content_type);
	a->data = xmalloc(len ? len : 1);
	if (len)
		memcpy(a->data, data, len);
	a->len = len;
	a->next = st->attachments;
	st->attachments = a;
	return a;
}

struct dattach *dstate_attach(struct dstate *st, const char *id)
{
	for (struct dattach *a = st->attachments; a; a = a->next)
		if (strcmp(a->id, id) == 0)
			return a;
	return NULL;
}
