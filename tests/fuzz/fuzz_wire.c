/* fuzz_wire.c: libFuzzer target for the queue protocol decoder (lib/wire.c). */
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg m;
	char err[256];
	if (wire_decode(data, size, &m, err, sizeof err) == 0) {
		cJSON *r = wire_reply_ok(&m);
		cJSON_Delete(r);
		wire_msg_free(&m);
	}
	return 0;
}
