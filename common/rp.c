/* rp.c — error shape, allocation, buffers, time, files, ids. */
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

const char *rp_prog = "rp";

void rp_init(const char *argv0)
{
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;
	rp_prog = s ? s + 1 : (argv0 ? argv0 : "rp");
	/* EPIPE is detected at rp_finish(); don't die silently mid-record. */
	signal(SIGPIPE, SIG_IGN);
}

static void vsay(const char *kind, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fflush(stdout);
	fprintf(stderr, "%s: %s: %s\n", rp_prog, kind, msg);
}

void rp_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay("fatal", fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(code);
}

void rp_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay("warning", fmt, ap);
	va_end(ap);
}

void rp_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay("usage", fmt, ap);
	va_end(ap);
	if (usage)
		fprintf(stderr, "%s", usage);
	exit(RP_EXIT_USAGE);
}

int rp_finish(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: fatal: unable to write standard output: %s\n",
				rp_prog, strerror(errno));
		return code ? code : RP_EXIT_FAIL;
	}
	return code;
}

void *rp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	return p;
}

void *rp_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	return p;
}

void *rp_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	return p;
}

char *rp_xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	return p;
}

char *rp_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	va_end(ap);
	return s;
}

void rp_buf_add(struct rp_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->len + n + 1)
			c *= 2;
		b->data = rp_xrealloc(b->data, c);
		b->cap = c;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void rp_buf_adds(struct rp_buf *b, const char *s)
{
	rp_buf_add(b, s, strlen(s));
}

void rp_buf_addf(struct rp_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	rp_buf_add(b, s, (size_t)n);
	free(s);
}

void rp_buf_free(struct rp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

double rp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double rp_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void rp_sleep(double secs)
{
	if (secs <= 0)
		return;
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

char *rp_rfc3339(double t, char *buf, size_t n)
{
	time_t s = (time_t)t;
	int ms = (int)((t - (double)s) * 1000.0);
	struct tm tm;
	gmtime_r(&s, &tm);
	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return buf;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int rp_parse_rfc3339(const char *s, double *out)
{
	int Y, M, D, h, m, sec;
	if (!s || strlen(s) < 20)
		return -1;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60)
		return -1;
	if (M == 2 && D == 29 && (Y % 4 || (Y % 100 == 0 && Y % 400))) /* 29 Feb: leap years only */
		return -1;
	const char *z = s + 19;
	double frac = 0, scale = 0.1;
	if (*z == '.') {
		z++;
		if (*z < '0' || *z > '9')
			return -1;
		for (; *z >= '0' && *z <= '9'; z++, scale /= 10)
			frac += (*z - '0') * scale;
	}
	double t = (double)days_from_civil(Y, M, D) * 86400.0 + h * 3600.0 + m * 60.0 + sec + frac;
	if (*z == 'Z' || *z == 'z') {
		z++;
	} else if (*z == '+' || *z == '-') {
		int oh, om;
		if (digits(z + 1, 2, &oh) || z[3] != ':' || digits(z + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		double off = oh * 3600.0 + om * 60.0;
		t -= (*z == '+') ? off : -off;
		z += 6;
	} else {
		return -1;
	}
	if (*z)
		return -1;
	*out = t;
	return 0;
}

int rp_mkdir_p(const char *path, unsigned mode)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

char *rp_read_file(const char *path, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	/* Read straight into the buffer: a 64 KiB array on the stack touched
	 * two more pages of every join thread's stack (20 threads: 160 KiB
	 * of rp-join's max RSS). */
	struct rp_buf b = { 0 };
	size_t r;
	for (;;) {
		if (b.cap - b.len < 4097) {
			size_t c = b.cap ? b.cap * 2 : 8192;
			b.data = rp_xrealloc(b.data, c);
			b.cap = c;
		}
		r = fread(b.data + b.len, 1, b.cap - b.len - 1, f);
		if (!r)
			break;
		if (b.len + r > cap) {
			fclose(f);
			rp_buf_free(&b);
			errno = EFBIG;
			return NULL;
		}
		b.len += r;
	}
	b.data[b.len] = 0;
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		rp_buf_free(&b);
		errno = EIO;
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.data;
}

void rp_rand_id(char *out, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[64];
	if (n > 32)
		n = 32;
	if (RAND_bytes(r, (int)n) != 1) {
		for (size_t i = 0; i < n; i++)
			r[i] = (unsigned char)(rand() ^ getpid());
	}
	for (size_t i = 0; i < n; i++)
		out[i] = al[r[i] % 36];
	out[n] = 0;
}

void rp_sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[64] = 0;
}

int rp_safe_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void rp_exit_add(struct rp_exit *e, int code)
{
	if (code == RP_EXIT_OK)
		e->ok++;
	else if (code == RP_EXIT_PARTIAL)
		e->partial++;
	else if (code == RP_EXIT_TEMP)
		e->temp++;
	else
		e->failed++;
}

int rp_exit_code(const struct rp_exit *e)
{
	size_t n = e->ok + e->partial + e->temp + e->failed;
	if (e->ok == n)
		return RP_EXIT_OK;
	if (e->rule == RP_EXIT_WHOLE)
		return e->temp ? RP_EXIT_TEMP : RP_EXIT_FAIL;
	if (e->ok || e->partial)
		return RP_EXIT_PARTIAL;
	if (e->rule == RP_EXIT_ANY_TEMP ? e->temp > 0 : e->temp == n)
		return RP_EXIT_TEMP;
	return RP_EXIT_FAIL;
}
