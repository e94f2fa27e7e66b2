/* fuzz_s3 — the S3 XML answers (expat, s3.c): ListObjectsV2 pages, the
 * root element and <Error> Code/Message, InitiateMultipartUpload's
 * UploadId.  Buffers given are never overrun, strings are terminated, a
 * refused document hands nothing back that leaks. */
#include "fuzz.h"
#include "s3.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_s3");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct rp_s3_list l = { 0 };
	int trunc = -1;
	char *next = NULL;
	if (rp_s3_parse_list(xml, size, &l, &trunc, &next) == 0) {
		FZ_CHECK(trunc == 0 || trunc == 1);
		for (size_t i = 0; i < l.n; i++)
			FZ_CHECK(l.objs[i].key);
		for (size_t i = 0; i < l.np; i++)
			FZ_CHECK(l.prefixes[i]);
	}
	free(next);
	rp_s3_list_free(&l);

	char root[16], code[8], msg[32];
	if (rp_s3_parse_root(xml, size, root, sizeof root, code, sizeof code, msg, sizeof msg) == 0) {
		FZ_CHECK(memchr(root, 0, sizeof root) && root[0]);
		FZ_CHECK(memchr(code, 0, sizeof code) && memchr(msg, 0, sizeof msg));
	}
	char *id = rp_s3_parse_upload_id(xml, size);
	FZ_CHECK(!id || *id);
	free(id);
	return 0;
}
