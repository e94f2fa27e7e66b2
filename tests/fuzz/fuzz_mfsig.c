/* fuzz_mfsig — the signed-manifest reader (ckmanifest.c,
 * rp_ckmf_parse_signed): any text under a signing key, and the text
 * sealed and signed with the job's own key (HKDF, ckseal.c) so the fuzzer
 * reaches the entries.  Properties: an accepted text under a key always
 * carries a signature that checks; what the signed reader accepts the
 * unsigned reader accepts too; signing a sealed object and reading it
 * back agree; a signature under another job's key never opens. */
#include "fuzz.h"
#include "ckmanifest.h"
#include "ckseal.h"

static unsigned char master[32];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_mfsig");
	for (int i = 0; i < 32; i++)
		master[i] = (unsigned char)(0x5a ^ i);
	return 0;
}

static int parse(const char *text, size_t len, const unsigned char *key)
{
	char why[256];
	size_t files = 0;
	long long bytes = -1;
	why[0] = 0;
	if (rp_ckpt_manifest_parse(text, len, "job1", 1, key, &files, &bytes, why, sizeof why) == 0) {
		FZ_CHECK(bytes >= 0);
		FZ_CHECK(memmem(text, len, "\"manifest_hmac\":\"", 17) != NULL);
		FZ_CHECK(rp_ckpt_manifest_parse(text, len, "job1", 1, NULL, &files, &bytes, why, sizeof why) == 0);
		return 0;
	}
	FZ_CHECK(why[0] && !strchr(why, '\n'));
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fz_str(data, size);
	(void)parse(text, size, master);
	size_t n = strlen(text);
	if (n >= 2 && text[0] == '{' && text[n - 1] == '}') {
		unsigned char k1[32], k2[32];
		FZ_CHECK(rp_ckpt_job_key(master, "job1", k1) == 0);
		FZ_CHECK(rp_ckpt_job_key(master, "job2", k2) == 0);
		char *sealed = rp_ckpt_manifest_seal(text);
		char *s1 = rp_ckmf_sign(sealed, k1), *s2 = rp_ckmf_sign(sealed, k2);
		char why[256];
		size_t files;
		long long bytes;
		int plain = rp_ckpt_manifest_parse(sealed, strlen(sealed), "job1", 1, NULL, &files, &bytes, why, sizeof why);
		FZ_CHECK(parse(s1, strlen(s1), master) == plain);
		FZ_CHECK(rp_ckpt_manifest_parse(s2, strlen(s2), "job1", 1, master, &files, &bytes, why, sizeof why) < 0);
		free(s1);
		free(s2);
		free(sealed);
	}
	free(text);
	return 0;
}
