/*
 * discord_upload.h: one Discord message with a file attached, sent as
 * multipart/form-data (payload_json + files[0]) to POST
 * /channels/{id}/messages, the way Discord documents file uploads.
 *
 * The call goes through discord_rest_send (bot/discord_rest.h), on the rate
 * limits that process shares for this base URL and token: the Discord
 * surface's buckets.  A 429 on the upload makes the surface's next post into
 * that channel wait, and the other way round; a bucket at Remaining 0, a
 * global 429 and a 401 (which stops every call) are shared the same way.
 * Waits end at a deadline (max_wait_ms in total per call) and when *quit
 * turns nonzero.
 *
 * One discord_upload is used by one thread (the upload surface's).
 */
#ifndef OPSBOT_BOT_DISCORD_UPLOAD_H
#define OPSBOT_BOT_DISCORD_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "mem.h"

struct http_client;
struct discord_upload;

/* base: "https://discord.com/api/v10" (no trailing slash).  token is copied. */
struct discord_upload *discord_upload_new(const char *base, const char *token, int64_t max_wait_ms);
void discord_upload_free(struct discord_upload *u);
/* The REST client (shared limits) it posts through; for stats and tests. */
struct discord_rest *discord_upload_rest(struct discord_upload *u);

/*
 * The multipart body: a payload_json part (payload printed) and one
 * files[0] part with filename and content type; boundary must not occur in
 * data (discord_upload_boundary picks one that does not).  0, or -1 when
 * filename or content type hold a quote or a line break.
 */
int discord_multipart(struct buf *out, const char *boundary, const cJSON *payload,
                      const char *filename, const char *ctype, const char *data, size_t len);
/* A boundary (into out, >= 48 bytes) that does not occur in data. */
void discord_upload_boundary(const char *data, size_t len, char *out, size_t outlen);

enum {
	DUP_OK = 0,
	DUP_RETRY = -1,   /* transport error, 5xx, rate limited past the deadline */
	DUP_REFUSED = -2, /* Discord said no (4xx; after a 401 every call): err says why */
};

/*
 * Post content with one file into channel (a thread id works).  nonce (<= 25
 * characters, may be NULL) is sent with enforce_nonce, so a retry after a
 * lost answer gets the first message back.  On DUP_OK the message id and the
 * attachment's size as Discord stored it are copied out.
 */
int discord_upload_post(struct discord_upload *u, struct http_client *h, const char *channel,
                        const char *content, const char *filename, const char *ctype,
                        const char *data, size_t len, const char *nonce, char *msg_id, size_t idlen,
                        int64_t *stored_size, char *err, size_t errlen, volatile int *quit);

#endif
