/*
 * slack_sig.c: v0 request signatures for Slack HTTP mode (see slack_sig.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mem.h"
#include "slack_sig.h"

int slack_sig_compute(const char *secret, const char *ts, const char *body, size_t body_len,
                      char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf base = {.max = body_len + 64};
	int rc = -1;

	if (outlen < 68)
		return -1;
	if (buf_appendf(&base, "v0:%s:", ts) < 0 || buf_append(&base, body, body_len) < 0)
		goto out;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)base.data,
	          base.len, mac, &maclen) ||
	    maclen != 32)
		goto out;
	memcpy(out, "v0=", 3);
	for (unsigned i = 0; i < maclen; i++) {
		out[3 + 2 * i] = hex[mac[i] >> 4];
		out[3 + 2 * i + 1] = hex[mac[i] & 15];
	}
	out[3 + 2 * maclen] = '\0';
	rc = 0;
out:
	buf_free(&base);
	return rc;
}

int slack_sig_verify(const char *secret, const char *ts, const char *sig, const char *body,
                     size_t body_len, int64_t now_s, char *err, size_t errlen)
{
	char want[80];
	char *end;
	long long t;

	if (!secret || !*secret) {
		snprintf(err, errlen, "no signing secret configured");
		return -1;
	}
	if (!ts || !*ts || !sig || !*sig) {
		snprintf(err, errlen, "missing X-Slack-Request-Timestamp or X-Slack-Signature");
		return -1;
	}
	errno = 0;
	t = strtoll(ts, &end, 10);
	if (errno || *end || t <= 0) {
		snprintf(err, errlen, "timestamp is not a number");
		return -1;
	}
	if (now_s - t > SLACK_SIG_WINDOW_S || t - now_s > SLACK_SIG_WINDOW_S) {
		snprintf(err, errlen, "timestamp outside the %d s window", SLACK_SIG_WINDOW_S);
		return -1;
	}
	if (slack_sig_compute(secret, ts, body, body_len, want, sizeof want) < 0) {
		snprintf(err, errlen, "cannot compute signature");
		return -1;
	}
	if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0) {
		snprintf(err, errlen, "signature mismatch");
		return -1;
	}
	return 0;
}
