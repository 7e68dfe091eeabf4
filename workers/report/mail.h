/*
 * mail.h: RFC 5322 / MIME messages and their delivery with libesmtp.
 *
 * mail_compose builds the whole message once (the outbox stores it as is,
 * so a retry sends the same bytes with the same Message-ID and Date):
 *
 *   multipart/mixed
 *     multipart/alternative
 *       text/plain; charset=utf-8   (base64)
 *       text/html; charset=utf-8    (base64)
 *     <attachment>                  (base64; optional)
 *
 * Headers are Date (RFC 5322, UTC), From, To, Subject (RFC 2047 encoded
 * words when not plain ASCII, folded at 75 characters), Message-ID,
 * MIME-Version, Auto-Submitted: auto-generated.  Lines end in CRLF.
 * Header values are untrusted text: CR and LF in them become spaces, so
 * nothing can add a header.
 *
 * mail_send delivers one message to one relay: STARTTLS (off, when offered,
 * or required), AUTH (PLAIN/LOGIN/CRAM-MD5 through libesmtp's plugins) when
 * a user is set, the password from the environment.
 */
#ifndef OPSBOT_REPORT_MAIL_H
#define OPSBOT_REPORT_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

struct mail_part {
	const char *name;  /* file name */
	const char *ctype; /* e.g. application/pdf */
	const void *data;
	size_t len;
};

struct mail_msg {
	const char *from;      /* "opsbot <opsbot@example.com>" */
	const char *const *to; /* addresses */
	size_t nto;
	const char *subject; /* UTF-8 */
	const char *text, *html;
	const struct mail_part *attach; /* NULL for none */
	int64_t date_ms;
	const char *message_id; /* without angle brackets */
	const char *extra;      /* extra header lines ("X-A: b\r\n"), or NULL */
};

int mail_compose(const struct mail_msg *m, struct buf *out, char *err, size_t errlen);

/* RFC 2047 encoding of a header value (appended), folded after "Subject: ". */
void mail_encode_header(const char *s, size_t first_line_used, struct buf *out);
void mail_base64(const void *data, size_t len, int wrap, struct buf *out);
/* The address inside "Name <addr>" (or the whole string), into out. */
int mail_addr(const char *s, char *out, size_t len);

enum mail_tls { MAIL_TLS_OFF, MAIL_TLS_ON, MAIL_TLS_REQUIRED };

struct mail_relay {
	char server[256]; /* host:port */
	enum mail_tls tls;
	char ca_file[512]; /* trust these CAs (PEM) instead of the system's; "" = system */
	char user[128];    /* AUTH when set */
	const char *password;
	char helo[128];
	int timeout_ms;
};

enum { MAIL_SENT = 0, MAIL_TEMPORARY = -1, MAIL_PERMANENT = -2 };

/*
 * Send raw (a composed message) from envelope_from to every address in to.
 * MAIL_SENT when the relay accepted it for every recipient (250 after DATA);
 * MAIL_TEMPORARY when it may work later (connection refused, timeout, 4xx);
 * MAIL_PERMANENT when the relay refused it for good (5xx).  err says why.
 */
int mail_send(const struct mail_relay *r, const char *envelope_from, const char *const *to,
              size_t nto, const char *raw, size_t len, char *err, size_t errlen);

#endif
