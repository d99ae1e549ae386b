/* targets.h: the fuzz targets (the YAML model, the domain XML reader), shared by the libFuzzer binaries and the corpus replay in the unit tests. */
#ifndef PT_FUZZ_TARGETS_H
#define PT_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Parse and validate data as passthrough.yaml; format every diagnostic. Always returns 0. */
int pt_fuzz_config(const uint8_t *data, size_t size);
/* Read data as a domain XML, both as the hook does and as the observer does. Always returns 0. */
int pt_fuzz_domxml(const uint8_t *data, size_t size);

#endif
