/* Records: round trip, unknown fields kept, malformed lines, ts. */
#include "t.h"
#include "record.h"
#include "rp.h"

#include <stdlib.h>
#include <sys/resource.h>

/* A stream of one HUGE-byte line of 'x', then one good record: made as it
 * is read, so only the reader can hold the line in memory. */
#define HUGE (64ll << 20)
static long long huge_pos;
static ssize_t huge_read(void *cookie, char *buf, size_t n)
{
	(void)cookie;
	static const char tail[] = "\n{\"type\":\"pod\",\"id\":\"after\"}\n";
	long long total = HUGE + (long long)sizeof tail - 1;
	if (huge_pos >= total)
		return 0;
	size_t k = 0;
	for (; k < n && huge_pos < total; k++, huge_pos++)
		buf[k] = huge_pos < HUGE ? 'x' : tail[huge_pos - HUGE];
	return (ssize_t)k;
}

static long max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(void)
{
	rp_init("test-record");
	const char *in =
		"{\"type\":\"decision\",\"ts\":\"2026-11-28T08:00:00.000Z\",\"action\":\"up\",\"count\":3,\"extra\":{\"k\":[1,2]}}\n"
		"\n"
		"not json\n"
		"[1,2]\n"
		"{\"notype\":1}\n"
		"{\"type\":\"pod\",\"id\":\"abc\",\"spot\":true}\n";
	FILE *f = fmemopen((void *)in, strlen(in), "r");
	struct rp_rec_reader *r = rp_rec_reader_new(f, "input", 0);
	cJSON *rec;
	const char *raw;
	int n = 0;
	T_INT(rp_rec_read(r, &rec, &raw), 1, "first record read");
	T_STR(rp_rec_type(rec), "decision", "type");
	T_STR(rp_rec_str(rec, "action"), "up", "string field");
	T_OK(rp_rec_num(rec, "count", -1) == 3, "number field");
	T_OK(cJSON_GetObjectItem(rec, "extra") != NULL, "unknown field kept");
	T_OK(raw && strstr(raw, "\"extra\":{\"k\":[1,2]}"), "raw line kept for pass-through");
	char *again = cJSON_PrintUnformatted(rec);
	cJSON *back = cJSON_Parse(again);
	T_OK(cJSON_Compare(rec, back, 1), "round trip equal");
	cJSON_Delete(back);
	free(again);
	cJSON_Delete(rec);
	T_INT(rp_rec_read(r, &rec, &raw), 1, "lenient reader skips malformed lines");
	T_STR(rp_rec_type(rec), "pod", "then reads the next record");
	T_OK(rp_rec_bool(rec, "spot", 0) == 1, "bool field");
	T_INT(rp_rec_lineno(r), 6, "line number counts blank and bad lines");
	T_INT(rp_rec_malformed(r), 3, "three malformed lines counted");
	cJSON_Delete(rec);
	T_INT(rp_rec_read(r, &rec, &raw), 0, "EOF");
	rp_rec_reader_free(r);
	fclose(f);
	(void)n;

	f = fmemopen((void *)in, strlen(in), "r");
	r = rp_rec_reader_new(f, "input", 1);
	T_INT(rp_rec_read(r, &rec, &raw), 1, "strict: first ok");
	cJSON_Delete(rec);
	T_INT(rp_rec_read(r, &rec, &raw), -1, "strict: malformed is fatal");
	T_INT(rp_rec_lineno(r), 3, "strict: at line 3");
	rp_rec_reader_free(r);
	fclose(f);

	cJSON *o = rp_rec_new("node");
	const char *ts = rp_rec_str(o, "ts");
	double t;
	T_OK(ts && rp_parse_rfc3339(ts, &t) == 0 && t > 1.7e9, "new record has an RFC 3339 ts (%s)", ts ? ts : "");
	T_OK(ts && ts[strlen(ts) - 1] == 'Z', "ts is UTC");
	cJSON_Delete(o);
	double t2;
	T_OK(rp_parse_rfc3339("2026-11-28T08:00:00+01:00", &t) == 0 &&
	     rp_parse_rfc3339("2026-11-28T07:00:00Z", &t2) == 0 && t == t2, "offset parsed");
	T_OK(rp_parse_rfc3339("2026-13-28T08:00:00Z", &t) < 0, "bad month refused");
	T_OK(rp_parse_rfc3339("2026-11-28T08:00:00", &t) < 0, "zone required");
	T_INT(rp_out_parse("json"), RP_OUT_JSON, "-o json");
	T_INT(rp_out_parse("table"), RP_OUT_TABLE, "-o table");
	T_INT(rp_out_parse("yaml"), -1, "-o yaml refused");
	/* The line cap holds while reading: a 64 MiB line costs ~1 MiB. */
	cookie_io_functions_t io = { .read = huge_read };
	f = fopencookie(NULL, "r", io);
	long rss0 = max_rss_kb();
	r = rp_rec_reader_new(f, "huge", 0);
	T_INT(rp_rec_read(r, &rec, &raw), 1, "a 64 MiB line is skipped as malformed, the next record read");
	T_STR(rec ? rp_rec_str(rec, "id") : NULL, "after", "the record after the huge line");
	T_INT(rp_rec_lineno(r), 2, "the huge line counted as one line");
	T_INT(rp_rec_malformed(r), 1, "and as one malformed line");
	long grew = max_rss_kb() - rss0;
	T_OK(grew < 16 * 1024, "reading it grew the peak RSS by %ld KiB (< 16 MiB; the line is 64 MiB)", grew);
	cJSON_Delete(rec);
	rp_rec_reader_free(r);
	fclose(f);

	T_OK(rp_safe_name("job-1.a_b") && !rp_safe_name("../x") && !rp_safe_name("a/b") && !rp_safe_name("..") &&
	     !rp_safe_name(""), "safe names");
	return T_DONE();
}
