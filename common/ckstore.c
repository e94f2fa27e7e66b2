/* ckstore.c — see ckstore.h. */
#include "ckstore.h"
#include "pool.h"
#include "rp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const rp_ck_enc_names[3] = { "raw", "zstd", "aes-256-gcm" };

void rp_ckfile_free(struct rp_ckfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].path);
		free(f[i].tmp);
	}
	free(f);
}

void rp_ckpt_set_err(struct rp_ckpt_err *e, int code, int queue, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	e->queue = queue;
}

int rp_ckfile_fail(struct rp_ckfile *f, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
	f->code = code;
	return -1;
}

int rp_ckfile_s3fail(struct rp_ckfile *f, const struct rp_s3_err *se)
{
	return rp_ckfile_fail(f, se->temp ? RP_EXIT_TEMP : RP_EXIT_FAIL, "%s", se->msg);
}

void rp_ckpt_s3_err(struct rp_ckpt_err *e, const struct rp_s3_err *se)
{
	rp_ckpt_set_err(e, se->temp ? RP_EXIT_TEMP : RP_EXIT_FAIL, 1, "%s", se->msg);
}

void rp_ck_hex(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = 0;
}

int rp_ck_is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int rp_ck_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- names present in the bucket ----------------------------------------- */

static int obj_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_s3_obj *)a)->key, ((const struct rp_s3_obj *)b)->key);
}

int rp_ckhave_load(const struct rp_ckpt *c, const char *job, struct rp_ckhave *h, struct rp_s3_err *se)
{
	char *prefix = rp_xasprintf("%s/data/", job);
	h->plen = strlen(prefix);
	int r = rp_s3_list(c->s3, prefix, NULL, &h->l, se);
	free(prefix);
	if (r == 0 && h->l.n)
		qsort(h->l.objs, h->l.n, sizeof *h->l.objs, obj_cmp);
	return r;
}

const struct rp_s3_obj *rp_ckhave_find(const struct rp_ckhave *h, const char *job, const char *obj)
{
	if (!h->l.n)
		return NULL;
	char *k = rp_ck_data_key(job, obj);
	struct rp_s3_obj key = { .key = k };
	const struct rp_s3_obj *o = bsearch(&key, h->l.objs, h->l.n, sizeof *h->l.objs, obj_cmp);
	free(k);
	return o;
}

/* Sequence numbers of <job>/manifests/NNNNNNNNNN.json, newest first. */
int rp_ck_list_seqs(const struct rp_ckpt *c, const char *job, long **seqs, size_t *n,
		     struct rp_s3_err *se)
{
	struct rp_s3_list l;
	char *prefix = rp_xasprintf("%s/manifests/", job);
	size_t pl = strlen(prefix);
	int r = rp_s3_list(c->s3, prefix, NULL, &l, se);
	free(prefix);
	*seqs = NULL;
	*n = 0;
	if (r < 0)
		return -1;
	*seqs = rp_xcalloc(l.n + 1, sizeof **seqs);
	for (size_t i = 0; i < l.n; i++) {
		const char *b = l.objs[i].key + pl;
		char *end;
		long s = strtol(b, &end, 10);
		if (end == b + 10 && !strcmp(end, ".json") && s > 0)
			(*seqs)[(*n)++] = s;
	}
	rp_s3_list_free(&l);
	/* newest first */
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && (*seqs)[j - 1] < (*seqs)[j]; j--) {
			long t = (*seqs)[j];
			(*seqs)[j] = (*seqs)[j - 1];
			(*seqs)[j - 1] = t;
		}
	return 0;
}

char *rp_ck_data_key(const char *job, const char *obj)
{
	return rp_xasprintf("%s/data/%s", job, obj);
}

char *rp_ck_manifest_key(const char *job, long seq)
{
	return rp_xasprintf("%s/manifests/%010ld.json", job, seq);
}

char *rp_ck_latest_key(const char *job)
{
	return rp_xasprintf("%s/LATEST", job);
}

char *rp_ck_probe_key(const char *job)
{
	return rp_xasprintf("%s/probe-if-none-match", job);
}

int rp_ckpt_first_failure(struct rp_ckfile *f, size_t n, struct rp_ckpt_err *e, int queue)
{
	/* A temporary failure wins: the whole run is worth retrying. */
	struct rp_ckfile *pick = NULL;
	for (size_t i = 0; i < n; i++)
		if (f[i].code && (!pick || (f[i].code == RP_EXIT_TEMP && pick->code != RP_EXIT_TEMP)))
			pick = &f[i];
	if (!pick)
		return 0;
	rp_ckpt_set_err(e, pick->code, queue && pick->code != RP_EXIT_USAGE, "%s", pick->why);
	return pick->code;
}

int rp_ckpt_check_job(const char *job, struct rp_ckpt_err *e)
{
	if (rp_safe_name(job))
		return 0;
	rp_ckpt_set_err(e, RP_EXIT_USAGE, 0, "unsafe job id '%.100s': want [A-Za-z0-9._-], not . or ..", job);
	return -1;
}


int rp_ck_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the transfer pool with a progress bar --------------------------------- */

struct bar {
	const char *label;
	const struct rp_ckfile *f;
	size_t n;
	long long total;
	_Atomic long long bytes;       /* of the files done */
	int (*fn)(void *, size_t);
	void *ctx;
};

/* A file is counted in the bar once its work has ended, whatever the end. */
static int bar_item(void *arg, size_t i)
{
	struct bar *b = arg;
	int r = b->fn(b->ctx, i);
	atomic_fetch_add(&b->bytes, b->f[i].size);
	return r;
}

static void draw(void *arg, size_t done, size_t n)
{
	struct bar *b = arg;
	long long bytes = atomic_load(&b->bytes);
	int pct = b->total ? (int)(100.0 * (double)bytes / (double)b->total) : 100;
	fprintf(stderr, "\r%s: %s %zu/%zu files %lld/%lld MiB %3d%%", rp_prog, b->label, done, n,
		bytes >> 20, b->total >> 20, pct);
	fflush(stderr);
}

void rp_ckpt_pool(const struct rp_ckpt *c, struct rp_ckfile *f, size_t n, int (*fn)(void *, size_t),
		  void *ctx, int rule, const char *label)
{
	if (!n)
		return;
	struct bar b = { .label = label, .f = f, .n = n, .fn = fn, .ctx = ctx };
	for (size_t i = 0; i < n; i++)
		b.total += f[i].size;
	atomic_init(&b.bytes, 0);
	struct rp_pool_opt o = { .rule = rule, .stack = 1u << 20, .tick = c->bar ? draw : NULL, .tick_arg = &b };
	rp_pool_run(n, c->s3->parallel, bar_item, &b, NULL, &o);
	if (c->bar)
		fprintf(stderr, "\r\033[K");
}
