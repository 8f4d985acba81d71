#include "core/glob.h"

#include <ctype.h>

static int fold(int c, bool nocase)
{
	return nocase ? tolower(c) : c;
}

/* Does byte c match the set starting after '[' at *pp (advanced past ']')? */
static bool in_set(const char **pp, const char *end, int c, bool nocase)
{
	const char *p = *pp;
	bool negate = p < end && *p == '^', hit = false;
	if (negate)
		p++;
	for (; p < end && *p != ']'; p++) {
		if (*p == '\\' && p + 1 < end) {
			p++;
			hit |= fold((unsigned char)*p, nocase) == fold(c, nocase);
		} else if (p + 2 < end && p[1] == '-' && p[2] != ']') {
			int lo = fold((unsigned char)p[0], nocase), hi = fold((unsigned char)p[2], nocase);
			if (lo > hi) {
				int t = lo;
				lo = hi;
				hi = t;
			}
			hit |= fold(c, nocase) >= lo && fold(c, nocase) <= hi;
			p += 2;
		} else {
			hit |= fold((unsigned char)*p, nocase) == fold(c, nocase);
		}
	}
	*pp = p < end ? p + 1 : p;  /* an unclosed set ends the pattern */
	return negate ? !hit : hit;
}

bool glob_match(const char *p, size_t plen, const char *s, size_t slen, bool nocase)
{
	const char *pe = p + plen, *se = s + slen;
	/* The last star's place in the pattern and the string: on a mismatch,
	 * the star takes one more byte (one level of backtracking suffices). */
	const char *star_p = NULL, *star_s = NULL;
	while (s < se) {
		if (p < pe && *p == '*') {
			while (p < pe && *p == '*')
				p++;
			if (p == pe)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		if (p < pe) {
			const char *q = p;
			bool ok;
			if (*q == '?') {
				ok = true;
				q++;
			} else if (*q == '[') {
				q++;
				ok = in_set(&q, pe, (unsigned char)*s, nocase);
			} else {
				if (*q == '\\' && q + 1 < pe)
					q++;
				ok = fold((unsigned char)*q, nocase) == fold((unsigned char)*s, nocase);
				q++;
			}
			if (ok) {
				p = q;
				s++;
				continue;
			}
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}
