/* test-ckmanifest.c — the manifest rules (ckmanifest.h) and the path
 * rules (ckpath.h): a built manifest reads back as it was written; the
 * reader refuses every kind of bad manifest with one line; which paths
 * may be saved and which are keys. */
#include "checkpoint.h"
#include "record.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static const char H1[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char H2[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
static const char H3[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static struct rp_ckfile files[3];

static void setup(void)
{
	memset(files, 0, sizeof files);
	files[0] = (struct rp_ckfile){ .path = "index.m3u8", .size = 300, .stored = 120, .mode = 0644,
				       .enc = RP_CK_ZSTD };
	memcpy(files[0].sha, H1, 65);
	snprintf(files[0].obj, sizeof files[0].obj, "%s.zst", H1);
	files[1] = (struct rp_ckfile){ .path = "seg/1.ts", .size = 4096, .stored = 4096, .mode = 0600,
				       .enc = RP_CK_RAW };
	memcpy(files[1].sha, H2, 65);
	snprintf(files[1].obj, sizeof files[1].obj, "%s", H2);
	files[2] = (struct rp_ckfile){ .path = "keys/k1.bin", .size = 16, .stored = 48, .mode = 0600,
				       .enc = RP_CK_AES };
	memcpy(files[2].sha, H3, 65);
	snprintf(files[2].obj, sizeof files[2].obj, "%s.enc", H3);
}

/* The sealed text of a manifest whose first file entry gets `key` set to
 * the JSON `val` (NULL: removed); top-level `tkey`/`tval` likewise. */
static char *variant(const char *key, const char *val, const char *tkey, const char *tval)
{
	cJSON *m = rp_ckmf_build("job1", NULL, files, 3);
	if (key) {
		cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "files"), 0);
		cJSON_DeleteItemFromObjectCaseSensitive(f0, key);
		if (val)
			cJSON_AddItemToObject(f0, key, cJSON_Parse(val));
	}
	if (tkey) {
		cJSON_DeleteItemFromObjectCaseSensitive(m, tkey);
		if (tval)
			cJSON_AddItemToObject(m, tkey, cJSON_Parse(tval));
	}
	char *t = rp_ckmf_text(m, 7);
	cJSON_Delete(m);
	return t;
}

static int refused(const char *text, const char *want)
{
	struct rp_ckmf m;
	char why[300] = "";
	int r = rp_ckmf_parse(text, strlen(text), "job1", 7, &m, why, sizeof why);
	if (r == 0) {
		rp_ckmf_free(&m);
		return 0;
	}
	return why[0] && !strchr(why, '\n') && (!want || strstr(why, want));
}

static void round_trip(void)
{
	cJSON *pr = cJSON_Parse("{\"segments_complete\":12,\"bitrate_level\":\"720p\"}");
	cJSON *m = rp_ckmf_build("job1", pr, files, 3);
	char *t = rp_ckmf_text(m, 7);
	T_OK(rp_ckpt_manifest_check(t, strlen(t)) == 0, "a built manifest carries a matching self-hash");
	struct rp_ckmf r;
	char why[300] = "";
	T_INT(rp_ckmf_parse(t, strlen(t), "job1", 7, &r, why, sizeof why), 0, "it parses back");
	T_INT(r.n, 3, "three entries");
	T_INT(r.seq, 7, "seq as claimed");
	T_INT(r.bytes, 300 + 4096 + 16, "bytes is the sum of the plain sizes");
	T_OK(r.has_keys, "a sealed entry marks the manifest as holding keys");
	int same = 1;
	for (size_t i = 0; i < 3 && r.n == 3; i++)
		same &= !strcmp(r.f[i].path, files[i].path) && r.f[i].size == files[i].size &&
			r.f[i].stored == files[i].stored && r.f[i].mode == files[i].mode &&
			r.f[i].enc == files[i].enc && !strcmp(r.f[i].sha, files[i].sha) &&
			!strcmp(r.f[i].obj, files[i].obj) && r.f[i].is_key == (files[i].enc == RP_CK_AES);
	T_OK(same, "every entry reads back as written (path, size, stored, mode, codec, hash, object)");
	cJSON *rec = rp_ckmf_record("list", "job1", &r);
	T_STR(rp_rec_str(rec, "key"), "job1/manifests/0000000007.json", "the record names the manifest key");
	T_INT((long long)rp_rec_num(rec, "segments", -1), 12, "segments from the progress record");
	T_STR(rp_rec_str(rec, "bitrate_level"), "720p", "bitrate_level carried");
	T_INT((long long)rp_rec_num(rec, "files", -1), 3, "files counted");
	cJSON_Delete(rec);
	rp_ckmf_free(&r);
	/* the same text read as another job or seq is refused */
	struct rp_ckmf o;
	T_INT(rp_ckmf_parse(t, strlen(t), "job2", 7, &o, why, sizeof why), -1, "another job's manifest refused");
	T_INT(rp_ckmf_parse(t, strlen(t), "job1", 8, &o, why, sizeof why), -1, "another seq refused");
	/* one flipped byte anywhere in the body */
	char *x = strdup(t);
	char *p = strstr(x, "4096");
	p[0] = '5';
	T_OK(refused(x, "hash mismatch"), "a changed size breaks the self-hash");
	free(x);
	size_t files_n = 0;
	long long bytes = 0;
	T_INT(rp_ckpt_manifest_parse(t, strlen(t), "job1", 7, NULL, &files_n, &bytes, why, sizeof why), 0,
	      "the fuzzers' entry point agrees");
	T_INT(files_n, 3, "…three files");
	free(t);
	cJSON_Delete(m);
	cJSON_Delete(pr);
}

static void rejects(void)
{
	struct { const char *key, *val, *tkey, *tval, *want, *desc; } c[] = {
		{ NULL, NULL, "format", "\"rp-checkpoint/2\"", "not a rp-checkpoint/1 manifest", "another format" },
		{ NULL, NULL, "files", "{}", "not a", "files not an array" },
		{ NULL, NULL, "job", NULL, "not a", "no job" },
		{ "path", "\"../etc/passwd\"", NULL, NULL, "bad entry 1", "a path with .." },
		{ "path", "\"/etc/passwd\"", NULL, NULL, "bad entry 1", "an absolute path" },
		{ "path", "\"a\\nb\"", NULL, NULL, "bad entry 1", "a control character (why stays one line)" },
		{ "path", NULL, NULL, NULL, "bad entry 1", "no path" },
		{ "size", "-1", NULL, NULL, "bad entry", "a negative size" },
		{ "size", "1e300", NULL, NULL, "bad entry", "a size out of range" },
		{ "stored", "\"12\"", NULL, NULL, "bad entry", "stored not a number" },
		{ "mode", "4096", NULL, NULL, "bad entry", "a mode over 07777" },
		{ "enc", "\"rot13\"", NULL, NULL, "bad entry", "an unknown codec" },
		{ "enc", "\"raw\"", NULL, NULL, "bad entry", "a codec the object name does not carry" },
		{ "obj", "\"0123\"", NULL, NULL, "bad entry", "an object name not from the hash" },
		{ "sha256", "\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"", NULL, NULL,
		  "bad entry", "upper-case hex" },
		{ "sha256", NULL, NULL, NULL, "bad entry", "no hash" },
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		char *t = variant(c[i].key, c[i].val, c[i].tkey, c[i].tval);
		T_OK(refused(t, c[i].want), "refused: %s", c[i].desc);
		free(t);
	}
	/* sizes whose total would overflow */
	files[1].size = (long long)1 << 61;
	files[0].size = (long long)1 << 61;
	char *t = variant(NULL, NULL, NULL, NULL);
	T_OK(refused(t, "bad entry 2"), "refused: a total of 2^62 bytes");
	free(t);
	setup();
	T_OK(refused("{}", "hash mismatch"), "refused: no self-hash");
	T_OK(refused("", "hash mismatch"), "refused: empty");
}

static void paths(void)
{
	T_OK(rp_ckpt_safe_path("seg/1.ts"), "a plain relative path is safe");
	T_OK(rp_ckpt_safe_path(".hidden/a..b"), "dots inside names are fine");
	const char *bad[] = { "", "/abs", "dir/", "a//b", ".", "./a", "a/.", "..", "a/../b", "a\x7f",
			      "a\tb", "seg/1.ts.rp-part-abc", NULL };
	for (int i = 0; bad[i]; i++)
		T_OK(!rp_ckpt_safe_path(bad[i]), "unsafe: '%s'", bad[i]);
	T_OK(!rp_ckpt_safe_path(NULL), "unsafe: NULL");
	char *lng = malloc(4002);
	memset(lng, 'a', 4001);
	lng[4001] = 0;
	T_OK(!rp_ckpt_safe_path(lng), "unsafe: over 4000 bytes");
	lng[4000] = 0;
	T_OK(rp_ckpt_safe_path(lng), "4000 bytes is still safe");
	free(lng);
	T_OK(rp_ckpt_is_key_path("keys/k"), "keys/ at the top is a key");
	T_OK(rp_ckpt_is_key_path("a/b/keys/c/d"), "keys/ at any depth is a key");
	T_OK(rp_ckpt_is_key_path("drm.key"), "*.key is a key");
	T_OK(!rp_ckpt_is_key_path(".key"), "'.key' alone is not (no name before it)");
	T_OK(!rp_ckpt_is_key_path("mykeys/a"), "mykeys/ is not keys/");
	T_OK(!rp_ckpt_is_key_path("a/keys"), "a file named keys is not");
	T_OK(!rp_ckpt_is_key_path("a.keys"), "*.keys is not");
}

/* Signed manifests: the job's key (HKDF) signs one job; the reader with a
 * signing key refuses unsigned, re-labelled and altered manifests. */
static void signing(void)
{
	unsigned char master[32], k1[32], k1b[32], k2[32];
	for (int i = 0; i < 32; i++)
		master[i] = (unsigned char)(i * 7 + 1);
	T_INT(rp_ckpt_job_key(master, "job1", k1), 0, "a job key is derived");
	rp_ckpt_job_key(master, "job1", k1b);
	rp_ckpt_job_key(master, "job2", k2);
	T_OK(!memcmp(k1, k1b, 32), "the same job gets the same key");
	T_OK(memcmp(k1, k2, 32) != 0, "another job gets another key");
	T_OK(memcmp(k1, master, 32) != 0, "the job key is not the master key");
	cJSON *m = rp_ckmf_build("job1", NULL, files, 3);
	char *t = rp_ckmf_text(m, 7);
	char *s = rp_ckmf_sign(t, k1);
	struct rp_ckmf r;
	char why[300];
	T_INT(rp_ckmf_parse_signed(s, strlen(s), "job1", 7, master, &r, why, sizeof why), 0, "a signed manifest opens");
	T_INT((int)r.n, 3, "  with its files");
	rp_ckmf_free(&r);
	T_INT(rp_ckpt_manifest_check(s, strlen(s)), 0, "the self-hash still checks under the signature");
	T_INT(rp_ckmf_parse(s, strlen(s), "job1", 7, &r, why, sizeof why), 0, "a reader without a key reads it");
	rp_ckmf_free(&r);
	T_INT(rp_ckmf_parse_signed(t, strlen(t), "job1", 7, master, &r, why, sizeof why), -1, "unsigned refused with a key");
	T_OK(strstr(why, "unsigned manifest") != NULL, "  why: unsigned");
	char *s2 = rp_ckmf_sign(t, k2);
	T_INT(rp_ckmf_parse_signed(s2, strlen(s2), "job1", 7, master, &r, why, sizeof why), -1,
	      "signed with another job's key: refused");
	T_OK(strstr(why, "bad manifest signature") != NULL, "  why: bad signature");
	char *s3 = rp_xstrdup(s);
	s3[strlen(s3) - 3] ^= 1;
	T_INT(rp_ckmf_parse_signed(s3, strlen(s3), "job1", 7, master, &r, why, sizeof why), -1, "a flipped signature bit: refused");
	free(s);
	free(s2);
	free(s3);
	free(t);
	cJSON_Delete(m);
	/* A key path must be sealed. */
	files[2].enc = RP_CK_RAW;
	snprintf(files[2].obj, sizeof files[2].obj, "%s", H3);
	m = rp_ckmf_build("job1", NULL, files, 3);
	t = rp_ckmf_text(m, 7);
	T_INT(rp_ckmf_parse(t, strlen(t), "job1", 7, &r, why, sizeof why), -1, "a raw key path is refused");
	T_OK(strstr(why, "stored unsealed") != NULL, "  why: stored unsealed");
	free(t);
	cJSON_Delete(m);
	setup();
}

int main(void)
{
	rp_init("test-ckmanifest");
	setup();
	round_trip();
	rejects();
	paths();
	signing();
	return T_DONE();
}
