/*
 * glob.h - Redis's glob-style patterns (KEYS, SCAN MATCH, CONFIG GET):
 * `*` any run, `?` any byte, `[abc]` `[^a-z]` a set or range, `\x` x
 * itself. Binary-safe: pattern and string are byte runs, NULs included.
 */
#ifndef STRATA_GLOB_H
#define STRATA_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* glob_match - does s[0..slen) match pattern p[0..plen)? `nocase` folds
 * ASCII case. Backtracking is bounded: a pattern of many stars against a
 * long string costs at most plen x slen steps. */
bool glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase);

#endif
