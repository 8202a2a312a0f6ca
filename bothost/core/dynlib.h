/* SPDX-License-Identifier: ISC */
/* Libraries loaded when first needed (dlopen) instead of linked, so that a
 * bot that does not use them does not map them: a table of function
 * pointers, typed from the library's own header, filled once by symbol. */
#ifndef BOTHOST_CORE_DYNLIB_H
#define BOTHOST_CORE_DYNLIB_H

#include <stddef.h>

/* A symbol and the offset of its field in the table. */
struct dynlib_sym {
	size_t offset;
	const char *name;
};
/* The entry for field of the table type type, filled by the symbol name. */
#define DYNLIB_SYM(type, field, name) { offsetof(type, field), #name }

/* Load soname (now, locally; it stays loaded) and fill the table of
 * table_size bytes with its n symbols. 0, or -ENOPKG with why (at most
 * why_size bytes) saying what the loader said or which symbol is missing,
 * the table then zeroed and the library not kept. */
int dynlib_load(const char *soname, const struct dynlib_sym *syms, size_t n, void *table, size_t table_size,
		char *why, size_t why_size);

#endif
