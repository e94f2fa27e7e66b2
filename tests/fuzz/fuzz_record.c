/* fuzz_record — the JSON Lines record reader (rp_rec_read over a memory
 * stream), strict and lenient: every record handed back is an object
 * with a string "type", its raw line has no newline, line numbers only
 * grow, and a lenient reader never stops early. */
#include "fuzz.h"
#include "record.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_record");
	fz_buffer_stderr();
	return 0;
}

static void read_all(const uint8_t *data, size_t size, int strict)
{
	FILE *f = fz_stream(data, size);
	struct rp_rec_reader *r = rp_rec_reader_new(f, "fuzz", strict);
	cJSON *rec;
	const char *raw;
	int rc;
	long last = 0, got = 0;
	while ((rc = rp_rec_read(r, &rec, &raw)) == 1) {
		FZ_CHECK(cJSON_IsObject(rec) && rp_rec_type(rec));
		FZ_CHECK(raw && !strchr(raw, '\n'));
		FZ_CHECK(rp_rec_lineno(r) > last);
		last = rp_rec_lineno(r);
		(void)rp_rec_str(rec, "id");
		(void)rp_rec_num(rec, "count", 0);
		(void)rp_rec_bool(rec, "spot", 0);
		cJSON_Delete(rec);
		got++;
	}
	FZ_CHECK(rc == 0 || (rc == -1 && strict));
	if (strict)
		FZ_CHECK(rp_rec_malformed(r) == (rc == -1));
	rp_rec_reader_free(r);
	fclose(f);
	(void)got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_all(data, size, 1);
	read_all(data, size, 0);
	return 0;
}
