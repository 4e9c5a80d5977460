/* libFuzzer target for the protocol decoder: any bytes on either socket
 * must decode or be refused with a code, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int side = PROTO_SIDE_VISITOR; side <= PROTO_SIDE_STAFF; side++) {
		struct proto_in in = { 0 };
		if (proto_decode((const char *)data, size, (enum proto_side)side, &in) == 0) {
			/* A decoded message must serialize back without trouble. */
			struct frame *f = proto_frame(in.root, in.id);
			frame_unref(f);
		}
		proto_in_fini(&in);
	}
	return 0;
}
