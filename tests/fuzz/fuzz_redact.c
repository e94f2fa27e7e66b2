/* fuzz_redact — the log redactor (rp_redact): whatever the text, the
 * answer contains none of the registered secrets and comes back.  The
 * secrets are fixed, among them pieces of the "<redacted>" marker itself
 * and secrets that overlap each other. */
#include "fuzz.h"
#include "log.h"

static const char *const secrets[] = { "rpa_S3CRET0123456789", "acted", "<red", "S3CRET", "aaaa",
				       "abcabc", NULL };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_redact");
	for (int i = 0; secrets[i]; i++)
		rp_log_secret(secrets[i]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_str(data, size > 4096 ? 4096 : size);
	char *r = rp_redact(s);
	FZ_CHECK(r);
	/* Only text the input brought: a secret may straddle a marker the
	 * redactor wrote ("<red" + "acted" are both in "<redacted>"), so
	 * look at what lies between markers. */
	for (char *p = r, *q; *p; p = q) {
		q = strstr(p, "<redacted>");
		size_t n = q ? (size_t)(q - p) : strlen(p);
		char *piece = fz_str((const uint8_t *)p, n);
		for (int i = 0; secrets[i]; i++)
			FZ_CHECK(!strstr(piece, secrets[i]));
		free(piece);
		q = q ? q + strlen("<redacted>") : p + n;
	}
	free(r);
	free(s);
	return 0;
}
