/*
 * drest.h: fake-discord's HTTP side: the REST API under /api/v10 (with real
 * rate-limit headers, 429s and error shapes) and the control API under
 * /_fake/ that tests use to play users and misbehave on purpose.
 *
 * drest_handle() is a pure function of the state and one request, so it is
 * unit-tested without a socket; main.c feeds it requests from libwebsockets.
 *
 * REST (/api/v10; Bot token required unless noted; every answer carries
 * X-RateLimit-* headers; a missing "DiscordBot (" User-Agent gets 403):
 *   GET  /gateway (no auth), /gateway/bot, /guilds/{g}/channels,
 *        /applications/@me, /users/{id | @me}, /channels/{c}
 *   PUT|GET /applications/{app}/commands, /applications/{app}/guilds/{g}/commands
 *   POST /channels/{c}/messages (nonce + enforce_nonce dedupe; JSON, or
 *        multipart/form-data with payload_json + files[n]: 10 files of at
 *        most 10 MiB, 25 MiB a request, else 413/40005), GET one,
 *   GET list (limit 1-100, default 50; before | after | around), newest first,
 *   PATCH|DELETE /channels/{c}/messages/{m}, POST .../messages/{m}/threads,
 *   PUT|DELETE .../messages/{m}/reactions/{emoji}/@me, POST /channels/{c}/typing
 *   POST /interactions/{id}/{token}/callback (no auth; 3 s; once)
 *   POST /webhooks/{app}/{token}, GET|PATCH|DELETE .../messages/@original|{m}
 *        (no auth)
 *
 * Control (/_fake/, no auth, JSON):
 *   POST /_fake/interactions {kind:"command"|"button"|"modal", user{id,username},
 *        channel (id or name, default "ops"), options[] | custom_id+message_id |
 *        custom_id+values{input custom_id: text}[+message_id] (MODAL_SUBMIT),
 *        deliver:"return" (HTTP mode: the payload is returned, not dispatched)}
 *        -> {id, token, channel_id, s | payload}
 *   GET  /_fake/interactions/{id} -> callback type, latency, refusals
 *   GET  /_fake/channels, /_fake/channels/{id|name}/messages[?after=ID&times=1]
 *   POST /_fake/gateway/{reconnect | invalid_session {resumable} |
 *        drop {hold_ms, forget} | close {code} | acks {on} | heartbeat |
 *        dispatch {t, d} | resume_url {url} (what later READYs name as
 *        resume_gateway_url; "" = the stand-in's own)}
 *   POST /_fake/stall {posts:N}  store the next N channel posts but never
 *        answer them (a crash-window test kills the bot meanwhile)
 *   POST /_fake/ratelimit {n, scope:"route"|"global", match, retry_after,
 *        multipart (route 429s for file uploads only)}
 *   POST /_fake/upload_limit {file_max} per-file bytes (0: back to 10 MiB)
 *   GET  /_fake/stats, /_fake/requests, /_fake/commands
 *   GET  /_fake/attachments/{id}[/{filename}] -> an uploaded file's bytes
 *        (the attachment's url points here)
 */
#ifndef FAKE_DISCORD_DREST_H
#define FAKE_DISCORD_DREST_H

#include <stddef.h>

#include "dstate.h"
#include "mem.h"

#define DREST_MAX_BODY    (25u << 20) /* a request; also the largest answer */
#define DREST_MAX_HEADERS 12

struct drest_req {
	const char *method; /* GET POST PUT PATCH DELETE */
	const char *path;   /* without the query */
	const char *query;  /* without '?', may be "" */
	const char *authorization;
	const char *user_agent;
	const char *content_type;
	const char *body;
	size_t body_len;
};

struct drest_resp {
	int status;
	const char *content_type; /* static string */
	struct buf body;
	int nheaders;
	char hname[DREST_MAX_HEADERS][40];
	char hval[DREST_MAX_HEADERS][64];
};

/* Answer one request; resp must be zeroed; free its body with buf_free. */
void drest_handle(struct dstate *st, const struct drest_req *req, struct drest_resp *resp);

#endif
