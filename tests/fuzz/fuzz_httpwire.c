/* fuzz_httpwire — the wire parsers of httpwire.c on any bytes.  The first
 * byte picks the cut points: the chunked decoder must give the same
 * answer (bytes, consumed count or refusal) fed whole, byte by byte, and
 * cut at two points; URL parsing and a header line never read outside
 * their input, and an accepted URL has a target starting with '/' and a
 * port in 1-65535. */
#include "fuzz.h"
#include "httpwire.h"

static struct rp_buf got;
static int out(void *arg, const char *p, size_t n)
{
	(void)arg;
	rp_buf_add(&got, p, n);
	return 0;
}

/* Feed s in pieces (cuts ascending, the last is its length). */
static long feed(const char *s, const size_t *cuts, size_t ncuts)
{
	struct rp_chunk c = { 0 };
	got.len = 0;
	long tot = 0;
	size_t at = 0;
	for (size_t i = 0; i < ncuts && !rp_chunk_done(&c); i++) {
		long r = rp_chunk_feed(&c, s + at, cuts[i] - at, out, NULL);
		if (r < 0)
			return r;
		tot += r;
		at = cuts[i];
	}
	return rp_chunk_done(&c) ? tot : -3;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_httpwire");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	size_t whole[] = { n };
	long r1 = feed(s, whole, 1);
	char *b1 = rp_xmalloc(got.len + 1);
	memcpy(b1, got.data ? got.data : "", got.len);
	size_t l1 = got.len;
	size_t a = n ? data[0] % (n + 1) : 0, b = a + (n - a) / 2;
	size_t three[] = { a, b, n };
	long r3 = feed(s, three, 3);
	FZ_CHECK(r3 == r1 || (r1 < 0 && r3 < 0 && r1 == r3));
	FZ_CHECK(r1 < 0 || (got.len == l1 && !memcmp(got.data ? got.data : "", b1, l1)));
	size_t *bytes = rp_xmalloc((n + 1) * sizeof *bytes);
	for (size_t i = 0; i < n; i++)
		bytes[i] = i + 1;
	long rb = feed(s, bytes, n);
	FZ_CHECK(n == 0 || rb == r1);
	FZ_CHECK(r1 < 0 || (got.len == l1 && !memcmp(got.data ? got.data : "", b1, l1)));
	FZ_CHECK(r1 < 0 || (size_t)r1 <= n);
	free(bytes);
	free(b1);

	char *str = fz_str((const uint8_t *)s, n);
	struct rp_url u;
	char err[256];
	if (rp_url_parse(str, &u, err, sizeof err) == 0) {
		FZ_CHECK(u.target[0] == '/');
		FZ_CHECK(u.port >= 1 && u.port <= 65535);
		FZ_CHECK(u.host[0] != 0);
		FZ_CHECK(!strpbrk(u.target, " \r\n"));
	} else {
		FZ_CHECK(err[0] != 0);
	}
	struct rp_wire_meta m = { .clen = -1 };
	if (rp_wire_header_line(s, n, &m) == 0)
		FZ_CHECK(m.clen >= -1);
	long st = rp_wire_status_line(s, n);
	FZ_CHECK(st == -1 || (st >= 0 && st <= 999));
	free(str);
	return 0;
}
