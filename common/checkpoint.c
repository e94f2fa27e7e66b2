/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <zstd.h>

#define PROBE (64u << 10)
#define IOBUF (128u << 10)
#define KEY_CAP (16u << 20)
#define MF_CAP (64u << 20)
#define FORMAT "rp-checkpoint/1"

enum { ENC_RAW, ENC_ZSTD, ENC_AES };
static const char *enc_names[] = { "raw", "zstd", "aes-256-gcm" };

/* One file of a checkpoint (save: found on disk; restore: from a manifest). */
struct fent {
	char *path;
	long long size, stored;
	unsigned mode;
	int is_key, enc, uploaded;
	char sha[65];           /* sha256 of the plain content; for keys the HMAC name */
	char obj[72];           /* name under <job>/data/ */
	int code;               /* RP_EXIT_* of this file's failure, 0 ok */
	int skipped;            /* restore: already there */
	char *tmp;              /* restore: downloaded, waiting to be renamed */
	char why[400];
};

static void fent_free(struct fent *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].path);
		free(f[i].tmp);
	}
	free(f);
}

static void set_err(struct rp_ckpt_err *e, int code, int queue, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_err(struct rp_ckpt_err *e, int code, int queue, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	e->queue = queue;
}

static void s3_err(struct rp_ckpt_err *e, const struct rp_s3_err *se)
{
	set_err(e, se->temp ? RP_EXIT_TEMP : RP_EXIT_FAIL, 1, "%s", se->msg);
}

/* ---- small pieces -------------------------------------------------------- */

int rp_ckpt_is_key_path(const char *rel)
{
	size_t n = strlen(rel);
	if (n > 4 && !strcmp(rel + n - 4, ".key"))
		return 1;
	if (!strncmp(rel, "keys/", 5))
		return 1;
	return strstr(rel, "/keys/") != NULL;
}

int rp_ckpt_safe_path(const char *rel)
{
	size_t n = rel ? strlen(rel) : 0;
	if (!n || n > 4000 || rel[0] == '/' || rel[n - 1] == '/')
		return 0;
	for (const char *p = rel; *p;) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		for (size_t i = 0; i < l; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
		p = s ? s + 1 : p + l;
	}
	return strstr(rel, ".rp-part-") == NULL;
}

int rp_ckpt_probe(const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > PROBE)
		n = PROBE;
	size_t cap = ZSTD_compressBound(n);
	void *out = rp_xmalloc(cap);
	size_t c = ZSTD_compress(out, cap, p, n, 1);
	free(out);
	if (ZSTD_isError(c))
		return 0;
	return (double)c / (double)n <= 0.9;
}

static void hexify(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = 0;
}

static int is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

void rp_ckpt_name_key(const unsigned char key[32], const void *p, size_t n, char out[65])
{
	static const char label[] = "rp-checkpoint object name";
	unsigned char nk[32], md[32];
	unsigned len = 0;
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)label, sizeof label - 1, nk, &len);
	HMAC(EVP_sha256(), nk, 32, p, n, md, &len);
	OPENSSL_cleanse(nk, sizeof nk);
	hexify(md, 32, out);
}

int rp_ckpt_seal(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn)
{
	unsigned char *o = rp_xmalloc(4 + 12 + n + 16);
	int len = 0, ok = 0;
	memcpy(o, "RPE1", 4);
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	if (cx && RAND_bytes(o + 4, 12) == 1 &&
	    EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_EncryptInit_ex(cx, NULL, NULL, key, o + 4) == 1 &&
	    EVP_EncryptUpdate(cx, NULL, &len, (const unsigned char *)name, (int)strlen(name)) == 1 &&
	    EVP_EncryptUpdate(cx, o + 16, &len, p, (int)n) == 1 && (size_t)len == n &&
	    EVP_EncryptFinal_ex(cx, o + 16 + n, &len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, o + 16 + n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(cx);
	if (!ok) {
		free(o);
		return -1;
	}
	*out = o;
	*outn = 4 + 12 + n + 16;
	return 0;
}

int rp_ckpt_open(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn)
{
	const unsigned char *in = p;
	if (n < 32 || memcmp(in, "RPE1", 4))
		return -1;
	size_t cn = n - 32;
	unsigned char *o = rp_xmalloc(cn + 1);
	unsigned char tag[16];
	memcpy(tag, in + n - 16, 16);
	int len = 0, ok = 0;
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	if (cx && EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(cx, NULL, NULL, key, in + 4) == 1 &&
	    EVP_DecryptUpdate(cx, NULL, &len, (const unsigned char *)name, (int)strlen(name)) == 1 &&
	    EVP_DecryptUpdate(cx, o, &len, in + 16, (int)cn) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	    EVP_DecryptFinal_ex(cx, o + len, &len) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(cx);
	if (!ok) {
		OPENSSL_cleanse(o, cn);
		free(o);
		return -1;
	}
	*out = o;
	*outn = cn;
	return 0;
}

#define MF_TAIL ",\"manifest_sha256\":\""

char *rp_ckpt_manifest_seal(const char *json)
{
	size_t n = strlen(json);
	char sha[65];
	rp_sha256_hex(json, n, sha);
	while (n && json[n - 1] != '}')
		n--;
	return rp_xasprintf("%.*s" MF_TAIL "%s\"}", (int)(n ? n - 1 : 0), json, sha);
}

int rp_ckpt_manifest_check(const char *text, size_t n)
{
	size_t tl = strlen(MF_TAIL);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n < tl + 64 + 3 || text[0] != '{' || memcmp(text + n - 2, "\"}", 2))
		return -1;
	const char *h = text + n - 2 - 64;
	if (!is_hex64(h) || memcmp(h - tl, MF_TAIL, tl))
		return -1;
	size_t body = (size_t)(h - tl - text);
	char *orig = rp_xmalloc(body + 2);
	memcpy(orig, text, body);
	orig[body] = '}';
	orig[body + 1] = 0;
	char sha[65];
	rp_sha256_hex(orig, body + 1, sha);
	free(orig);
	return memcmp(sha, h, 64) ? -1 : 0;
}

int rp_ckpt_load_key(const struct rp_config *cfg, unsigned char key[32], char **err)
{
	const char *path = rp_cfg_str(cfg, "s3.encryption_key_file");
	*err = NULL;
	if (!path || !*path)
		return 0;
	char *s = rp_cfg_secret(cfg, "s3.encryption_key_file", NULL, err);
	if (!s)
		return -1;
	int ok = strlen(s) == 64;
	for (int i = 0; ok && i < 32; i++) {
		unsigned v;
		char two[3] = { s[2 * i], s[2 * i + 1], 0 };
		char *end;
		v = (unsigned)strtoul(two, &end, 16);
		if (*end || !((s[2 * i] >= '0' && s[2 * i] <= '9') || (s[2 * i] | 32) >= 'a'))
			ok = 0;
		key[i] = (unsigned char)v;
	}
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	if (!ok) {
		*err = rp_xasprintf("s3.encryption_key_file (%s): want 64 hex characters (32 random bytes)",
				    path);
		return -1;
	}
	return 1;
}

static int write_all(int fd, const void *p, size_t n)
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

static int spool_open(void)
{
	const char *t = getenv("TMPDIR");
	if (!t || !*t)
		t = "/tmp";
	int fd = open(t, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	char *p = rp_xasprintf("%s/rp-checkpoint.XXXXXX", t);
	fd = mkstemp(p);
	if (fd >= 0)
		unlink(p);
	free(p);
	return fd;
}

/* ---- a pool of workers with a progress bar ------------------------------- */

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t n, next, done;
	int active, failed, stop_on_err;
	int (*fn)(void *ctx, size_t i);
	void *ctx;
	const struct fent *f;
	long long bytes, total;
};

static void *pool_thread(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->next >= p->n || (p->stop_on_err && p->failed)) {
			p->active--;
			pthread_cond_signal(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		int r = p->fn(p->ctx, i);
		pthread_mutex_lock(&p->mu);
		p->done++;
		p->bytes += p->f[i].size;
		if (r)
			p->failed++;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static void draw(const char *label, const struct pool *p)
{
	int pct = p->total ? (int)(100.0 * (double)p->bytes / (double)p->total) : 100;
	fprintf(stderr, "\r%s: %s %zu/%zu files %lld/%lld MiB %3d%%", rp_prog, label, p->done, p->n,
		p->bytes >> 20, p->total >> 20, pct);
	fflush(stderr);
}

/* Run fn over n files with `threads` workers; returns the failure count. */
static int pool_run(int threads, const struct fent *f, size_t n, int (*fn)(void *, size_t),
		    void *ctx, int stop_on_err, int bar, const char *label)
{
	struct pool p = { .n = n, .fn = fn, .ctx = ctx, .f = f, .stop_on_err = stop_on_err };
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		p.total += f[i].size;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (threads > (int)n)
		threads = (int)n;
	pthread_t *t = rp_xcalloc((size_t)threads, sizeof *t);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 1u << 20);
	int started = 0;
	pthread_mutex_lock(&p.mu);
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], &at, pool_thread, &p) == 0)
			started++, p.active++;
	pthread_mutex_unlock(&p.mu);
	pthread_attr_destroy(&at);
	if (!started)
		rp_fatal(RP_EXIT_FAIL, "cannot start threads");
	pthread_mutex_lock(&p.mu);
	while (p.active > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		pthread_cond_timedwait(&p.cv, &p.mu, &ts);
		if (bar)
			draw(label, &p);
	}
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < threads; i++)
		if (i < started)
			pthread_join(t[i], NULL);
	if (bar)
		fprintf(stderr, "\r\033[K");
	free(t);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	/* Items never started (stop on error) count as failed too. */
	return p.failed + (int)(p.n - p.done);
}

/* ---- names present in the bucket ----------------------------------------- */

struct have {
	struct rp_s3_list l;
	size_t plen;
};

static int obj_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_s3_obj *)a)->key, ((const struct rp_s3_obj *)b)->key);
}

static int have_load(const struct rp_ckpt *c, const char *job, struct have *h, struct rp_s3_err *se)
{
	char *prefix = rp_xasprintf("%s/data/", job);
	h->plen = strlen(prefix);
	int r = rp_s3_list(c->s3, prefix, NULL, &h->l, se);
	free(prefix);
	if (r == 0 && h->l.n)
		qsort(h->l.objs, h->l.n, sizeof *h->l.objs, obj_cmp);
	return r;
}

static const struct rp_s3_obj *have_find(const struct have *h, const char *job, const char *obj)
{
	if (!h->l.n)
		return NULL;
	char *k = rp_xasprintf("%s/data/%s", job, obj);
	struct rp_s3_obj key = { .key = k };
	const struct rp_s3_obj *o = bsearch(&key, h->l.objs, h->l.n, sizeof *h->l.objs, obj_cmp);
	free(k);
	return o;
}

/* Sequence numbers of <job>/manifests/NNNNNNNNNN.json, newest first. */
static int list_seqs(const struct rp_ckpt *c, const char *job, long **seqs, size_t *n,
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

static char *mf_key(const char *job, long seq)
{
	return rp_xasprintf("%s/manifests/%010ld.json", job, seq);
}

/* ---- save ----------------------------------------------------------------- */

struct walk {
	struct fent *f;
	size_t n, cap;
	int err;
	char why[400];
};

static int walk_dir(struct walk *w, const char *root, const char *rel)
{
	char *path = rel ? rp_xasprintf("%s/%s", root, rel) : rp_xstrdup(root);
	DIR *d = opendir(path);
	if (!d) {
		snprintf(w->why, sizeof w->why, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *r = rel ? rp_xasprintf("%s/%s", rel, de->d_name) : rp_xstrdup(de->d_name);
		char *full = rp_xasprintf("%s/%s", root, r);
		struct stat st;
		if (strstr(de->d_name, ".rp-part-") || !rp_ckpt_safe_path(r)) {
			rp_logw("skipped (unsafe name)", "path", r);
		} else if (lstat(full, &st) < 0) {
			snprintf(w->why, sizeof w->why, "%s: %s", full, strerror(errno));
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk_dir(w, root, r);
		} else if (S_ISREG(st.st_mode)) {
			if (w->n == w->cap) {
				w->cap = w->cap ? 2 * w->cap : 64;
				w->f = rp_xrealloc(w->f, w->cap * sizeof *w->f);
			}
			struct fent *f = &w->f[w->n++];
			memset(f, 0, sizeof *f);
			f->path = r;
			r = NULL;
			f->size = st.st_size;
			f->mode = st.st_mode & 0777;
			f->is_key = rp_ckpt_is_key_path(f->path);
		} else {
			rp_logw("skipped (not a regular file)", "path", r);
		}
		free(r);
		free(full);
	}
	closedir(d);
	free(path);
	return rc;
}

static int fent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fent *)a)->path, ((const struct fent *)b)->path);
}

/* The stat cache: what the last save of this job and directory learnt of
 * each file, so an unchanged file (same device, inode, size, mtime and
 * ctime -- restic's rule) is not read again when its object is there.
 * One line per file: "dev ino size mtime ctime enc stored sha256 path". */
struct centry {
	unsigned long long dev, ino;
	long long size, stored, mt, ct; /* times in ns */
	int enc;
	char sha[65];
	char *path;
};

struct cache {
	struct centry *e;
	size_t n;
	char *file;
};

static int centry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct centry *)a)->path, ((const struct centry *)b)->path);
}

static char *cache_file(const char *job, const char *dir)
{
	char *abs = realpath(dir, NULL);
	char sha[65];
	rp_sha256_hex(abs ? abs : dir, strlen(abs ? abs : dir), sha);
	free(abs);
	sha[16] = 0;
	return rp_xasprintf("%s/checkpoint-cache/%s.%s", rp_state_dir(), job, sha);
}

static void cache_load(struct cache *c, const char *job, const char *dir)
{
	memset(c, 0, sizeof *c);
	c->file = cache_file(job, dir);
	size_t len;
	char *t = rp_read_file(c->file, 64u << 20, &len);
	if (!t)
		return;
	for (char *line = t, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = 0;
		struct centry e = { 0 };
		int pos = 0;
		if (sscanf(line, "%llu %llu %lld %lld %lld %d %lld %64s %n", &e.dev, &e.ino, &e.size, &e.mt,
			   &e.ct, &e.enc, &e.stored, e.sha, &pos) != 8 || !pos || strlen(e.sha) != 64 ||
		    !is_hex64(e.sha) || (e.enc != ENC_RAW && e.enc != ENC_ZSTD))
			continue;
		c->e = rp_xrealloc(c->e, (c->n + 1) * sizeof *c->e);
		e.path = rp_xstrdup(line + pos);
		c->e[c->n++] = e;
	}
	free(t);
	if (c->n)
		qsort(c->e, c->n, sizeof *c->e, centry_cmp);
}

static const struct centry *cache_find(const struct cache *c, const char *path)
{
	if (!c->n)
		return NULL;
	struct centry k = { .path = (char *)path };
	return bsearch(&k, c->e, c->n, sizeof *c->e, centry_cmp);
}

static long long ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void cache_free(struct cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->e[i].path);
	free(c->e);
	free(c->file);
	memset(c, 0, sizeof *c);
}

struct sctx {
	const struct rp_ckpt *c;
	const char *job, *dir;
	struct fent *f;
	struct have *have;
	struct cache *cache;
	struct stat *st;        /* per file, as hashed */
};

static void cache_save(const struct sctx *x, size_t n)
{
	struct rp_buf b = { 0 };
	rp_buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		const struct fent *f = &x->f[i];
		const struct stat *st = &x->st[i];
		if (f->is_key || f->code || strchr(f->path, '\n'))
			continue;
		rp_buf_addf(&b, "%llu %llu %lld %lld %lld %d %lld %s %s\n", (unsigned long long)st->st_dev,
			    (unsigned long long)st->st_ino, f->size, ns(st->st_mtim), ns(st->st_ctim), f->enc,
			    f->stored, f->sha, f->path);
	}
	char *d = rp_xstrdup(x->cache->file);
	*strrchr(d, '/') = 0;
	if (rp_mkdir_p(d, 0700) < 0 || rp_write_atomic(x->cache->file, b.data, b.len, 0600) < 0)
		rp_logw("could not write the stat cache", "file", x->cache->file, "error", strerror(errno));
	free(d);
	rp_buf_free(&b);
}

static int ferr(struct fent *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(struct fent *f, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof f->why, fmt, ap);
	va_end(ap);
	f->code = code;
	return -1;
}

static int fs3err(struct fent *f, const struct rp_s3_err *se)
{
	return ferr(f, se->temp ? RP_EXIT_TEMP : RP_EXIT_FAIL, "%s", se->msg);
}

static int compress_fd(int in, long long size, int out, long long *outn, char sha[65], char *why,
		       size_t whyn)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t obn = ZSTD_CStreamOutSize();
	unsigned char *ib = rp_xmalloc(IOBUF), *ob = rp_xmalloc(obn);
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	int rc = -1;
	long long off = 0;
	*outn = 0;
	if (!z || !h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1)
		goto out;
	ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(z, (unsigned long long)size);
	while (off < size) {
		size_t want = (size_t)(size - off < IOBUF ? size - off : IOBUF);
		ssize_t r = pread(in, ib, want, off);
		if (r <= 0) {
			snprintf(why, whyn, "read: %s", r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		off += r;
		ZSTD_EndDirective mode = off >= size ? ZSTD_e_end : ZSTD_e_continue;
		ZSTD_inBuffer zi = { ib, (size_t)r, 0 };
		size_t rem;
		do {
			ZSTD_outBuffer zo = { ob, obn, 0 };
			rem = ZSTD_compressStream2(z, &zo, &zi, mode);
			if (ZSTD_isError(rem)) {
				snprintf(why, whyn, "zstd: %s", ZSTD_getErrorName(rem));
				goto out;
			}
			if (zo.pos && (write_all(out, ob, zo.pos) < 0 || EVP_DigestUpdate(h, ob, zo.pos) != 1)) {
				snprintf(why, whyn, "spool: %s", strerror(errno));
				goto out;
			}
			*outn += (long long)zo.pos;
		} while (mode == ZSTD_e_end ? rem != 0 : zi.pos < zi.size);
	}
	unsigned char md[32];
	unsigned mdn = 0;
	EVP_DigestFinal_ex(h, md, &mdn);
	hexify(md, 32, sha);
	rc = 0;
out:
	EVP_MD_CTX_free(h);
	ZSTD_freeCCtx(z);
	free(ib);
	free(ob);
	return rc;
}

static int save_key(struct sctx *x, struct fent *f, int fd)
{
	if (f->size > (long long)KEY_CAP)
		return ferr(f, RP_EXIT_USAGE, "%s: a key file over 16 MiB", f->path);
	unsigned char *p = rp_xmalloc((size_t)f->size + 1);
	long long off = 0;
	while (off < f->size) {
		ssize_t r = pread(fd, p + off, (size_t)(f->size - off), off);
		if (r <= 0) {
			free(p);
			return ferr(f, RP_EXIT_FAIL, "%s: read: %s", f->path, r < 0 ? strerror(errno) : "file shrank");
		}
		off += r;
	}
	f->enc = ENC_AES;
	rp_ckpt_name_key(x->c->key, p, (size_t)f->size, f->sha);
	snprintf(f->obj, sizeof f->obj, "%s.enc", f->sha);
	const struct rp_s3_obj *o = have_find(x->have, x->job, f->obj);
	int rc = 0;
	if (o && o->size == f->size + 32) {
		f->stored = o->size;
	} else {
		unsigned char *sealed;
		size_t sn;
		if (rp_ckpt_seal(x->c->key, f->sha, p, (size_t)f->size, &sealed, &sn) < 0) {
			rc = ferr(f, RP_EXIT_FAIL, "%s: encryption failed", f->path);
		} else {
			char *k = rp_xasprintf("%s/data/%s", x->job, f->obj);
			struct rp_s3_err se;
			if (rp_s3_put_mem(x->c->s3, k, sealed, sn, 0, &se) < 0)
				rc = fs3err(f, &se);
			f->stored = (long long)sn;
			f->uploaded = 1;
			free(k);
			free(sealed);
		}
	}
	OPENSSL_cleanse(p, (size_t)f->size);
	free(p);
	return rc;
}

static int save_one(void *arg, size_t i)
{
	struct sctx *x = arg;
	struct fent *f = &x->f[i];
	char *path = rp_xasprintf("%s/%s", x->dir, f->path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return ferr(f, RP_EXIT_FAIL, "%s: %s", f->path, strerror(errno));
	struct stat st0, st1;
	fstat(fd, &st0);
	x->st[i] = st0;
	f->size = st0.st_size;
	int rc = 0;
	if (f->is_key) {
		rc = save_key(x, f, fd);
		goto done;
	}
	/* Unchanged since the last save and its object is there: no read. */
	const struct centry *ce = cache_find(x->cache, f->path);
	if (ce && ce->dev == (unsigned long long)st0.st_dev && ce->ino == (unsigned long long)st0.st_ino &&
	    ce->size == st0.st_size && ce->mt == ns(st0.st_mtim) && ce->ct == ns(st0.st_ctim)) {
		char name[72];
		snprintf(name, sizeof name, "%s%s", ce->sha, ce->enc == ENC_ZSTD ? ".zst" : "");
		const struct rp_s3_obj *o = have_find(x->have, x->job, name);
		if (o && o->size == ce->stored) {
			memcpy(f->sha, ce->sha, 65);
			snprintf(f->obj, sizeof f->obj, "%s", name);
			f->enc = ce->enc;
			f->stored = ce->stored;
			goto done;
		}
	}
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char *buf = rp_xmalloc(IOBUF);
	long long off = 0;
	int pays = 0;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	for (;;) {
		ssize_t r = pread(fd, buf, IOBUF, off);
		if (r < 0) {
			rc = ferr(f, RP_EXIT_FAIL, "%s: read: %s", f->path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (off == 0)
			pays = rp_ckpt_probe(buf, (size_t)r);
		EVP_DigestUpdate(h, buf, (size_t)r);
		off += r;
	}
	unsigned char md[32];
	unsigned mdn = 0;
	EVP_DigestFinal_ex(h, md, &mdn);
	EVP_MD_CTX_free(h);
	free(buf);
	if (rc)
		goto done;
	if (off != f->size) {
		rc = ferr(f, RP_EXIT_FAIL, "%s: changed while being saved", f->path);
		goto done;
	}
	hexify(md, 32, f->sha);
	char zname[72];
	snprintf(zname, sizeof zname, "%s.zst", f->sha);
	/* An object already there under the content address is referenced as
	 * it is, whoever put it (an earlier save, aws s3 cp) -- once its size
	 * shows it whole (servers like s3rver expose half-written objects). */
	const struct rp_s3_obj *oraw = have_find(x->have, x->job, f->sha);
	const struct rp_s3_obj *ozst = have_find(x->have, x->job, zname);
	if (oraw && oraw->size == f->size && (!pays || !ozst)) {
		f->enc = ENC_RAW;
		snprintf(f->obj, sizeof f->obj, "%s", f->sha);
		f->stored = oraw->size;
		goto done;
	}
	f->enc = pays ? ENC_ZSTD : ENC_RAW;
	snprintf(f->obj, sizeof f->obj, "%s", pays ? zname : f->sha);
	char *k = rp_xasprintf("%s/data/%s", x->job, f->obj);
	struct rp_s3_err se;
	if (!pays) {
		f->stored = f->size;
		if (rp_s3_put_fd(x->c->s3, k, fd, 0, f->size, f->sha, &se) < 0)
			rc = fs3err(f, &se);
		f->uploaded = 1;
	} else {
		/* Compressible files are small and cheap to squeeze: do it, and
		 * skip the upload when an object of that size is there. */
		int sp = spool_open();
		char ssha[65], why[200] = "";
		if (sp < 0) {
			rc = ferr(f, RP_EXIT_FAIL, "%s: temporary file: %s", f->path, strerror(errno));
		} else if (compress_fd(fd, f->size, sp, &f->stored, ssha, why, sizeof why) < 0) {
			rc = ferr(f, RP_EXIT_FAIL, "%s: %s", f->path, why);
		} else if (ozst && ozst->size == f->stored) {
			/* already there */
		} else if (rp_s3_put_fd(x->c->s3, k, sp, 0, f->stored, ssha, &se) < 0) {
			rc = fs3err(f, &se);
		} else {
			f->uploaded = 1;
		}
		if (sp >= 0)
			close(sp);
	}
	free(k);
done:
	if (!rc && (fstat(fd, &st1) < 0 || st1.st_size != st0.st_size ||
		    st1.st_mtim.tv_sec != st0.st_mtim.tv_sec || st1.st_mtim.tv_nsec != st0.st_mtim.tv_nsec))
		rc = ferr(f, RP_EXIT_FAIL, "%s: changed while being saved", f->path);
	close(fd);
	return rc;
}

static char *manifest_text(cJSON *m, long seq)
{
	cJSON_ReplaceItemInObject(m, "seq", cJSON_CreateNumber((double)seq));
	char *body = cJSON_PrintUnformatted(m);
	char *t = rp_ckpt_manifest_seal(body);
	cJSON_free(body);
	return t;
}

/* Claim the next sequence number.  0 and *seq, or -1 and e. */
static int claim(const struct rp_ckpt *c, const char *job, cJSON *m, long *seq, char **keyout,
		 struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	long next = 0;
	for (int tries = 0; tries < 25; tries++) {
		long *seqs;
		size_t n;
		if (list_seqs(c, job, &seqs, &n, &se) < 0) {
			s3_err(e, &se);
			return -1;
		}
		long s = n ? seqs[0] + 1 : 1;
		free(seqs);
		if (s < next)
			s = next;
		char *key = mf_key(job, s);
		char *text = manifest_text(m, s);
		size_t tl = strlen(text);
		long long sz;
		int r = rp_s3_head(c->s3, key, &sz, &se);
		if (r == 0)
			r = rp_s3_put_mem(c->s3, key, text, tl, 1, &se);
		else if (r == 1)
			r = 2; /* somebody is there already */
		if (r < 0) {
			free(key);
			free(text);
			s3_err(e, &se);
			return -1;
		}
		if (r == 0) {
			/* s3rver and old MinIO ignore If-None-Match: read back. */
			for (int k = 0; k < 2 && r == 0; k++) {
				char *back = NULL;
				size_t bl = 0;
				if (k)
					rp_sleep(0.1);
				if (rp_s3_get_mem(c->s3, key, MF_CAP, &back, &bl, &se) < 0) {
					free(key);
					free(text);
					s3_err(e, &se);
					return -1;
				}
				if (bl != tl || memcmp(back, text, tl))
					r = 3;
				free(back);
			}
		}
		free(text);
		if (r == 0) {
			*seq = s;
			*keyout = key;
			return 0;
		}
		rp_debug("sequence number taken, trying the next", "key", key,
			 "why", r == 1 ? "precondition failed" : r == 2 ? "exists" : "overwritten");
		free(key);
		next = s + 1;
		rp_sleep(0.01 * (double)(rand() % 10));
	}
	set_err(e, RP_EXIT_TEMP, 1, "%s: could not claim a manifest sequence number (too much contention)", job);
	return -1;
}

static void add_progress(cJSON *rec, const cJSON *progress, long long files)
{
	const cJSON *sc = progress ? cJSON_GetObjectItemCaseSensitive(progress, "segments_complete") : NULL;
	const cJSON *bl = progress ? cJSON_GetObjectItemCaseSensitive(progress, "bitrate_level") : NULL;
	cJSON_AddNumberToObject(rec, "segments", cJSON_IsNumber(sc) ? sc->valuedouble : (double)files);
	if (cJSON_IsNumber(sc))
		cJSON_AddNumberToObject(rec, "segments_complete", sc->valuedouble);
	if (bl && (cJSON_IsNumber(bl) || cJSON_IsString(bl)))
		cJSON_AddItemToObject(rec, "bitrate_level", cJSON_Duplicate(bl, 1));
	if (progress)
		cJSON_AddItemToObject(rec, "progress", cJSON_Duplicate(progress, 1));
}

static int first_failure(struct fent *f, size_t n, struct rp_ckpt_err *e, int queue)
{
	/* A temporary failure wins: the whole run is worth retrying. */
	struct fent *pick = NULL;
	for (size_t i = 0; i < n; i++)
		if (f[i].code && (!pick || (f[i].code == RP_EXIT_TEMP && pick->code != RP_EXIT_TEMP)))
			pick = &f[i];
	if (!pick)
		return 0;
	set_err(e, pick->code, queue && pick->code != RP_EXIT_USAGE, "%s", pick->why);
	return pick->code;
}

int rp_ckpt_save(const struct rp_ckpt *c, const char *job, const char *dir, const cJSON *progress,
		 cJSON **rec, struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (!rp_safe_name(job)) {
		set_err(e, RP_EXIT_USAGE, 0, "unsafe job id '%.100s': want [A-Za-z0-9._-], not . or ..", job);
		return e->code;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		set_err(e, RP_EXIT_USAGE, 0, "%s: not a directory", dir);
		return e->code;
	}
	struct walk w = { 0 };
	if (walk_dir(&w, dir, NULL) < 0) {
		fent_free(w.f, w.n);
		set_err(e, RP_EXIT_FAIL, 0, "%s", w.why);
		return e->code;
	}
	if (w.n)
		qsort(w.f, w.n, sizeof *w.f, fent_cmp);
	for (size_t i = 0; i < w.n; i++)
		if (w.f[i].is_key && !c->key) {
			set_err(e, RP_EXIT_USAGE, 0,
				"%s: DRM key in the checkpoint but no s3.encryption_key_file configured; refusing to store it in clear",
				w.f[i].path);
			fent_free(w.f, w.n);
			return e->code;
		}

	struct have have;
	struct rp_s3_err se;
	if (have_load(c, job, &have, &se) < 0) {
		fent_free(w.f, w.n);
		s3_err(e, &se);
		return e->code;
	}
	struct cache cache;
	cache_load(&cache, job, dir);
	struct sctx x = { c, job, dir, w.f, &have, &cache, rp_xcalloc(w.n + 1, sizeof(struct stat)) };
	double t0 = rp_mono();
	pool_run(c->s3->parallel, w.f, w.n, save_one, &x, 1, c->bar, "save");
	rp_s3_list_free(&have.l);
	if (first_failure(w.f, w.n, e, 1)) {
		cache_free(&cache);
		free(x.st);
		fent_free(w.f, w.n);
		return e->code;
	}
	cache_save(&x, w.n);
	cache_free(&cache);
	free(x.st);

	/* Every object is there: write the manifest. */
	cJSON *m = cJSON_CreateObject();
	char ts[40], writer[128], host[64] = "", rid[12];
	gethostname(host, sizeof host - 1);
	rp_rand_id(rid, 8);
	snprintf(writer, sizeof writer, "%s:%ld:%s", host, (long)getpid(), rid);
	cJSON_AddStringToObject(m, "format", FORMAT);
	cJSON_AddStringToObject(m, "job", job);
	cJSON_AddNumberToObject(m, "seq", 0);
	cJSON_AddStringToObject(m, "saved", rp_rfc3339(rp_now(), ts, sizeof ts));
	cJSON_AddStringToObject(m, "writer", writer);
	if (progress)
		cJSON_AddItemToObject(m, "progress", cJSON_Duplicate(progress, 1));
	long long bytes = 0, up = 0, upb = 0, stored = 0;
	cJSON *arr = cJSON_AddArrayToObject(m, "files");
	for (size_t i = 0; i < w.n; i++) {
		struct fent *f = &w.f[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", f->path);
		cJSON_AddNumberToObject(o, "size", (double)f->size);
		cJSON_AddNumberToObject(o, "mode", f->mode);
		cJSON_AddStringToObject(o, f->enc == ENC_AES ? "hmac" : "sha256", f->sha);
		cJSON_AddStringToObject(o, "enc", enc_names[f->enc]);
		cJSON_AddStringToObject(o, "obj", f->obj);
		cJSON_AddNumberToObject(o, "stored", (double)f->stored);
		cJSON_AddItemToArray(arr, o);
		bytes += f->size;
		stored += f->stored;
		if (f->uploaded)
			up++, upb += f->stored;
	}
	cJSON_AddNumberToObject(m, "bytes", (double)bytes);
	long seq;
	char *key;
	if (claim(c, job, m, &seq, &key, e) < 0) {
		cJSON_Delete(m);
		fent_free(w.f, w.n);
		return e->code;
	}
	cJSON_Delete(m);
	/* A hint for people and for delimiter listings (s3rver lists a job
	 * only through a key directly under it); never trusted by readers. */
	char *latest = rp_xasprintf("%s/LATEST", job), num[24];
	struct rp_s3_err le;
	snprintf(num, sizeof num, "%ld\n", seq);
	if (rp_s3_put_mem(c->s3, latest, num, strlen(num), 0, &le) < 0)
		rp_logw("could not update the LATEST hint", "key", latest, "error", le.msg);
	free(latest);
	cJSON *r = rp_rec_new("checkpoint");
	cJSON_AddStringToObject(r, "action", "save");
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddStringToObject(r, "key", key);
	cJSON_AddNumberToObject(r, "seq", (double)seq);
	cJSON_AddNumberToObject(r, "bytes", (double)bytes);
	add_progress(r, progress, (long long)w.n);
	cJSON_AddNumberToObject(r, "files", (double)w.n);
	cJSON_AddNumberToObject(r, "uploaded", (double)up);
	cJSON_AddNumberToObject(r, "uploaded_bytes", (double)upb);
	cJSON_AddNumberToObject(r, "stored_bytes", (double)stored);
	cJSON_AddNumberToObject(r, "seconds", (double)(long)((rp_mono() - t0) * 1000) / 1000.0);
	free(key);
	fent_free(w.f, w.n);
	*rec = r;
	return 0;
}

/* ---- reading a manifest ---------------------------------------------------- */

struct mf {
	long seq;
	cJSON *root;
	struct fent *f;
	size_t n;
	long long bytes;
	int has_keys;
};

static void mf_free(struct mf *m)
{
	cJSON_Delete(m->root);
	fent_free(m->f, m->n);
	memset(m, 0, sizeof *m);
}

static int mf_parse(const char *text, size_t len, const char *job, long seq, struct mf *m, char *why,
		    size_t whyn)
{
	memset(m, 0, sizeof *m);
	if (rp_ckpt_manifest_check(text, len) < 0) {
		snprintf(why, whyn, "manifest hash mismatch (tampered or truncated)");
		return -1;
	}
	m->root = cJSON_ParseWithLength(text, len);
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m->root, "format");
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(m->root, "job");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(m->root, "seq");
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(m->root, "files");
	if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, FORMAT) || !cJSON_IsString(j) ||
	    strcmp(j->valuestring, job) || !cJSON_IsNumber(s) || s->valuedouble != (double)seq ||
	    !cJSON_IsArray(files)) {
		snprintf(why, whyn, "not a %s manifest of job %s seq %ld", FORMAT, job, seq);
		goto bad;
	}
	m->seq = seq;
	m->n = (size_t)cJSON_GetArraySize(files);
	m->f = rp_xcalloc(m->n + 1, sizeof *m->f);
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, files) {
		struct fent *f = &m->f[i++];
		const char *p = rp_rec_str(o, "path"), *en = rp_rec_str(o, "enc"), *obj = rp_rec_str(o, "obj");
		double size = rp_rec_num(o, "size", -1), stored = rp_rec_num(o, "stored", -1);
		double mode = rp_rec_num(o, "mode", 0644);
		f->path = rp_xstrdup(p ? p : "");
		/* Numbers in range before they are converted (a cast out of
		 * range is undefined), and a total that cannot overflow. */
		if (!p || !rp_ckpt_safe_path(p) || !en || !obj || !(size >= 0 && size < 0x1p62) ||
		    !(stored >= 0 && stored < 0x1p62) || !(mode >= 0 && mode <= 07777) ||
		    (double)m->bytes + size >= 0x1p62) {
			snprintf(why, whyn, "bad entry %zu (%.200s)", i, p ? p : "?");
			goto bad;
		}
		f->enc = -1;
		for (int k = 0; k < 3; k++)
			if (!strcmp(en, enc_names[k]))
				f->enc = k;
		const char *h = rp_rec_str(o, f->enc == ENC_AES ? "hmac" : "sha256");
		static const char *sfx[] = { "", ".zst", ".enc" };
		if (f->enc < 0 || !h || strlen(h) != 64 || !is_hex64(h) || strlen(obj) != 64 + strlen(sfx[f->enc]) ||
		    strncmp(obj, h, 64) || strcmp(obj + 64, sfx[f->enc])) {
			snprintf(why, whyn, "bad entry %zu (%.200s)", i, p);
			goto bad;
		}
		memcpy(f->sha, h, 65);
		snprintf(f->obj, sizeof f->obj, "%s", obj);
		f->size = (long long)size;
		f->stored = (long long)stored;
		f->mode = (unsigned)mode & 0777;
		f->is_key = f->enc == ENC_AES;
		m->has_keys |= f->is_key;
		m->bytes += f->size;
	}
	return 0;
bad:
	for (char *q = why; *q; q++) /* one line, whatever the paths hold */
		if ((unsigned char)*q < 32)
			*q = ' ';
	mf_free(m);
	return -1;
}

/* Fetch, check and parse manifest seq; also check every object is listed
 * with its size.  0, or -1 with why (and *s3fail for a transport error). */
static int mf_load(const struct rp_ckpt *c, const char *job, long seq, const struct have *have,
		   struct mf *m, char *why, size_t whyn, struct rp_s3_err *se, int *s3fail)
{
	char *key = mf_key(job, seq);
	char *text = NULL;
	size_t len = 0;
	*s3fail = 0;
	if (rp_s3_get_mem(c->s3, key, MF_CAP, &text, &len, se) < 0) {
		free(key);
		*s3fail = se->status != 404;
		snprintf(why, whyn, "%s", se->msg);
		return -1;
	}
	free(key);
	int r = mf_parse(text, len, job, seq, m, why, whyn);
	free(text);
	if (r < 0 || !have)
		return r;
	for (size_t i = 0; i < m->n; i++) {
		/* zstd output may differ between library versions: its size is
		 * not checked here, its content is when it is read. */
		const struct rp_s3_obj *o = have_find(have, job, m->f[i].obj);
		if (!o || (m->f[i].enc != ENC_ZSTD && o->size != m->f[i].stored)) {
			snprintf(why, whyn, "%s/data/%s (%s): %s", job, m->f[i].obj, m->f[i].path,
				 o ? "wrong size (tampered)" : "missing");
			mf_free(m);
			return -1;
		}
	}
	return 0;
}

/* ---- fetch (restore and verify) ------------------------------------------- */

struct fetch {
	const struct rp_ckpt *c;
	struct fent *f;
	int fd;                   /* -1: discard */
	ZSTD_DCtx *z;
	EVP_MD_CTX *h;
	long long written;
	size_t zret;
	struct rp_buf mem;
	unsigned char *ob;
	size_t obn;
	int failed;
	char why[200];
};

static int fetch_out(struct fetch *x, const void *p, size_t n)
{
	x->written += (long long)n;
	if (x->written > x->f->size) {
		snprintf(x->why, sizeof x->why, "longer than recorded (tampered)");
		return -1;
	}
	if (x->fd >= 0 && write_all(x->fd, p, n) < 0) {
		snprintf(x->why, sizeof x->why, "write: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(x->h, p, n);
	return 0;
}

static size_t fetch_write(void *arg, const void *p, size_t n)
{
	struct fetch *x = arg;
	if (x->failed)
		return 0;
	if (x->f->enc == ENC_RAW) {
		if (fetch_out(x, p, n) < 0)
			goto fail;
	} else if (x->f->enc == ENC_ZSTD) {
		ZSTD_inBuffer zi = { p, n, 0 };
		for (;;) {
			ZSTD_outBuffer zo = { x->ob, x->obn, 0 };
			size_t r = ZSTD_decompressStream(x->z, &zo, &zi);
			if (ZSTD_isError(r)) {
				snprintf(x->why, sizeof x->why, "zstd: %s (tampered)", ZSTD_getErrorName(r));
				goto fail;
			}
			x->zret = r;
			if (zo.pos && fetch_out(x, x->ob, zo.pos) < 0)
				goto fail;
			if (zi.pos == zi.size && zo.pos < zo.size)
				break;
		}
	} else {
		if (x->mem.len + n > KEY_CAP + 64) {
			snprintf(x->why, sizeof x->why, "sealed key too large (tampered)");
			goto fail;
		}
		rp_buf_add(&x->mem, p, n);
	}
	return n;
fail:
	x->failed = 1;
	return 0;
}

static int fetch_reset(void *arg)
{
	struct fetch *x = arg;
	if (x->fd >= 0 && (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0))
		return -1;
	EVP_DigestInit_ex(x->h, EVP_sha256(), NULL);
	if (x->z)
		ZSTD_DCtx_reset(x->z, ZSTD_reset_session_only);
	x->written = 0;
	x->zret = 1;
	x->mem.len = 0;
	x->failed = 0;
	x->why[0] = 0;
	return 0;
}

static int fetch_failed(void *arg)
{
	return ((struct fetch *)arg)->failed;
}

/* Download one object into fd (or nowhere) and check it. */
static int fetch_one(const struct rp_ckpt *c, const char *job, struct fent *f, int fd)
{
	struct fetch x = { .c = c, .f = f, .fd = fd, .zret = 1 };
	x.h = EVP_MD_CTX_new();
	if (f->enc == ENC_ZSTD) {
		x.z = ZSTD_createDCtx();
		x.obn = ZSTD_DStreamOutSize();
		x.ob = rp_xmalloc(x.obn);
	}
	struct rp_s3_sink sink = { fetch_write, fetch_reset, fetch_failed, &x };
	char *key = rp_xasprintf("%s/data/%s", job, f->obj);
	struct rp_s3_err se;
	int rc = 0;
	if (rp_s3_get(c->s3, key, &sink, &se) < 0) {
		if (x.failed)
			rc = ferr(f, RP_EXIT_FAIL, "%s (%s): %s", key, f->path, x.why);
		else if (se.status == 404)
			rc = ferr(f, RP_EXIT_FAIL, "%s (%s): missing", key, f->path);
		else
			rc = fs3err(f, &se);
		goto out;
	}
	if (f->enc == ENC_ZSTD && x.zret != 0) {
		rc = ferr(f, RP_EXIT_FAIL, "%s (%s): truncated zstd frame (tampered)", key, f->path);
		goto out;
	}
	if (f->enc == ENC_AES) {
		unsigned char *plain;
		size_t pn;
		char name[65];
		if (rp_ckpt_open(c->key, f->sha, x.mem.data, x.mem.len, &plain, &pn) < 0) {
			rc = ferr(f, RP_EXIT_FAIL, "%s (%s): authentication failed (tampered, or another encryption key)",
				  key, f->path);
			goto out;
		}
		rp_ckpt_name_key(c->key, plain, pn, name);
		int bad = strcmp(name, f->sha) || (long long)pn != f->size;
		if (!bad && fd >= 0 && write_all(fd, plain, pn) < 0)
			rc = ferr(f, RP_EXIT_FAIL, "%s: write: %s", f->path, strerror(errno));
		OPENSSL_cleanse(plain, pn);
		free(plain);
		if (bad)
			rc = ferr(f, RP_EXIT_FAIL, "%s (%s): hmac mismatch (tampered)", key, f->path);
		goto out;
	}
	unsigned char md[32];
	unsigned mdn = 0;
	char sha[65];
	EVP_DigestFinal_ex(x.h, md, &mdn);
	hexify(md, 32, sha);
	if (x.written != f->size || strcmp(sha, f->sha))
		rc = ferr(f, RP_EXIT_FAIL, "%s (%s): sha256 mismatch (tampered)", key, f->path);
out:
	free(key);
	if (x.mem.data) {
		OPENSSL_cleanse(x.mem.data, x.mem.cap);
		rp_buf_free(&x.mem);
	}
	EVP_MD_CTX_free(x.h);
	ZSTD_freeDCtx(x.z);
	free(x.ob);
	return rc;
}

struct rctx {
	const struct rp_ckpt *c;
	const char *job, *dir;
	struct fent *f;
};

static int same_file(const char *path, const struct fent *f)
{
	if (f->is_key)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != f->size) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char *buf = rp_xmalloc(IOBUF), md[32];
	unsigned mdn = 0;
	ssize_t r;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	while ((r = read(fd, buf, IOBUF)) > 0)
		EVP_DigestUpdate(h, buf, (size_t)r);
	EVP_DigestFinal_ex(h, md, &mdn);
	EVP_MD_CTX_free(h);
	free(buf);
	close(fd);
	char sha[65];
	hexify(md, 32, sha);
	return r == 0 && !strcmp(sha, f->sha);
}

static int restore_one(void *arg, size_t i)
{
	struct rctx *x = arg;
	struct fent *f = &x->f[i];
	char *path = rp_xasprintf("%s/%s", x->dir, f->path);
	if (same_file(path, f)) {
		f->skipped = 1;
		free(path);
		return 0;
	}
	char *slash = strrchr(path, '/');
	*slash = 0;
	if (rp_mkdir_p(path, 0755) < 0) {
		int rc = ferr(f, RP_EXIT_FAIL, "%s: mkdir: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	*slash = '/';
	char rid[12];
	rp_rand_id(rid, 8);
	char *tmp = rp_xasprintf("%s.rp-part-%s", path, rid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc;
	if (fd < 0) {
		rc = ferr(f, RP_EXIT_FAIL, "%s: %s", tmp, strerror(errno));
	} else {
		rc = fetch_one(x->c, x->job, f, fd);
		if (!rc && fchmod(fd, f->is_key ? 0600 : f->mode) < 0)
			rc = ferr(f, RP_EXIT_FAIL, "%s: chmod: %s", tmp, strerror(errno));
		if (close(fd) < 0 && !rc)
			rc = ferr(f, RP_EXIT_FAIL, "%s: close: %s", tmp, strerror(errno));
		if (rc)
			unlink(tmp);
	}
	/* Renamed into place only once every file of the checkpoint is good. */
	if (!rc)
		f->tmp = tmp;
	else
		free(tmp);
	free(path);
	return rc;
}

/* All good: rename every downloaded file into place; else drop them all. */
static int restore_commit(const char *dir, struct fent *f, size_t n, int ok)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!f[i].tmp)
			continue;
		if (ok) {
			char *path = rp_xasprintf("%s/%s", dir, f[i].path);
			if (rename(f[i].tmp, path) < 0 && !rc)
				rc = ferr(&f[i], RP_EXIT_FAIL, "%s: rename: %s", path, strerror(errno));
			free(path);
		} else {
			unlink(f[i].tmp);
		}
		free(f[i].tmp);
		f[i].tmp = NULL;
	}
	return rc;
}

static int verify_one(void *arg, size_t i)
{
	struct rctx *x = arg;
	return fetch_one(x->c, x->job, &x->f[i], -1);
}

static int check_job(const char *job, struct rp_ckpt_err *e)
{
	if (rp_safe_name(job))
		return 0;
	set_err(e, RP_EXIT_USAGE, 0, "unsafe job id '%.100s': want [A-Za-z0-9._-], not . or ..", job);
	return -1;
}

/* Seqs and the data listing of a job. */
static int job_index(const struct rp_ckpt *c, const char *job, long at, long **seqs, size_t *n,
		     struct have *have, struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	if (list_seqs(c, job, seqs, n, &se) < 0) {
		s3_err(e, &se);
		e->queue = 0;
		return -1;
	}
	if (!*n) {
		set_err(e, RP_EXIT_FAIL, 0, "%s: no checkpoint", job);
		free(*seqs);
		return -1;
	}
	if (at >= 0) {
		size_t k = 0;
		for (size_t i = 0; i < *n; i++)
			if ((*seqs)[i] == at)
				k = 1;
		if (!k) {
			set_err(e, RP_EXIT_FAIL, 0, "%s: no manifest %ld", job, at);
			free(*seqs);
			return -1;
		}
		(*seqs)[0] = at;
		*n = 1;
	}
	if (have_load(c, job, have, &se) < 0) {
		s3_err(e, &se);
		e->queue = 0;
		free(*seqs);
		return -1;
	}
	return 0;
}

static cJSON *result_rec(const char *action, const char *job, const struct mf *m)
{
	cJSON *r = rp_rec_new("checkpoint");
	char *key = mf_key(job, m->seq);
	cJSON_AddStringToObject(r, "action", action);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddStringToObject(r, "key", key);
	cJSON_AddNumberToObject(r, "seq", (double)m->seq);
	cJSON_AddNumberToObject(r, "bytes", (double)m->bytes);
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(m->root, "progress");
	add_progress(r, cJSON_IsObject(pr) ? pr : NULL, (long long)m->n);
	cJSON_AddNumberToObject(r, "files", (double)m->n);
	const char *saved = rp_rec_str(m->root, "saved");
	if (saved)
		cJSON_AddStringToObject(r, "saved", saved);
	free(key);
	return r;
}

static int run_read(const struct rp_ckpt *c, const char *job, const char *dir, long at, int verify,
		    cJSON **rec, struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (check_job(job, e) < 0)
		return e->code;
	if (dir && rp_mkdir_p(dir, 0755) < 0) {
		set_err(e, RP_EXIT_FAIL, 0, "%s: %s", dir, strerror(errno));
		return e->code;
	}
	long *seqs;
	size_t n;
	struct have have;
	if (job_index(c, job, at, &seqs, &n, &have, e) < 0)
		return e->code;
	char first[600] = "";
	int code = RP_EXIT_FAIL;
	for (size_t k = 0; k < n; k++) {
		struct mf m;
		char why[500];
		struct rp_s3_err se;
		int s3fail;
		char *mkey = mf_key(job, seqs[k]);
		if (mf_load(c, job, seqs[k], &have, &m, why, sizeof why, &se, &s3fail) < 0) {
			if (s3fail) {
				s3_err(e, &se);
				e->queue = 0;
				free(mkey);
				code = e->code;
				goto out;
			}
			char msg[600];
			snprintf(msg, sizeof msg, "%s: %s", mkey, why);
			free(mkey);
			if (!first[0])
				snprintf(first, sizeof first, "%s", msg);
			if (!c->fallback || verify)
				break;
			rp_warn("%s; falling back to the previous checkpoint", msg);
			continue;
		}
		free(mkey);
		if (m.has_keys && !c->key) {
			set_err(e, RP_EXIT_USAGE, 0,
				"%s: the checkpoint holds encrypted DRM keys; set s3.encryption_key_file", job);
			mf_free(&m);
			code = e->code;
			goto out;
		}
		struct rctx x = { c, job, dir, m.f };
		pool_run(c->s3->parallel, m.f, m.n, verify ? verify_one : restore_one, &x, !verify,
			 c->bar, verify ? "verify" : "restore");
		int bad = 0, temp = 0;
		long long skipped = 0;
		if (!verify) {
			int good = 1;
			for (size_t i = 0; i < m.n; i++)
				good &= !m.f[i].code && (m.f[i].tmp || m.f[i].skipped);
			restore_commit(dir, m.f, m.n, good);
		}
		for (size_t i = 0; i < m.n; i++) {
			if (m.f[i].code) {
				bad++;
				temp |= m.f[i].code == RP_EXIT_TEMP;
				if (verify || bad == 1)
					rp_warn("%s", m.f[i].why);
			}
			skipped += m.f[i].skipped;
		}
		if (!bad) {
			*rec = result_rec(verify ? "verify" : "restore", job, &m);
			if (verify)
				cJSON_AddBoolToObject(*rec, "ok", 1);
			else
				cJSON_AddNumberToObject(*rec, "unchanged", (double)skipped);
			if (first[0])
				cJSON_AddStringToObject(*rec, "fell_back_from", first);
			mf_free(&m);
			code = 0;
			goto out;
		}
		if (temp || m.f[0].code == RP_EXIT_TEMP) {
			first_failure(m.f, m.n, e, 0);
			mf_free(&m);
			code = e->code;
			goto out;
		}
		char msg[600];
		struct fent *bf = NULL;
		for (size_t i = 0; i < m.n && !bf; i++)
			if (m.f[i].code)
				bf = &m.f[i];
		if (bf)
			snprintf(msg, sizeof msg, "seq %ld: %d bad object%s, first %s", m.seq, bad,
				 bad == 1 ? "" : "s", bf->why);
		else
			snprintf(msg, sizeof msg, "seq %ld: stopped", m.seq);
		mf_free(&m);
		if (!first[0])
			snprintf(first, sizeof first, "%s", msg);
		if (!c->fallback || verify)
			break;
		rp_warn("%s; falling back to the previous checkpoint", msg);
	}
	set_err(e, RP_EXIT_FAIL, 0, "%s: %s%s", job, first[0] ? first : "no valid checkpoint",
		(c->fallback && !verify && n > 1) ? " (and no older valid checkpoint)" : "");
	code = e->code;
out:
	free(seqs);
	rp_s3_list_free(&have.l);
	return code;
}

int rp_ckpt_restore(const struct rp_ckpt *c, const char *job, const char *dir, long at,
		    cJSON **rec, struct rp_ckpt_err *e)
{
	return run_read(c, job, dir, at, 0, rec, e);
}

int rp_ckpt_verify(const struct rp_ckpt *c, const char *job, long at, cJSON **rec,
		   struct rp_ckpt_err *e)
{
	return run_read(c, job, NULL, at, 1, rec, e);
}

/* ---- list and prune ----------------------------------------------------------- */

int rp_ckpt_list(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		 struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	memset(e, 0, sizeof *e);
	if (!job) {
		struct rp_s3_list l;
		if (rp_s3_list(c->s3, "", "/", &l, &se) < 0) {
			s3_err(e, &se);
			return e->code;
		}
		for (size_t i = 0; i < l.np; i++) {
			char *j = rp_xstrdup(l.prefixes[i]);
			size_t jl = strlen(j);
			if (jl && j[jl - 1] == '/')
				j[jl - 1] = 0;
			long *seqs;
			size_t n = 0;
			if (rp_safe_name(j) && list_seqs(c, j, &seqs, &n, &se) == 0) {
				cJSON *r = rp_rec_new("checkpoint");
				cJSON_AddStringToObject(r, "action", "list");
				cJSON_AddStringToObject(r, "job", j);
				cJSON_AddNumberToObject(r, "checkpoints", (double)n);
				if (n) {
					char *k = mf_key(j, seqs[0]);
					cJSON_AddNumberToObject(r, "seq", (double)seqs[0]);
					cJSON_AddStringToObject(r, "key", k);
					free(k);
				}
				free(seqs);
				emit(r);
			}
			free(j);
		}
		rp_s3_list_free(&l);
		return 0;
	}
	if (check_job(job, e) < 0)
		return e->code;
	long *seqs;
	size_t n;
	if (list_seqs(c, job, &seqs, &n, &se) < 0) {
		s3_err(e, &se);
		return e->code;
	}
	for (size_t k = n; k-- > 0;) {
		struct mf m;
		char why[500];
		int s3fail;
		if (mf_load(c, job, seqs[k], NULL, &m, why, sizeof why, &se, &s3fail) < 0) {
			if (s3fail) {
				s3_err(e, &se);
				free(seqs);
				return e->code;
			}
			cJSON *r = rp_rec_new("checkpoint");
			char *key = mf_key(job, seqs[k]);
			cJSON_AddStringToObject(r, "action", "list");
			cJSON_AddStringToObject(r, "job", job);
			cJSON_AddStringToObject(r, "key", key);
			cJSON_AddNumberToObject(r, "seq", (double)seqs[k]);
			cJSON_AddBoolToObject(r, "valid", 0);
			cJSON_AddStringToObject(r, "error", why);
			free(key);
			emit(r);
			continue;
		}
		cJSON *r = result_rec("list", job, &m);
		emit(r);
		mf_free(&m);
	}
	free(seqs);
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rp_ckpt_prune(const struct rp_ckpt *c, const char *job, int keep, cJSON **rec,
		  struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (check_job(job, e) < 0)
		return e->code;
	struct rp_s3_err se;
	long *seqs;
	size_t n;
	if (list_seqs(c, job, &seqs, &n, &se) < 0) {
		s3_err(e, &se);
		return e->code;
	}
	long dm = 0, dobj = 0;
	long long freed = 0;
	/* Manifests first: an object is only deleted once no manifest names it. */
	for (size_t k = (size_t)keep; k < n; k++) {
		char *key = mf_key(job, seqs[k]);
		int r = rp_s3_delete(c->s3, key, &se);
		free(key);
		if (r < 0) {
			s3_err(e, &se);
			free(seqs);
			return e->code;
		}
		dm++;
	}
	size_t kept = n < (size_t)keep ? n : (size_t)keep;
	char **ref = NULL;
	size_t nref = 0;
	int gc = 1;
	for (size_t k = 0; k < kept; k++) {
		struct mf m;
		char why[500];
		int s3fail;
		if (mf_load(c, job, seqs[k], NULL, &m, why, sizeof why, &se, &s3fail) < 0) {
			rp_warn("%s: seq %ld: %s; unreferenced objects are kept", job, seqs[k], why);
			gc = 0;
			break;
		}
		ref = rp_xrealloc(ref, (nref + m.n + 1) * sizeof *ref);
		for (size_t i = 0; i < m.n; i++)
			ref[nref++] = rp_xstrdup(m.f[i].obj);
		mf_free(&m);
	}
	free(seqs);
	if (gc && ref)
		qsort(ref, nref, sizeof *ref, str_cmp);
	struct have have;
	if (gc && have_load(c, job, &have, &se) == 0) {
		double now = rp_now();
		for (size_t i = 0; i < have.l.n; i++) {
			const struct rp_s3_obj *o = &have.l.objs[i];
			const char *name = o->key + have.plen;
			if (nref && bsearch(&name, ref, nref, sizeof *ref, str_cmp))
				continue;
			if (c->grace > 0 && (o->mtime == 0 || now - o->mtime < c->grace))
				continue;
			if (rp_s3_delete(c->s3, o->key, &se) < 0) {
				s3_err(e, &se);
				break;
			}
			dobj++;
			freed += o->size;
		}
		rp_s3_list_free(&have.l);
	} else if (gc) {
		s3_err(e, &se);
	}
	for (size_t i = 0; i < nref; i++)
		free(ref[i]);
	free(ref);
	if (e->code)
		return e->code;
	cJSON *r = rp_rec_new("checkpoint");
	cJSON_AddStringToObject(r, "action", "prune");
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddNumberToObject(r, "kept", (double)kept);
	cJSON_AddNumberToObject(r, "deleted_manifests", (double)dm);
	cJSON_AddNumberToObject(r, "deleted_objects", (double)dobj);
	cJSON_AddNumberToObject(r, "bytes", (double)freed);
	*rec = r;
	return 0;
}

/* ---- the retry queue ------------------------------------------------------------ */

static char *queue_dir(void)
{
	return rp_xasprintf("%s/checkpoint-queue", rp_state_dir());
}

int rp_ckpt_queue_add(const struct rp_ckpt *c, const char *job, const char *dir,
		      const cJSON *progress, const char *why)
{
	char *qd = queue_dir();
	char *abs = realpath(dir, NULL);
	char sha[65];
	if (!abs)
		abs = rp_xstrdup(dir);
	rp_sha256_hex(abs, strlen(abs), sha);
	sha[12] = 0;
	char *path = rp_xasprintf("%s/%s.%s.json", qd, job, sha);
	int rc = -1;
	if (rp_mkdir_p(qd, 0700) == 0) {
		cJSON *q = cJSON_CreateObject();
		char ts[40];
		int attempts = 0;
		size_t ol;
		char *old = rp_read_file(path, 1 << 20, &ol);
		cJSON *oj = old ? cJSON_Parse(old) : NULL;
		attempts = (int)rp_rec_num(oj, "attempts", 0);
		cJSON_Delete(oj);
		free(old);
		cJSON_AddStringToObject(q, "job", job);
		cJSON_AddStringToObject(q, "dir", abs);
		cJSON_AddStringToObject(q, "endpoint", c->s3->endpoint);
		cJSON_AddStringToObject(q, "bucket", c->s3->bucket);
		if (progress)
			cJSON_AddItemToObject(q, "progress", cJSON_Duplicate(progress, 1));
		cJSON_AddStringToObject(q, "queued", rp_rfc3339(rp_now(), ts, sizeof ts));
		cJSON_AddNumberToObject(q, "attempts", attempts + 1);
		cJSON_AddStringToObject(q, "error", why);
		char *t = cJSON_PrintUnformatted(q);
		rc = rp_write_atomic(path, t, strlen(t), 0600);
		cJSON_free(t);
		cJSON_Delete(q);
	}
	if (rc < 0)
		rp_warn("could not queue the save in %s: %s", qd, strerror(errno));
	free(path);
	free(abs);
	free(qd);
	return rc;
}

int rp_ckpt_retry(const struct rp_ckpt *c, void (*emit)(cJSON *rec), int *drained, int *left,
		  struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*drained = *left = 0;
	char *qd = queue_dir();
	DIR *d = opendir(qd);
	if (!d) {
		free(qd);
		return 0; /* nothing was ever queued */
	}
	char *lock = rp_xasprintf("%s/.lock", qd);
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		set_err(e, RP_EXIT_TEMP, 0, "%s: another retry is running", qd);
		if (lfd >= 0)
			close(lfd);
		closedir(d);
		free(qd);
		return e->code;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		names = rp_xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = rp_xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, str_cmp);
	int code = 0, stop = 0;
	for (size_t i = 0; i < n; i++) {
		char *path = rp_xasprintf("%s/%s", qd, names[i]);
		size_t len;
		char *text = stop ? NULL : rp_read_file(path, 1 << 20, &len);
		cJSON *q = text ? cJSON_Parse(text) : NULL;
		free(text);
		const char *job = rp_rec_str(q, "job"), *dir = rp_rec_str(q, "dir");
		if (stop) {
			(*left)++;
		} else if (!job || !dir) {
			rp_warn("%s: not a queued save; removed", path);
			unlink(path);
		} else {
			const cJSON *pr = cJSON_GetObjectItemCaseSensitive(q, "progress");
			cJSON *rec;
			struct rp_ckpt_err se;
			/* The same bucket as the failed save, on the configured
			 * endpoint: one stored in a queue file is never used (a
			 * planted file must not send our keys elsewhere). */
			struct rp_s3 s3 = *c->s3;
			struct rp_ckpt cc = *c;
			const char *bk = rp_rec_str(q, "bucket");
			if (bk && rp_s3_key_ok(bk) && !strchr(bk, '/'))
				s3.bucket = (char *)bk;
			cc.s3 = &s3;
			int r = rp_ckpt_save(&cc, job, dir, cJSON_IsObject(pr) ? pr : NULL, &rec, &se);
			if (r == 0) {
				unlink(path);
				cJSON_AddBoolToObject(rec, "retried", 1);
				cJSON_AddNumberToObject(rec, "attempts", rp_rec_num(q, "attempts", 0) + 1);
				emit(rec);
				(*drained)++;
			} else if (!se.queue) {
				rp_warn("%s: %s; dropped from the queue", names[i], se.msg);
				unlink(path);
				*e = se;
				code = RP_EXIT_FAIL;
			} else {
				rp_ckpt_queue_add(&cc, job, dir, cJSON_IsObject(pr) ? pr : NULL, se.msg);
				*e = se;
				(*left)++;
				if (se.code == RP_EXIT_TEMP) {
					code = RP_EXIT_TEMP;
					stop = 1; /* the server is still away: keep the rest for later */
				} else if (code != RP_EXIT_TEMP) {
					code = RP_EXIT_FAIL;
				}
			}
		}
		cJSON_Delete(q);
		free(path);
		free(names[i]);
	}
	free(names);
	close(lfd);
	free(qd);
	return code;
}

/* for the fuzzers */
int rp_ckpt_manifest_parse(const char *text, size_t len, const char *job, long seq, size_t *files,
			   long long *bytes, char *why, size_t whyn)
{
	struct mf m;
	if (mf_parse(text, len, job, seq, &m, why, whyn) < 0)
		return -1;
	*files = m.n;
	*bytes = m.bytes;
	mf_free(&m);
	return 0;
}
