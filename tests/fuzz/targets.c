/* targets.c: the fuzz targets: whatever the input, no crash, no leak, no sanitizer report. */
#include "tests/fuzz/targets.h"

#include <stdlib.h>

#include "model/config.h"
#include "model/diag.h"
#include "model/observed.h"
#include "reconcile/domxml.h"

int
pt_fuzz_config(const uint8_t *data, size_t size)
{
	struct pt_diags diags = PT_DIAGS_INIT;
	struct pt_config cfg;

	if (pt_config_parse("fuzz.yaml", (const char *)data, size, &cfg, &diags) == 0)
		pt_config_done(&cfg);
	for (size_t i = 0; i < diags.n; i++)
		free(pt_diag_format(&diags.v[i]));
	pt_diags_done(&diags);
	return 0;
}

int
pt_fuzz_domxml(const uint8_t *data, size_t size)
{
	struct pt_hostdev *devs = NULL;
	struct pt_diags warnings = PT_DIAGS_INIT;
	struct pt_domain dom;
	char *title = NULL, *err = NULL;
	size_t n = 0;

	if (pt_domxml_read_domain((const char *)data, size, &dom, &warnings, &err) == 0)
		pt_domain_done(&dom);
	free(err);
	err = NULL;
	if (pt_domxml_parse((const char *)data, size, &title, &devs, &n, &warnings, &err) == 0) {
		free(title);
		free(devs);
	}
	free(err);
	pt_diags_done(&warnings);
	return 0;
}
