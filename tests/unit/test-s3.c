/* test-s3.c — the pure parts of s3.c and of the checkpoint modules: canonical query
 * strings, S3 XML, the manifest self-hash, key sealing, the probe. */
#include "checkpoint.h"
#include "s3.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static void query(void)
{
	const char *a[] = { "uploads", NULL, NULL };
	char *q = rp_s3_query(a);
	T_STR(q, "uploads=", "valueless parameter written name=");
	free(q);
	const char *b[] = { "prefix", "job 1/data/", "max-keys", "1000", "list-type", "2",
			    "continuation-token", "a+b/c=", "delimiter", "/", NULL };
	q = rp_s3_query(b);
	T_STR(q, "continuation-token=a%2Bb%2Fc%3D&delimiter=%2F&list-type=2&max-keys=1000&prefix=job%201%2Fdata%2F",
	      "sorted by name, RFC 3986 encoded, uppercase hex");
	free(q);
	const char *c[] = { "uploadId", "x~y_z.-", "partNumber", "10", NULL };
	q = rp_s3_query(c);
	T_STR(q, "partNumber=10&uploadId=x~y_z.-", "unreserved characters kept; case-sensitive sort");
	free(q);
	T_OK(rp_s3_key_ok("job-1/data/abc.zst"), "safe key");
	T_OK(!rp_s3_key_ok("job 1/x"), "space refused in a key");
	T_OK(!rp_s3_key_ok("job/x?y"), "? refused in a key");
	T_OK(!rp_s3_key_ok(""), "empty key refused");
}

static void xml(void)
{
	static const char aws[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
		"<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"<Contents><Key>j/data/a&amp;b</Key><LastModified>2026-11-28T08:00:00.000Z</LastModified>"
		"<ETag>&quot;abc&quot;</ETag><Size>1234567890123</Size></Contents>"
		"<Contents><Key>j/data/c</Key><Size>0</Size></Contents>"
		"<CommonPrefixes><Prefix>j/</Prefix></CommonPrefixes></ListBucketResult>";
	struct rp_s3_list l = { 0 };
	int trunc = 0;
	char *tok = NULL;
	T_INT(rp_s3_parse_list(aws, strlen(aws), &l, &trunc, &tok), 0, "AWS listing parses");
	T_INT(l.n, 2, "two objects");
	T_STR(l.n ? l.objs[0].key : NULL, "j/data/a&b", "entities decoded in keys");
	T_INT(l.n ? l.objs[0].size : 0, 1234567890123LL, "64-bit size");
	T_INT(l.n ? (long long)l.objs[0].mtime : 0, 1795852800LL, "LastModified");
	T_INT(trunc, 1, "IsTruncated");
	T_STR(tok, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=", "continuation token");
	T_INT(l.np, 1, "common prefix");
	free(tok);
	rp_s3_list_free(&l);

	static const char s3rver[] =
		"<ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01/\"><IsTruncated>false</IsTruncated>"
		"<Contents><Key>k</Key><Size>5</Size></Contents></ListBucketResult>";
	T_INT(rp_s3_parse_list(s3rver, strlen(s3rver), &l, &trunc, &tok), 0, "s3rver namespace accepted");
	T_INT(trunc, 0, "not truncated");
	T_OK(tok == NULL, "no token");
	rp_s3_list_free(&l);

	static const char prefixed[] =
		"<s3:ListBucketResult xmlns:s3=\"urn:x\"><s3:Contents><s3:Key>k</s3:Key></s3:Contents></s3:ListBucketResult>";
	T_INT(rp_s3_parse_list(prefixed, strlen(prefixed), &l, &trunc, &tok), 0, "prefixed names accepted");
	T_INT(l.n, 1, "prefixed: one object");
	rp_s3_list_free(&l);

	static const char bomb[] =
		"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>&a;</ListBucketResult>";
	T_INT(rp_s3_parse_list(bomb, strlen(bomb), &l, &trunc, &tok), -1, "DOCTYPE refused");
	rp_s3_list_free(&l);
	T_INT(rp_s3_parse_list("<Error/>", 8, &l, &trunc, &tok), -1, "an Error is not a listing");
	T_INT(rp_s3_parse_list("<ListBucketResult>", 18, &l, &trunc, &tok), -1, "truncated XML refused");
	rp_s3_list_free(&l);

	char root[64], code[64], msg[128];
	static const char err[] = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code>"
				  "<Message>We encountered an internal error.</Message></Error>";
	T_INT(rp_s3_parse_root(err, strlen(err), root, sizeof root, code, sizeof code, msg, sizeof msg), 0,
	      "error parses");
	T_STR(root, "Error", "200-with-error: root is Error");
	T_STR(code, "InternalError", "error code");
	T_STR(msg, "We encountered an internal error.", "error message");
	static const char done[] = "<CompleteMultipartUploadResult><Bucket>b</Bucket></CompleteMultipartUploadResult>";
	rp_s3_parse_root(done, strlen(done), root, sizeof root, code, sizeof code, msg, sizeof msg);
	T_STR(root, "CompleteMultipartUploadResult", "complete result root");
	static const char init[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
				   "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
	char *id = rp_s3_parse_upload_id(init, strlen(init));
	T_STR(id, "VXBsb2FkIElE", "UploadId");
	free(id);
	T_OK(rp_s3_parse_upload_id(err, strlen(err)) == NULL, "no UploadId in an error");
}

static void manifest(void)
{
	char *m = rp_ckpt_manifest_seal("{\"format\":\"rp-checkpoint/1\",\"files\":[]}");
	T_OK(strstr(m, ",\"manifest_sha256\":\"") != NULL, "seal appends manifest_sha256");
	T_INT(rp_ckpt_manifest_check(m, strlen(m)), 0, "sealed manifest checks");
	char *nl = malloc(strlen(m) + 2);
	strcpy(nl, m);
	strcat(nl, "\n");
	T_INT(rp_ckpt_manifest_check(nl, strlen(nl)), 0, "a trailing newline is fine");
	int bad = 0;
	for (size_t i = 0; i < strlen(m); i++) {
		char *x = strdup(m);
		x[i] ^= 1;
		bad += rp_ckpt_manifest_check(x, strlen(x)) == 0;
		free(x);
	}
	T_INT(bad, 0, "every single flipped bit is caught");
	T_INT(rp_ckpt_manifest_check("{}", 2), -1, "unsealed refused");
	free(nl);
	free(m);
}

static void keys(void)
{
	unsigned char k[32], k2[32];
	for (int i = 0; i < 32; i++)
		k[i] = (unsigned char)i, k2[i] = (unsigned char)(i + 1);
	const char plain[] = "0123456789abcdef";
	char name[65], name2[65];
	rp_ckpt_name_key(k, plain, 16, name);
	rp_ckpt_name_key(k2, plain, 16, name2);
	T_INT(strlen(name), 64, "HMAC name is 64 hex");
	T_OK(strcmp(name, name2) != 0, "name depends on the key");
	unsigned char *sealed, *back;
	size_t sn, bn;
	T_INT(rp_ckpt_seal(k, name, plain, 16, &sealed, &sn), 0, "seal");
	T_INT(sn, 16 + 32, "RPE1 + nonce + ciphertext + tag");
	T_OK(!memcmp(sealed, "RPE1", 4), "header");
	T_OK(memmem(sealed, sn, plain, 16) == NULL, "no plaintext in the sealed object");
	T_INT(rp_ckpt_open(k, name, sealed, sn, &back, &bn), 0, "open");
	T_OK(bn == 16 && !memcmp(back, plain, 16), "round trip");
	free(back);
	T_INT(rp_ckpt_open(k2, name, sealed, sn, &back, &bn), -1, "another key fails");
	T_INT(rp_ckpt_open(k, name2, sealed, sn, &back, &bn), -1, "another name (AAD) fails");
	unsigned char *again;
	size_t an;
	T_INT(rp_ckpt_seal(k, name, plain, 16, &again, &an), 0, "seal the same key again");
	T_OK(an == sn && memcmp(again + 4, sealed + 4, 12) != 0, "two seals of the same key use different nonces");
	T_OK(memcmp(again + 16, sealed + 16, 16) != 0, "  and so different ciphertexts");
	free(again);
	sealed[20] ^= 0x80;
	T_INT(rp_ckpt_open(k, name, sealed, sn, &back, &bn), -1, "a flipped bit fails");
	free(sealed);
}

static void pieces(void)
{
	T_OK(rp_ckpt_is_key_path("keys/a.bin"), "keys/ is a key");
	T_OK(rp_ckpt_is_key_path("drm/keys/a"), "…/keys/ is a key");
	T_OK(rp_ckpt_is_key_path("content.key"), "*.key is a key");
	T_OK(!rp_ckpt_is_key_path("monkeys/a.ts"), "monkeys/ is not");
	T_OK(!rp_ckpt_is_key_path("key.ts"), "key.ts is not");
	T_OK(rp_ckpt_safe_path("seg/1.ts"), "safe path");
	T_OK(!rp_ckpt_safe_path("../x"), ".. refused");
	T_OK(!rp_ckpt_safe_path("a/../x"), "inner .. refused");
	T_OK(!rp_ckpt_safe_path("/etc/passwd"), "absolute refused");
	T_OK(!rp_ckpt_safe_path("a//b"), "empty component refused");
	T_OK(!rp_ckpt_safe_path("a/\nb"), "control character refused");
	static char text[65536], rnd[65536];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "#EXTINF:4.000,\nseg/1.ts\n"[i % 24];
	unsigned x = 12345;
	for (size_t i = 0; i < sizeof rnd; i++)
		x = x * 1103515245u + 12345u, rnd[i] = (char)(x >> 23);
	T_OK(rp_ckpt_probe(text, sizeof text), "a playlist is worth compressing");
	T_OK(!rp_ckpt_probe(rnd, sizeof rnd), "random bytes are stored as they are");
	T_OK(!rp_ckpt_probe(text, 0), "empty: stored as it is");
}

int main(void)
{
	query();
	xml();
	manifest();
	keys();
	pieces();
	return T_DONE();
}
