/*
 * discord_rest.h: Discord's REST API over libcurl with Discord's rate limits.
 *
 * Every call sends `Authorization: Bot <token>` (except interaction callbacks
 * and webhooks, which are authorised by their token in the path) and the
 * mandatory `User-Agent: DiscordBot (url, version)`.
 *
 * Rate limits are learned, never hard-coded: each route (method + path with
 * its major parameter kept: channel, guild, webhook) maps to the bucket the
 * server names in X-RateLimit-Bucket; a bucket with Remaining 0 waits out
 * Reset-After.  A 429 waits `retry_after` from the body (route or shared
 * scope: that bucket; `global:true`: every call) and tries again.  A global
 * limiter keeps non-interaction calls under [discord] global_per_sec.  A 401
 * stops all further calls: the token is wrong and retrying only earns a ban.
 *
 * Calls block the calling thread (a sender lane, never the lws loop) and are
 * safe from several threads at once; each thread brings its http_client.
 *
 * Shared limits: every discord_rest made for the same base URL and token in
 * one process shares its buckets, route hashes, global window and 401 stop
 * (a reference-counted registry), so the Discord surface and the upload
 * surface (bot/discord_upload.c) never spend the same slot twice and each
 * waits out a 429 the other was given.
 *
 * Invariants:
 *  1. A bucket's remaining count is taken (decremented) before the request
 *     is sent, under the lock, so two threads never spend the same slot.
 *  2. Waits end at a deadline; a call never waits longer than max_wait_ms in
 *     total and then fails with "rate limited".
 *
 * Ownership: *out bodies belong to the caller (cJSON_Delete).
 */
#ifndef OPSBOT_BOT_DISCORD_REST_H
#define OPSBOT_BOT_DISCORD_REST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct http_client;
struct discord_rest;

struct discord_rest_stats {
	long calls, r429_route, r429_global, waits_ms;
};

/* base: "https://discord.com/api/v10" (no trailing slash).  token is copied.
 * global_per_sec 0 keeps the shared limits' setting (50 when new). */
struct discord_rest *discord_rest_new(const char *base, const char *token, int global_per_sec,
                                      int64_t max_wait_ms);
void discord_rest_free(struct discord_rest *r);

/*
 * One call.  body may be NULL.  Returns 0 when an answer came (any status in
 * *status; *out holds the parsed JSON body or NULL), -1 on a transport error,
 * a stopped client (401 seen) or a wait beyond max_wait_ms (err says which).
 */
int discord_rest_call(struct discord_rest *r, struct http_client *hc, const char *method,
                      const char *path, const cJSON *body, long *status, cJSON **out, char *err,
                      size_t errlen);

/*
 * The same with any body: ctype (NULL: application/json) and len bytes of
 * body, e.g. multipart/form-data for a file.  Waits end early when *quit
 * (may be NULL) turns nonzero.  timeout_ms bounds one HTTP exchange.
 */
int discord_rest_send(struct discord_rest *r, struct http_client *hc, const char *method,
                      const char *path, const char *ctype, const char *body, size_t len,
                      long timeout_ms, long *status, cJSON **out, char *err, size_t errlen,
                      volatile int *quit);

/* The bucket route key of method+path ("POST /channels/123/messages/:id"). */
void discord_rest_route(const char *method, const char *path, char *out, size_t outlen);

void discord_rest_stats(struct discord_rest *r, struct discord_rest_stats *out);

#endif
