/* SPDX-License-Identifier: ISC */
/* Libraries loaded when first needed (dynlib.h). */
#include "config.h"

#include "dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int dynlib_load(const char *soname, const struct dynlib_sym *syms, size_t n, void *table, size_t table_size,
		char *why, size_t why_size)
{
	dlerror();
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, why_size, "%s", e ? e : "cannot load it");
		memset(table, 0, table_size);
		return -ENOPKG;
	}
	for (size_t i = 0; i < n; i++) {
		void *sym = dlsym(h, syms[i].name);
		if (!sym) {
			snprintf(why, why_size, "it has no %s (too old?)", syms[i].name);
			dlclose(h);
			memset(table, 0, table_size);
			return -ENOPKG;
		}
		/* POSIX: a function's address may be converted from dlsym's void *. */
		memcpy((char *)table + syms[i].offset, &sym, sizeof sym);
	}
	return 0;
}
