/*
 * slack_sig.h: Slack request signatures (HTTP mode), version v0.
 *
 *   sig = "v0=" + hex(HMAC-SHA256(signing_secret, "v0:" + ts + ":" + body))
 *
 * compared in constant time with X-Slack-Signature; a timestamp more than
 * 300 s older than now is refused (replay window).  Bolt refuses only stale
 * timestamps; we refuse far-future ones too, with the same window.
 */
#ifndef OPSBOT_BOT_SLACK_SIG_H
#define OPSBOT_BOT_SLACK_SIG_H

#include <stddef.h>
#include <stdint.h>

#define SLACK_SIG_WINDOW_S 300

/* "v0=<64 hex>" into out (at least 68 bytes).  0, or -1. */
int slack_sig_compute(const char *secret, const char *ts, const char *body, size_t body_len,
                      char *out, size_t outlen);

/*
 * 0 when sig is valid for (ts, body) and ts is within the window of now_s;
 * -1 otherwise with a reason in err (never the secret or the signature).
 */
int slack_sig_verify(const char *secret, const char *ts, const char *sig, const char *body,
                     size_t body_len, int64_t now_s, char *err, size_t errlen);

#endif
