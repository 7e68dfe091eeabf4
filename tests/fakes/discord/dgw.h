/*
 * dgw.h: fake-discord's Gateway: the opcode state machine of one connection.
 *
 *   open --Hello--> hello --Identify ok--> live (READY, GUILD_CREATE)
 *                         --Resume ok----> live (replay, RESUMED)
 *                         --Resume refused--> op 9 d:false, stays hello
 *   any --bad frame / bad token / bad intents--> closed with the real code
 *
 * Frames out are queued on the struct dconn (dstate_conn_send); closes are
 * requested with dstate_conn_close.  The glue (main.c) moves the bytes.
 */
#ifndef FAKE_DISCORD_DGW_H
#define FAKE_DISCORD_DGW_H

#include <stddef.h>

#include "dstate.h"

/* A websocket opened with this query string ("v=10&encoding=json"); sends
 * Hello or closes (4012 bad version, 4002 unsupported encoding). */
struct dconn *dgw_open(struct dstate *st, const char *query);
/* One complete text message from the client. */
void dgw_on_text(struct dstate *st, struct dconn *c, const char *text, size_t len);
/* The connection ended; client_code is the client's close code (0: none). */
void dgw_closed(struct dstate *st, struct dconn *c, int client_code);
/* Unlink and free a connection the glue is done with. */
void dgw_conn_free(struct dstate *st, struct dconn *c);
/* Timers: missed heartbeats, scheduled closes.  Call every few tens of ms. */
void dgw_tick(struct dstate *st);

/* Control actions on the active session's connection; -1 when none. */
int dgw_ctl_reconnect(struct dstate *st);
int dgw_ctl_invalid_session(struct dstate *st, int resumable);
/* Cut the TCP connection; new connections get Hello only after hold_ms;
 * forget: the session is gone too, so a resume gets op 9 d:false. */
int dgw_ctl_drop(struct dstate *st, int hold_ms, int forget);
/* Send a dispatch with any t and d (d may be any JSON, or NULL). */
int dgw_ctl_dispatch(struct dstate *st, const char *t, const cJSON *d);
int dgw_ctl_close(struct dstate *st, int code);
int dgw_ctl_acks(struct dstate *st, int on);
int dgw_ctl_heartbeat_request(struct dstate *st);

#endif
