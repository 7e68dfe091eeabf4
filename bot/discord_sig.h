/*
 * discord_sig.h: Ed25519 verification of Discord HTTP interactions.
 *
 * Discord signs every interaction it POSTs to an Interactions Endpoint URL:
 * X-Signature-Ed25519 (hex, 64 bytes) over X-Signature-Timestamp followed by
 * the raw body, with the application's public key (hex, 32 bytes).  A
 * request that fails the check must get 401.  OpenSSL's EVP does the math.
 */
#ifndef OPSBOT_BOT_DISCORD_SIG_H
#define OPSBOT_BOT_DISCORD_SIG_H

#include <stddef.h>

/* Decode hex into out (exactly outlen bytes).  0, or -1 when malformed. */
int discord_sig_hex(const char *hex, unsigned char *out, size_t outlen);

/*
 * 1 when sig_hex is a valid signature of timestamp||body under pubkey_hex;
 * 0 when it is not (or any input is malformed).  Never fails open.
 */
int discord_sig_verify(const char *pubkey_hex, const char *sig_hex, const char *timestamp,
                       const char *body, size_t body_len);

#endif
