/* fuzz_manifest — the checkpoint manifest reader (ckmanifest.c): the
 * self-hash check over any text, and the reader restore and verify use,
 * both over the text as given and over the text sealed with its own hash
 * (so the fuzzer reaches the entries: format, job, seq, paths, codecs,
 * hashes and object names).  Sealing an object text and checking it
 * agree; an accepted manifest never has a negative size. */
#include "fuzz.h"
#include "ckmanifest.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_manifest");
	return 0;
}

static void parse(const char *text, size_t len)
{
	char why[256];
	size_t files = 0;
	long long bytes = -1;
	why[0] = 0;
	if (rp_ckpt_manifest_parse(text, len, "job1", 1, NULL, &files, &bytes, why, sizeof why) == 0) {
		FZ_CHECK(bytes >= 0);
		FZ_CHECK(rp_ckpt_manifest_check(text, len) == 0);
	} else {
		FZ_CHECK(why[0] && !strchr(why, '\n'));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)rp_ckpt_manifest_check((const char *)data, size);
	char *text = fz_str(data, size);
	parse(text, size);
	size_t n = strlen(text);
	if (n >= 2 && text[0] == '{' && text[n - 1] == '}') {
		char *sealed = rp_ckpt_manifest_seal(text);
		FZ_CHECK(rp_ckpt_manifest_check(sealed, strlen(sealed)) == 0);
		parse(sealed, strlen(sealed));
		free(sealed);
	}
	free(text);
	return 0;
}
