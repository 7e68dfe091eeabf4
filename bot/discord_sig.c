/* discord_sig.c: Ed25519 check of Discord's X-Signature-* headers (OpenSSL EVP). */
#include "discord_sig.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mem.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int discord_sig_hex(const char *hex, unsigned char *out, size_t outlen)
{
	if (!hex || strlen(hex) != outlen * 2)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int discord_sig_verify(const char *pubkey_hex, const char *sig_hex, const char *timestamp,
                       const char *body, size_t body_len)
{
	unsigned char key[32], sig[64];
	if (!timestamp || !body || discord_sig_hex(pubkey_hex, key, sizeof key) < 0 ||
	    discord_sig_hex(sig_hex, sig, sizeof sig) < 0)
		return 0;
	size_t tl = strlen(timestamp);
	unsigned char *msg = xmalloc(tl + body_len + 1);
	memcpy(msg, timestamp, tl);
	memcpy(msg + tl, body, body_len);
	int ok = 0;
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, sizeof key);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (pk && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
	    EVP_DigestVerify(ctx, sig, sizeof sig, msg, tl + body_len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	free(msg);
	return ok;
}
