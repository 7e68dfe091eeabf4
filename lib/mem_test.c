/* mem_test.c: the bounded buffer and reading a file into it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "mem.h"

static void test_buf_max(void **state)
{
	(void)state;
	struct buf b = {.max = 8};
	assert_int_equal(buf_append(&b, "abcd", 4), 0);
	assert_int_equal(buf_appendf(&b, "%d", 123), 0);
	assert_string_equal(b.data, "abcd123");
	/* Past the maximum: refused, and the buffer is as it was. */
	assert_int_equal(buf_append(&b, "xy", 2), -1);
	assert_string_equal(b.data, "abcd123");
	assert_int_equal(b.len, 7);
	buf_reset(&b);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void test_read_file(void **state)
{
	(void)state;
	char path[] = "/tmp/opsbot-mem-test.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello file\n", 11), 11);
	close(fd);
	char err[256] = "";
	struct buf b = {0};
	assert_int_equal(buf_read_file(&b, path, err, sizeof(err)), 0);
	assert_string_equal(b.data, "hello file\n");
	buf_free(&b);

	struct buf small = {.max = 4};
	assert_int_equal(buf_read_file(&small, path, err, sizeof(err)), -1);
	char want[300];
	snprintf(want, sizeof(want), "%s: larger than 4 bytes", path);
	if (strcmp(err, want) != 0)
		fail_msg("got %s want %s", err, want);
	buf_free(&small);

	/* An empty file still gives a NUL-terminated (empty) string. */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	struct buf empty = {0};
	assert_int_equal(buf_read_file(&empty, path, err, sizeof(err)), 0);
	assert_non_null(empty.data);
	assert_string_equal(empty.data, "");
	buf_free(&empty);
	unlink(path);

	struct buf none = {0};
	assert_int_equal(buf_read_file(&none, "/nonexistent/x.conf", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/x.conf: cannot open: No such file or directory");
	buf_free(&none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_max),
	    cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
