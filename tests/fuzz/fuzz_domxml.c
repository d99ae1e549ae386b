/* fuzz_domxml.c: the libFuzzer entry point for pt_fuzz_domxml() (make fuzz). */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return pt_fuzz_domxml(data, size);
}
