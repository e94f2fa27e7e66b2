/* cksave.c — see cksave.h. */
#include "cksave.h"
#include "state.h"
#include "ckmanifest.h"
#include "ckpath.h"
#include "ckseal.h"
#include "log.h"
#include "pool.h"
#include "record.h"
#include "rp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zstd.h>

#define PROBE (64u << 10)

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

struct walk {
	struct rp_ckfile *f;
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
			struct rp_ckfile *f = &w->f[w->n++];
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

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rp_ckfile *)a)->path, ((const struct rp_ckfile *)b)->path);
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
	char *name = rp_xasprintf("%s.%s", job, sha);
	char *p = rp_state_path(RP_STATE_CKPT_CACHE, name);
	free(name);
	return p ? p : rp_xasprintf("%s/checkpoint-cache/-", rp_state_dir()); /* job ids are checked before */
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
		    !rp_ck_is_hex64(e.sha) || (e.enc != RP_CK_RAW && e.enc != RP_CK_ZSTD))
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

/* The two listings a save needs, taken on their own thread while the
 * files are opened and hashed: <job>/data/ (what is there already), then
 * <job>/manifests/ (the claim's first try); then the conditional-PUT
 * probe (how the claim goes). */
struct lister {
	const struct rp_ckpt *c;
	const char *job;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;               /* 0 under way, 1 listed, -1 failed (se) */
	struct rp_ckhave have;
	struct rp_s3_err se;
	long next;              /* newest manifest + 1; 0 when unknown */
	int cond;               /* the store honours If-None-Match (rp_ckmf_probe) */
};

static void *lister_run(void *arg)
{
	struct lister *ls = arg;
	struct rp_s3_err se;
	int ok = rp_ckhave_load(ls->c, ls->job, &ls->have, &se) == 0;
	pthread_mutex_lock(&ls->mu);
	ls->done = ok ? 1 : -1;
	if (!ok)
		ls->se = se;
	pthread_cond_broadcast(&ls->cv);
	pthread_mutex_unlock(&ls->mu);
	long *seqs;
	size_t n;
	if (ok && rp_ck_list_seqs(ls->c, ls->job, &seqs, &n, &se) == 0) {
		ls->next = n ? seqs[0] + 1 : 1;
		free(seqs);
	}
	if (ok)
		ls->cond = rp_ckmf_probe(ls->c, ls->job);
	return NULL;
}

/* The data listing, once it is there: NULL when it failed. */
static const struct rp_ckhave *have_wait(struct lister *ls)
{
	pthread_mutex_lock(&ls->mu);
	while (!ls->done)
		pthread_cond_wait(&ls->cv, &ls->mu);
	int done = ls->done;
	pthread_mutex_unlock(&ls->mu);
	return done > 0 ? &ls->have : NULL;
}

struct sctx {
	const struct rp_ckpt *c;
	const char *job, *dir;
	struct rp_ckfile *f;
	struct lister *ls;
	struct cache *cache;
	struct stat *st;        /* per file, as hashed */
	char *hit;              /* per file: taken from the stat cache, its object
				 * still to be found in the listing */
	int pass;               /* 2: only the hits the listing did not confirm */
};

/* A file's verdict when the data listing failed: rp_ckpt_save reports
 * the listing's own error instead. */
static int no_listing(struct rp_ckfile *f)
{
	return rp_ckfile_fail(f, RP_EXIT_TEMP, "%s: no listing of the data", f->path);
}

static void cache_save(const struct sctx *x, size_t n)
{
	struct rp_buf b = { 0 };
	rp_buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		const struct rp_ckfile *f = &x->f[i];
		const struct stat *st = &x->st[i];
		if (f->is_key || f->code || strchr(f->path, '\n'))
			continue;
		rp_buf_addf(&b, "%llu %llu %lld %lld %lld %d %lld %s %s\n", (unsigned long long)st->st_dev,
			    (unsigned long long)st->st_ino, f->size, ns(st->st_mtim), ns(st->st_ctim), f->enc,
			    f->stored, f->sha, f->path);
	}
	if (rp_state_mkdir_for(RP_STATE_CKPT_CACHE) < 0 ||
	    rp_write_atomic(x->cache->file, b.data, b.len, rp_state_mode(RP_STATE_CKPT_CACHE)) < 0)
		rp_logw("could not write the stat cache", "file", x->cache->file, "error", strerror(errno));
	rp_buf_free(&b);
}

static int compress_fd(int in, long long size, int out, long long *outn, char sha[65], char *why,
		       size_t whyn)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t obn = ZSTD_CStreamOutSize();
	unsigned char *ib = rp_xmalloc(RP_CK_IOBUF), *ob = rp_xmalloc(obn);
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
		size_t want = (size_t)(size - off < RP_CK_IOBUF ? size - off : RP_CK_IOBUF);
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
			if (zo.pos && (rp_ck_write_all(out, ob, zo.pos) < 0 || EVP_DigestUpdate(h, ob, zo.pos) != 1)) {
				snprintf(why, whyn, "spool: %s", strerror(errno));
				goto out;
			}
			*outn += (long long)zo.pos;
		} while (mode == ZSTD_e_end ? rem != 0 : zi.pos < zi.size);
	}
	unsigned char md[32];
	unsigned mdn = 0;
	EVP_DigestFinal_ex(h, md, &mdn);
	rp_ck_hex(md, 32, sha);
	rc = 0;
out:
	EVP_MD_CTX_free(h);
	ZSTD_freeCCtx(z);
	free(ib);
	free(ob);
	return rc;
}

static int save_key(struct sctx *x, struct rp_ckfile *f, int fd)
{
	if (f->size > (long long)RP_CK_KEY_CAP)
		return rp_ckfile_fail(f, RP_EXIT_USAGE, "%s: a key file over 16 MiB", f->path);
	unsigned char *p = rp_xmalloc((size_t)f->size + 1);
	long long off = 0;
	while (off < f->size) {
		ssize_t r = pread(fd, p + off, (size_t)(f->size - off), off);
		if (r <= 0) {
			free(p);
			return rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: read: %s", f->path, r < 0 ? strerror(errno) : "file shrank");
		}
		off += r;
	}
	f->enc = RP_CK_AES;
	rp_ckpt_name_key(x->c->key, p, (size_t)f->size, f->sha);
	snprintf(f->obj, sizeof f->obj, "%s.enc", f->sha);
	const struct rp_ckhave *have = have_wait(x->ls);
	if (!have) {
		OPENSSL_cleanse(p, (size_t)f->size);
		free(p);
		return no_listing(f);
	}
	const struct rp_s3_obj *o = rp_ckhave_find(have, x->job, f->obj);
	int rc = 0;
	if (o && o->size == f->size + 32) {
		f->stored = o->size;
	} else {
		unsigned char *sealed;
		size_t sn;
		if (rp_ckpt_seal(x->c->key, f->sha, p, (size_t)f->size, &sealed, &sn) < 0) {
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: encryption failed", f->path);
		} else {
			char *k = rp_ck_data_key(x->job, f->obj);
			struct rp_s3_err se;
			if (rp_s3_put_mem(x->c->s3, k, sealed, sn, 0, &se) < 0)
				rc = rp_ckfile_s3fail(f, &se);
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
	struct rp_ckfile *f = &x->f[i];
	if (x->pass == 2 && !x->hit[i])
		return 0;
	char *path = rp_xasprintf("%s/%s", x->dir, f->path);
	/* The walk's lstat saw a regular file: opened without following a
	 * link, and still a regular file (not swapped for a link or a FIFO). */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: %s", f->path,
				      errno == ELOOP ? "became a symbolic link (refused)" : strerror(errno));
	struct stat st0, st1;
	if (fstat(fd, &st0) < 0 || !S_ISREG(st0.st_mode)) {
		close(fd);
		return rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: not a regular file any more (refused)", f->path);
	}
	x->st[i] = st0;
	f->size = st0.st_size;
	int rc = 0;
	if (f->is_key) {
		rc = save_key(x, f, fd);
		goto done;
	}
	/* Unchanged since the last save: no read.  Its object must still be
	 * there; that is checked against the listing after this pass (the
	 * hits do not wait for it), and a miss comes back in a second pass. */
	const struct centry *ce = x->pass == 1 ? cache_find(x->cache, f->path) : NULL;
	if (ce && ce->dev == (unsigned long long)st0.st_dev && ce->ino == (unsigned long long)st0.st_ino &&
	    ce->size == st0.st_size && ce->mt == ns(st0.st_mtim) && ce->ct == ns(st0.st_ctim)) {
		memcpy(f->sha, ce->sha, 65);
		snprintf(f->obj, sizeof f->obj, "%s%s", ce->sha, ce->enc == RP_CK_ZSTD ? ".zst" : "");
		f->enc = ce->enc;
		f->stored = ce->stored;
		x->hit[i] = 1;
		goto done;
	}
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char *buf = rp_xmalloc(RP_CK_IOBUF);
	long long off = 0;
	int pays = 0;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	for (;;) {
		ssize_t r = pread(fd, buf, RP_CK_IOBUF, off);
		if (r < 0) {
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: read: %s", f->path, strerror(errno));
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
		rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: changed while being saved", f->path);
		goto done;
	}
	rp_ck_hex(md, 32, f->sha);
	char zname[72];
	snprintf(zname, sizeof zname, "%s.zst", f->sha);
	/* An object already there under the content address is referenced as
	 * it is, whoever put it (an earlier save, aws s3 cp) -- once its size
	 * shows it whole (servers like s3rver expose half-written objects). */
	const struct rp_ckhave *have = have_wait(x->ls);
	if (!have) {
		rc = no_listing(f);
		goto done;
	}
	const struct rp_s3_obj *oraw = rp_ckhave_find(have, x->job, f->sha);
	const struct rp_s3_obj *ozst = rp_ckhave_find(have, x->job, zname);
	if (oraw && oraw->size == f->size && (!pays || !ozst)) {
		f->enc = RP_CK_RAW;
		snprintf(f->obj, sizeof f->obj, "%s", f->sha);
		f->stored = oraw->size;
		goto done;
	}
	f->enc = pays ? RP_CK_ZSTD : RP_CK_RAW;
	snprintf(f->obj, sizeof f->obj, "%s", pays ? zname : f->sha);
	char *k = rp_ck_data_key(x->job, f->obj);
	struct rp_s3_err se;
	if (!pays) {
		f->stored = f->size;
		if (rp_s3_put_fd(x->c->s3, k, fd, 0, f->size, f->sha, &se) < 0)
			rc = rp_ckfile_s3fail(f, &se);
		f->uploaded = 1;
	} else {
		/* Compressible files are small and cheap to squeeze: do it, and
		 * skip the upload when an object of that size is there. */
		int sp = spool_open();
		char ssha[65], why[200] = "";
		if (sp < 0) {
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: temporary file: %s", f->path, strerror(errno));
		} else if (compress_fd(fd, f->size, sp, &f->stored, ssha, why, sizeof why) < 0) {
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: %s", f->path, why);
		} else if (ozst && ozst->size == f->stored) {
			/* already there */
		} else if (rp_s3_put_fd(x->c->s3, k, sp, 0, f->stored, ssha, &se) < 0) {
			rc = rp_ckfile_s3fail(f, &se);
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
		rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: changed while being saved", f->path);
	close(fd);
	return rc;
}

static int any_failed(const struct rp_ckfile *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].code)
			return 1;
	return 0;
}

int rp_ckpt_save(const struct rp_ckpt *c, const char *job, const char *dir, const cJSON *progress,
		 cJSON **rec, struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (rp_ckpt_check_job(job, e) < 0)
		return e->code;
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rp_ckpt_set_err(e, RP_EXIT_USAGE, 0, "%s: not a directory", dir);
		return e->code;
	}
	struct walk w = { 0 };
	if (walk_dir(&w, dir, NULL) < 0) {
		rp_ckfile_free(w.f, w.n);
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s", w.why);
		return e->code;
	}
	if (w.n)
		qsort(w.f, w.n, sizeof *w.f, file_cmp);
	for (size_t i = 0; i < w.n; i++)
		if (w.f[i].is_key && !c->key) {
			rp_ckpt_set_err(e, RP_EXIT_USAGE, 0,
				"%s: DRM key in the checkpoint but no s3.encryption_key_file configured; refusing to store it in clear",
				w.f[i].path);
			rp_ckfile_free(w.f, w.n);
			return e->code;
		}

	/* The listings go on while the files are opened and hashed. */
	struct lister ls = { .c = c, .job = job };
	pthread_mutex_init(&ls.mu, NULL);
	pthread_cond_init(&ls.cv, NULL);
	pthread_t lt;
	int threaded = pthread_create(&lt, NULL, lister_run, &ls) == 0;
	if (!threaded)
		lister_run(&ls);
	struct cache cache;
	cache_load(&cache, job, dir);
	struct sctx x = { c, job, dir, w.f, &ls, &cache, rp_xcalloc(w.n + 1, sizeof(struct stat)),
			  rp_xcalloc(w.n + 1, 1), 1 };
	double t0 = rp_mono();
	rp_ckpt_pool(c, w.f, w.n, save_one, &x, RP_POOL_STOP, "save");
	/* The stat cache's hits, against the listing: an object gone (or of
	 * another size) sends its file through a second pass, read in full. */
	size_t redo = 0;
	const struct rp_ckhave *have = have_wait(&ls);
	for (size_t i = 0; have && i < w.n; i++) {
		if (!x.hit[i] || w.f[i].code)
			continue;
		const struct rp_s3_obj *o = rp_ckhave_find(have, job, w.f[i].obj);
		x.hit[i] = !(o && o->size == w.f[i].stored);
		redo += x.hit[i];
	}
	if (have && redo && !any_failed(w.f, w.n)) {
		x.pass = 2;
		rp_ckpt_pool(c, w.f, w.n, save_one, &x, RP_POOL_STOP, "save");
	}
	if (threaded)
		pthread_join(lt, NULL);
	pthread_cond_destroy(&ls.cv);
	pthread_mutex_destroy(&ls.mu);
	free(x.hit);
	if (ls.done < 0) {
		cache_free(&cache);
		free(x.st);
		rp_ckfile_free(w.f, w.n);
		rp_ckpt_s3_err(e, &ls.se);
		return e->code;
	}
	rp_s3_list_free(&ls.have.l);
	if (rp_ckpt_first_failure(w.f, w.n, e, 1)) {
		cache_free(&cache);
		free(x.st);
		rp_ckfile_free(w.f, w.n);
		return e->code;
	}
	cache_save(&x, w.n);
	cache_free(&cache);
	free(x.st);

	/* Every object is there: write the manifest. */
	cJSON *m = rp_ckmf_build(job, progress, w.f, w.n);
	long long bytes = 0, up = 0, upb = 0, stored = 0;
	for (size_t i = 0; i < w.n; i++) {
		const struct rp_ckfile *f = &w.f[i];
		bytes += f->size;
		stored += f->stored;
		if (f->uploaded)
			up++, upb += f->stored;
	}
	long seq;
	char *key;
	if (rp_ckmf_claim(c, job, m, ls.next, ls.cond, &seq, &key, e) < 0) {
		cJSON_Delete(m);
		rp_ckfile_free(w.f, w.n);
		return e->code;
	}
	cJSON_Delete(m);
	/* A hint for people and for delimiter listings (s3rver lists a job
	 * only through a key directly under it); never trusted by readers. */
	char *latest = rp_ck_latest_key(job), num[24];
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
	rp_ckpt_add_progress(r, progress, (long long)w.n);
	cJSON_AddNumberToObject(r, "files", (double)w.n);
	cJSON_AddNumberToObject(r, "uploaded", (double)up);
	cJSON_AddNumberToObject(r, "uploaded_bytes", (double)upb);
	cJSON_AddNumberToObject(r, "stored_bytes", (double)stored);
	cJSON_AddNumberToObject(r, "seconds", (double)(long)((rp_mono() - t0) * 1000) / 1000.0);
	free(key);
	rp_ckfile_free(w.f, w.n);
	*rec = r;
	return 0;
}
