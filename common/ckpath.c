/* ckpath.c — see ckpath.h. */
#include "ckpath.h"

#include <string.h>

int rp_ckpt_is_key_path(const char *rel)
{
	size_t n = strlen(rel);
	if (n > 4 && !strcmp(rel + n - 4, ".key"))
		return 1;
	if (!strncmp(rel, "keys/", 5))
		return 1;
	return strstr(rel, "/keys/") != NULL;
}

int rp_ckpt_safe_path(const char *rel)
{
	size_t n = rel ? strlen(rel) : 0;
	if (!n || n > 4000 || rel[0] == '/' || rel[n - 1] == '/')
		return 0;
	for (const char *p = rel; *p;) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
		p = s ? s + 1 : p + l;
	}
	return strstr(rel, ".rp-part-") == NULL;
}
