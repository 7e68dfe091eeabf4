/*
 * mail.c: MIME composition and libesmtp delivery (mail.h).
 */
#include "mail.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <auth-client.h>
#include <libesmtp.h>

#include "log.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void mail_base64(const void *data, size_t len, int wrap, struct buf *out)
{
	const unsigned char *p = data;
	size_t col = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
		             i + 1 < len ? b64[(v >> 6) & 63] : '=',
		             i + 2 < len ? b64[v & 63] : '='};
		buf_append(out, q, 4);
		col += 4;
		if (wrap && col >= 76) {
			buf_append(out, "\r\n", 2);
			col = 0;
		}
	}
	if (wrap && col)
		buf_append(out, "\r\n", 2);
}

/* Header-safe copy: CR/LF/other controls become spaces. */
static char *header_clean(const char *s)
{
	char *c = xstrdup(s ? s : "");
	for (char *p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

void mail_encode_header(const char *s, size_t used, struct buf *out)
{
	char *c = header_clean(s);
	int ascii = 1;
	for (const char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80 || (p[0] == '=' && p[1] == '?'))
			ascii = 0;
	if (ascii && strlen(c) + used <= 998) {
		buf_append(out, c, strlen(c));
		free(c);
		return;
	}
	/* encoded words of at most 45 input bytes (60 base64 chars + 12 = 72), split on
	 * character boundaries, one per folded line */
	size_t n = strlen(c), i = 0;
	int first = 1;
	while (i < n) {
		size_t take = n - i < 45 ? n - i : 45;
		while (i + take < n && take > 0 && ((unsigned char)c[i + take] & 0xC0) == 0x80)
			take--;
		if (!first)
			buf_append(out, "\r\n ", 3);
		buf_append(out, "=?UTF-8?B?", 10);
		mail_base64(c + i, take, 0, out);
		buf_append(out, "?=", 2);
		i += take;
		first = 0;
	}
	free(c);
}

int mail_addr(const char *s, char *out, size_t len)
{
	const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	const char *a = lt && gt ? lt + 1 : s;
	size_t n = lt && gt ? (size_t)(gt - lt - 1) : strlen(s);
	while (n && (*a == ' '))
		a++, n--;
	while (n && a[n - 1] == ' ')
		n--;
	if (!n || n >= len || !memchr(a, '@', n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= 0x20 || a[i] == '<' || a[i] == '>' || a[i] == ',' ||
		    a[i] == 0x7f)
			return -1;
	memcpy(out, a, n);
	out[n] = '\0';
	return 0;
}

static void boundary(char *out, size_t len, const char *kind)
{
	unsigned char r[12];
	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	char hex[25];
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	snprintf(out, len, "=_opsbot_%s_%s", kind, hex);
}

static void add_text_part(struct buf *o, const char *ctype, const char *text)
{
	buf_appendf(o,
	            "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
	            ctype);
	mail_base64(text, strlen(text), 1, o);
}

int mail_compose(const struct mail_msg *m, struct buf *o, char *err, size_t errlen)
{
	if (!m->nto) {
		snprintf(err, errlen, "the message has no recipient");
		return -1;
	}
	char addr[320];
	for (size_t i = 0; i < m->nto; i++)
		if (mail_addr(m->to[i], addr, sizeof(addr)) < 0) {
			snprintf(err, errlen, "recipient \"%.100s\" is not an e-mail address",
			         m->to[i]);
			return -1;
		}
	if (mail_addr(m->from, addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "sender \"%.100s\" is not an e-mail address", m->from);
		return -1;
	}
	char date[64];
	time_t t = (time_t)(m->date_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday],
	         tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	char bm[64], ba[64];
	boundary(bm, sizeof(bm), "mixed");
	boundary(ba, sizeof(ba), "alt");
	char *from = header_clean(m->from);
	buf_appendf(o, "Date: %s\r\nFrom: %s\r\nTo: ", date, from);
	free(from);
	for (size_t i = 0; i < m->nto; i++) {
		char *a = header_clean(m->to[i]);
		buf_appendf(o, "%s%s", i ? ",\r\n " : "", a);
		free(a);
	}
	buf_append(o, "\r\nSubject: ", 11);
	mail_encode_header(m->subject, 9, o);
	char *mid = header_clean(m->message_id);
	buf_appendf(
	    o, "\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n",
	    mid);
	free(mid);
	if (m->extra)
		buf_append(o, m->extra, strlen(m->extra));
	buf_appendf(o, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", bm);
	buf_appendf(o, "This is a MIME message.\r\n\r\n--%s\r\n", bm);
	buf_appendf(o, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n", ba,
	            ba);
	add_text_part(o, "text/plain", m->text ? m->text : "");
	buf_appendf(o, "\r\n--%s\r\n", ba);
	add_text_part(o, "text/html", m->html ? m->html : "");
	buf_appendf(o, "\r\n--%s--\r\n", ba);
	if (m->attach) {
		char *name = header_clean(m->attach->name);
		for (char *p = name; *p; p++)
			if (*p == '"' || *p == '\\')
				*p = '_';
		buf_appendf(
		    o,
		    "\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: "
		    "attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		    bm, m->attach->ctype, name, name);
		free(name);
		mail_base64(m->attach->data, m->attach->len, 1, o);
	}
	buf_appendf(o, "\r\n--%s--\r\n", bm);
	return 0;
}

/* ---- delivery ---- */

struct send_ctx {
	const struct mail_relay *r;
	const char *raw;
	size_t len;
	int given;
	int tls_bad;
	char tls_why[160];
};

static const char *msg_cb(void **ctx, int *len, void *arg)
{
	struct send_ctx *s = arg;
	(void)ctx;
	if (!len) { /* rewind */
		s->given = 0;
		return NULL;
	}
	if (s->given) {
		*len = 0;
		return NULL;
	}
	s->given = 1;
	*len = (int)s->len;
	return s->raw;
}

/* Records why OpenSSL refused the relay's certificate (the handshake then fails). */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	if (ok)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct send_ctx *s = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	if (s && !s->tls_bad) {
		s->tls_bad = 1;
		snprintf(s->tls_why, sizeof(s->tls_why),
		         "the relay's certificate is not trusted: %s",
		         X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
	}
	return ok;
}

static int auth_interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct send_ctx *s = arg;
	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = (char *)s->r->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = (char *)(s->r->password ? s->r->password : "");
		else
			result[i] = (char *)"";
	}
	return 1;
}

static void event_cb(smtp_session_t session, int ev, void *arg, ...)
{
	(void)session;
	struct send_ctx *s = arg;
	va_list ap;
	va_start(ap, arg);
	switch (ev) {
	case SMTP_EV_WRONG_PEER_CERTIFICATE: {
		/* libesmtp's own name check knows no IP addresses; OpenSSL already checked the
		 * name or address (X509_VERIFY_PARAM below) as part of the verify result that
		 * SMTP_EV_INVALID_PEER_CERTIFICATE reports, so a certificate that got here matched
		 */
		int *ok = va_arg(ap, int *);
		*ok = 1;
		break;
	}
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
	case SMTP_EV_NO_PEER_CERTIFICATE: {
		long vfy = ev == SMTP_EV_INVALID_PEER_CERTIFICATE ? va_arg(ap, long) : 0;
		const char *what = vfy ? X509_verify_cert_error_string(vfy) : "";
		int *ok = va_arg(ap, int *);
		/* refuse: a relay we cannot verify never gets the password or the mail */
		*ok = 0;
		s->tls_bad = 1;
		snprintf(s->tls_why, sizeof(s->tls_why), "%s%s%s",
		         ev == SMTP_EV_INVALID_PEER_CERTIFICATE ? "the relay's certificate is not "
		                                                  "trusted"
		                                                : "the relay sent no certificate",
		         *what ? ": " : "", what);
		break;
	}
	case SMTP_EV_EXTNA_STARTTLS:
		s->tls_bad = 1;
		snprintf(s->tls_why, sizeof(s->tls_why),
		         "the relay does not offer STARTTLS and [email] starttls = required");
		break;
	default:
		break;
	}
	va_end(ap);
}

int mail_send(const struct mail_relay *r, const char *envelope_from, const char *const *to,
              size_t nto, const char *raw, size_t len, char *err, size_t errlen)
{
	static int auth_inited;
	if (!auth_inited) {
		auth_client_init();
		auth_inited = 1;
	}
	struct send_ctx s = {.r = r, .raw = raw, .len = len};
	smtp_session_t ss = smtp_create_session();
	auth_context_t ac = NULL;
	SSL_CTX *ssl = NULL;
	int rc = MAIL_TEMPORARY;
	if (!ss) {
		snprintf(err, errlen, "libesmtp: cannot create a session");
		return MAIL_TEMPORARY;
	}
	smtp_set_server(ss, r->server);
	if (r->helo[0])
		smtp_set_hostname(ss, r->helo);
	long tmo = r->timeout_ms > 0 ? r->timeout_ms : 30000;
	for (int w = Timeout_GREETING; w <= Timeout_DATA2; w++)
		smtp_set_timeout(ss, w | Timeout_OVERRIDE_RFC2822_MINIMUM, tmo);
	smtp_set_eventcb(ss, event_cb, &s);
	if (r->tls != MAIL_TLS_OFF) {
		ssl = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
		if (r->ca_file[0]) {
			if (SSL_CTX_load_verify_locations(ssl, r->ca_file, NULL) != 1) {
				snprintf(err, errlen, "cannot read [email] ca_file %s", r->ca_file);
				rc = MAIL_PERMANENT;
				goto out;
			}
		} else {
			SSL_CTX_set_default_verify_paths(ssl);
		}
		SSL_CTX_set_app_data(ssl, &s);
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, verify_cb);
		/* the certificate must name the host (or IP address) of [email] smtp */
		char host[256];
		str_copy(host, sizeof(host), r->server[0] == '[' ? r->server + 1 : r->server);
		char *end = r->server[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
		if (end && (r->server[0] == '[' || !strchr(host, ']')))
			*end = '\0';
		unsigned char ipbuf[16];
		X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(ssl);
		if (inet_pton(AF_INET, host, ipbuf) == 1 || inet_pton(AF_INET6, host, ipbuf) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
		smtp_starttls_set_ctx(ss, ssl);
		smtp_starttls_enable(ss, r->tls == MAIL_TLS_REQUIRED ? Starttls_REQUIRED
		                                                     : Starttls_ENABLED);
	}
	if (r->user[0]) {
		ac = auth_create_context();
		auth_set_mechanism_flags(ac, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(ac, auth_interact, &s);
		smtp_auth_set_context(ss, ac);
	}
	smtp_message_t msg = smtp_add_message(ss);
	smtp_set_reverse_path(msg, envelope_from);
	smtp_set_messagecb(msg, msg_cb, &s);
	smtp_recipient_t *rcpt = xcalloc(nto, sizeof(*rcpt));
	for (size_t i = 0; i < nto; i++)
		rcpt[i] = smtp_add_recipient(msg, to[i]);
	if (!smtp_start_session(ss)) {
		char eb[200];
		int e = smtp_errno();
		snprintf(err, errlen, "cannot deliver through %s: %s%s%s", r->server,
		         smtp_strerror(e, eb, sizeof(eb)), s.tls_bad ? "; " : "", s.tls_why);
		rc = MAIL_TEMPORARY; /* a relay that is down or misconfigured may be fixed */
		free(rcpt);
		goto out;
	}
	const smtp_status_t *st = smtp_message_transfer_status(msg);
	if (st->code / 100 == 2) {
		int bad = 0;
		for (size_t i = 0; i < nto; i++) {
			const smtp_status_t *rs = smtp_recipient_status(rcpt[i]);
			if (rs->code / 100 != 2) {
				bad = 1;
				snprintf(err, errlen, "%s refused %s: %d %s", r->server, to[i],
				         rs->code, rs->text ? rs->text : "");
			}
		}
		rc = bad ? MAIL_PERMANENT : MAIL_SENT;
		if (!bad)
			snprintf(err, errlen, "%d %s", st->code, st->text ? st->text : "");
		for (char *p = err; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
	} else {
		const smtp_status_t *fs = smtp_reverse_path_status(msg);
		int code = st->code ? st->code : fs->code;
		const char *text = st->code ? st->text : fs->text;
		if (s.tls_bad)
			snprintf(err, errlen, "not sent: %s", s.tls_why);
		else if (code == 0)
			snprintf(err, errlen, "%s closed the session before accepting the message",
			         r->server);
		else
			snprintf(err, errlen, "%s answered %d %s", r->server, code,
			         text ? text : "");
		/* 5xx is final; 4xx, no answer or a TLS refusal may pass */
		rc =
		    code / 100 == 5 && code != 530 && code != 535 ? MAIL_PERMANENT : MAIL_TEMPORARY;
		for (char *p = err; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
	}
	free(rcpt);
out:
	smtp_destroy_session(ss);
	if (ac)
		auth_destroy_context(ac);
	if (ssl)
		SSL_CTX_free(ssl);
	return rc;
}
