/*
 * fuzz_csv.c: libFuzzer target for the CSV reader (workers/detect/csv.c),
 * which reads from a path: the input goes to a memfd read through
 * /proc/self/fd.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workers/detect/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-csv", 0);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64], err[300];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct csv_series s;
	if (csv_read_series(path, &s, err, sizeof err) == 0)
		csv_series_free(&s);
	struct csv_table t;
	if (csv_read_table(path, &t, err, sizeof err) == 0)
		csv_table_free(&t);
	close(fd);
	return 0;
}
