/* json.h: the few JSON writing helpers --json output needs. */
#ifndef PT_JSON_H
#define PT_JSON_H

#include <stdio.h>

#include "model/observed.h"

/* Writes s as a JSON string literal with quotes; NULL is written as null. */
void pt_json_string(FILE *f, const char *s);
/* Writes true, false, or null for unknown. */
void pt_json_tri(FILE *f, enum pt_tri t);

#endif
