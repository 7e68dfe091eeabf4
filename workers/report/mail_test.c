/* mail_test.c: MIME composition, RFC 2047 subjects, addresses, header injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mail.h"

static void test_base64(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} c[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct buf b = {0};
		mail_base64(c[i].in, strlen(c[i].in), 0, &b);
		assert_string_equal(b.data ? b.data : "", c[i].out);
		buf_free(&b);
	}
	/* wrapped lines are at most 76 characters */
	char big[300];
	memset(big, 'x', sizeof(big));
	struct buf b = {0};
	mail_base64(big, sizeof(big), 1, &b);
	for (char *line = b.data, *nl; (nl = strstr(line, "\r\n")); line = nl + 2)
		assert_true(nl - line <= 76);
	buf_free(&b);
}

static void test_subject(void **state)
{
	(void)state;
	struct buf b = {0};
	mail_encode_header("plain ascii", 9, &b);
	assert_string_equal(b.data, "plain ascii");
	buf_free(&b);
	/* non-ASCII: encoded words of <= 75 chars, folded, split on character boundaries */
	const char *s =
	    "Kasse langsam — über 2s 🛒 日本語のユーザーも影響 and more words to "
	    "fold";
	mail_encode_header(s, 9, &b);
	assert_non_null(strstr(b.data, "=?UTF-8?B?"));
	for (char *line = b.data;;) {
		char *nl = strstr(line, "\r\n");
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		assert_true(n <= 76);
		for (size_t i = 0; i < n; i++)
			assert_true((unsigned char)line[i] < 0x80);
		if (!nl)
			break;
		line = nl + 2;
		assert_int_equal(line[0], ' '); /* folded */
	}
	buf_free(&b);
	/* "=?" in plain text is encoded too (it would read as an encoded word) */
	mail_encode_header("a =?x?= b", 9, &b);
	assert_non_null(strstr(b.data, "=?UTF-8?B?"));
	buf_free(&b);
	/* CR/LF cannot start a new header */
	mail_encode_header("hi\r\nBcc: evil@example.com", 9, &b);
	assert_null(strstr(b.data, "\r\nBcc"));
	buf_free(&b);
}

static void test_addr(void **state)
{
	(void)state;
	char a[64];
	assert_int_equal(mail_addr("opsbot <ops@example.com>", a, sizeof(a)), 0);
	assert_string_equal(a, "ops@example.com");
	assert_int_equal(mail_addr("ops@example.com", a, sizeof(a)), 0);
	assert_int_equal(mail_addr("nobody", a, sizeof(a)), -1);
	assert_int_equal(mail_addr("a b@c", a, sizeof(a)), -1);
	assert_int_equal(mail_addr("<a@b>\r\nX: y", a, sizeof(a)), 0); /* takes the <...> only */
	assert_string_equal(a, "a@b");
}

static void test_compose(void **state)
{
	(void)state;
	const char *to[] = {"a@example.com", "B <b@example.com>"};
	struct mail_part p = {"incident-1.pdf", "application/pdf", "%PDF-1.5 test", 13};
	struct mail_msg m = {.from = "opsbot <ops@example.com>",
	                     .to = to,
	                     .nto = 2,
	                     .subject = "[opsbot] #1 resolved: ünïcode",
	                     .text = "plain",
	                     .html = "<p>html</p>",
	                     .attach = &p,
	                     .date_ms = 1764754200000LL,
	                     .message_id = "x.1@example.com\r\nBcc: evil@example.com"};
	struct buf b = {0};
	char err[200];
	assert_int_equal(mail_compose(&m, &b, err, sizeof(err)), 0);
	assert_non_null(strstr(b.data, "Date: Wed, 03 Dec 2025 09:30:00 +0000\r\n"));
	assert_non_null(strstr(b.data, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: multipart/mixed; boundary="));
	assert_non_null(strstr(b.data, "Content-Type: multipart/alternative; boundary="));
	assert_non_null(strstr(b.data, "Content-Type: text/plain; charset=utf-8"));
	assert_non_null(strstr(b.data, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(b.data, "filename=\"incident-1.pdf\""));
	assert_null(strstr(b.data, "\r\nBcc:"));
	/* every line ends in CRLF */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			assert_true(i > 0 && b.data[i - 1] == '\r');
	buf_free(&b);
	/* a bad recipient is refused before anything is built */
	const char *bad[] = {"not an address"};
	m.to = bad;
	m.nto = 1;
	assert_int_equal(mail_compose(&m, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an e-mail address"));
	buf_free(&b);
}

static void test_send_refused(void **state)
{
	(void)state;
	/* nothing listens on port 1: a temporary failure, never "sent" */
	struct mail_relay r = {.server = "127.0.0.1:1", .timeout_ms = 2000};
	const char *to[] = {"a@example.com"};
	char err[300];
	int rc = mail_send(&r, "ops@example.com", to, 1, "Subject: x\r\n\r\nx\r\n", 17, err,
	                   sizeof(err));
	assert_int_equal(rc, MAIL_TEMPORARY);
	assert_non_null(strstr(err, "127.0.0.1:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),       cmocka_unit_test(test_subject),
	    cmocka_unit_test(test_addr),         cmocka_unit_test(test_compose),
	    cmocka_unit_test(test_send_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
