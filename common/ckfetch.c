/* ckfetch.c — see ckfetch.h. */
#include "ckfetch.h"
#include "ckmanifest.h"
#include "ckseal.h"
#include "log.h"
#include "pool.h"
#include "record.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zstd.h>

struct fetch {
	const struct rp_ckpt *c;
	struct rp_ckfile *f;
	int fd;                   /* -1: discard */
	ZSTD_DCtx *z;
	EVP_MD_CTX *h;
	long long written;
	size_t zret;
	unsigned char hdr[18];      /* ZSTD_FRAMEHEADERSIZE_MAX */
	size_t hdrn;              /* zstd: header bytes seen, until checked */
	int hdr_ok;
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
	if (x->fd >= 0 && rp_ck_write_all(x->fd, p, n) < 0) {
		snprintf(x->why, sizeof x->why, "write: %s", strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(x->h, p, n);
	return 0;
}

static int zstd_feed(struct fetch *x, const void *p, size_t n)
{
	ZSTD_inBuffer zi = { p, n, 0 };
	for (;;) {
		ZSTD_outBuffer zo = { x->ob, x->obn, 0 };
		size_t r = ZSTD_decompressStream(x->z, &zo, &zi);
		if (ZSTD_isError(r)) {
			snprintf(x->why, sizeof x->why, "zstd: %s (tampered)", ZSTD_getErrorName(r));
			return -1;
		}
		x->zret = r;
		if (zo.pos && fetch_out(x, x->ob, zo.pos) < 0)
			return -1;
		if (zi.pos == zi.size && zo.pos < zo.size)
			return 0;
	}
}

static size_t fetch_write(void *arg, const void *p, size_t n)
{
	struct fetch *x = arg;
	if (x->failed)
		return 0;
	if (x->f->enc == RP_CK_RAW) {
		if (fetch_out(x, p, n) < 0)
			goto fail;
	} else if (x->f->enc == RP_CK_ZSTD) {
		/* The frame's content size is checked before a byte is written. */
		if (!x->hdr_ok) {
			size_t take = sizeof x->hdr - x->hdrn < n ? sizeof x->hdr - x->hdrn : n;
			memcpy(x->hdr + x->hdrn, p, take);
			x->hdrn += take;
			unsigned long long cs = ZSTD_getFrameContentSize(x->hdr, x->hdrn);
			if (cs == ZSTD_CONTENTSIZE_ERROR && x->hdrn < sizeof x->hdr)
				return n; /* held back until the header is whole */
			if (cs == ZSTD_CONTENTSIZE_ERROR || cs == ZSTD_CONTENTSIZE_UNKNOWN ||
			    cs != (unsigned long long)x->f->size) {
				snprintf(x->why, sizeof x->why,
					 "zstd frame content size is not the recorded size %lld (tampered)", x->f->size);
				goto fail;
			}
			x->hdr_ok = 1;
			size_t held = x->hdrn - take;
			if (held && zstd_feed(x, x->hdr, held) < 0)
				goto fail;
		}
		if (zstd_feed(x, p, n) < 0)
			goto fail;
	} else {
		if (x->mem.len + n > RP_CK_KEY_CAP + 64) {
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
	x->hdrn = 0;
	x->hdr_ok = 0;
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
static int fetch_one(const struct rp_ckpt *c, const char *job, struct rp_ckfile *f, int fd)
{
	struct fetch x = { .c = c, .f = f, .fd = fd, .zret = 1 };
	x.h = EVP_MD_CTX_new();
	if (f->enc == RP_CK_ZSTD) {
		x.z = ZSTD_createDCtx();
		x.obn = ZSTD_DStreamOutSize();
		x.ob = rp_xmalloc(x.obn);
	}
	struct rp_s3_sink sink = { fetch_write, fetch_reset, fetch_failed, &x };
	char *key = rp_ck_data_key(job, f->obj);
	struct rp_s3_err se;
	int rc = 0;
	if (rp_s3_get(c->s3, key, &sink, &se) < 0) {
		if (x.failed)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): %s", key, f->path, x.why);
		else if (se.status == 404)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): missing", key, f->path);
		else
			rc = rp_ckfile_s3fail(f, &se);
		goto out;
	}
	if (f->enc == RP_CK_ZSTD && x.zret != 0) {
		rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): truncated zstd frame (tampered)", key, f->path);
		goto out;
	}
	if (f->enc == RP_CK_AES) {
		unsigned char *plain;
		size_t pn;
		char name[65];
		if (rp_ckpt_open(c->key, f->sha, x.mem.data, x.mem.len, &plain, &pn) < 0) {
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): authentication failed (tampered, or another encryption key)",
				  key, f->path);
			goto out;
		}
		rp_ckpt_name_key(c->key, plain, pn, name);
		int bad = strcmp(name, f->sha) || (long long)pn != f->size;
		if (!bad && fd >= 0 && rp_ck_write_all(fd, plain, pn) < 0)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: write: %s", f->path, strerror(errno));
		OPENSSL_cleanse(plain, pn);
		free(plain);
		if (bad)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): hmac mismatch (tampered)", key, f->path);
		goto out;
	}
	unsigned char md[32];
	unsigned mdn = 0;
	char sha[65];
	EVP_DigestFinal_ex(x.h, md, &mdn);
	rp_ck_hex(md, 32, sha);
	if (x.written != f->size || strcmp(sha, f->sha))
		rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s (%s): sha256 mismatch (tampered)", key, f->path);
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
	struct rp_ckfile *f;
	int rootfd;               /* the target directory */
};

/* The directory holding rel under rootfd, walked one component at a time
 * with O_NOFOLLOW|O_DIRECTORY (made 0755 when mk): a symbolic link or a
 * non-directory anywhere on the path refuses.  Its fd and *base (the last
 * component), or -1 and errno. */
static int walk_parent(int rootfd, const char *rel, int mk, const char **base)
{
	int dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	const char *p = rel;
	while (dfd >= 0) {
		const char *slash = strchr(p, '/');
		if (!slash) {
			*base = p;
			return dfd;
		}
		char comp[256];
		size_t l = (size_t)(slash - p);
		if (l >= sizeof comp) {
			close(dfd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, l);
		comp[l] = 0;
		int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && mk) {
			if (mkdirat(dfd, comp, 0755) == 0 || errno == EEXIST)
				nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		int e = errno;
		close(dfd);
		errno = e;
		dfd = nfd;
		p = slash + 1;
	}
	return -1;
}

static const char *walk_why(int e)
{
	return e == ELOOP || e == ENOTDIR ? "a symbolic link or not a directory on the path (refused)" : strerror(e);
}

static int same_file(int pfd, const char *base, const struct rp_ckfile *f)
{
	if (f->is_key)
		return 0;
	int fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != f->size) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned char *buf = rp_xmalloc(RP_CK_IOBUF), md[32];
	unsigned mdn = 0;
	ssize_t r;
	EVP_DigestInit_ex(h, EVP_sha256(), NULL);
	while ((r = read(fd, buf, RP_CK_IOBUF)) > 0)
		EVP_DigestUpdate(h, buf, (size_t)r);
	EVP_DigestFinal_ex(h, md, &mdn);
	EVP_MD_CTX_free(h);
	free(buf);
	close(fd);
	char sha[65];
	rp_ck_hex(md, 32, sha);
	return r == 0 && !strcmp(sha, f->sha);
}

/* Restore writes only inside its target: the parent is walked without
 * following links, an existing symbolic link (or non-file) at the path is
 * refused, the temporary file is created O_EXCL|O_NOFOLLOW beside it. */
static int restore_one(void *arg, size_t i)
{
	struct rctx *x = arg;
	struct rp_ckfile *f = &x->f[i];
	const char *base;
	int pfd = walk_parent(x->rootfd, f->path, 1, &base);
	if (pfd < 0)
		return rp_ckfile_fail(f, RP_EXIT_FAIL, "%s/%s: %s", x->dir, f->path, walk_why(errno));
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
		close(pfd);
		return rp_ckfile_fail(f, RP_EXIT_FAIL, "%s/%s: %s (refused)", x->dir, f->path,
				      S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
	}
	if (same_file(pfd, base, f)) {
		f->skipped = 1;
		close(pfd);
		return 0;
	}
	char rid[12];
	rp_rand_id(rid, 8);
	char *tmp = rp_xasprintf("%s.rp-part-%s", base, rid);
	int fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc;
	if (fd < 0) {
		rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s/%s.rp-part-%s: %s", x->dir, f->path, rid, strerror(errno));
	} else {
		rc = fetch_one(x->c, x->job, f, fd);
		if (!rc && fchmod(fd, f->is_key ? 0600 : (f->mode & 0111) ? 0755 : 0644) < 0)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: chmod: %s", tmp, strerror(errno));
		if (close(fd) < 0 && !rc)
			rc = rp_ckfile_fail(f, RP_EXIT_FAIL, "%s: close: %s", tmp, strerror(errno));
		if (rc)
			unlinkat(pfd, tmp, 0);
	}
	/* Renamed into place only once every file of the checkpoint is good;
	 * f->tmp is the temporary file's last component. */
	if (!rc)
		f->tmp = tmp;
	else
		free(tmp);
	close(pfd);
	return rc;
}

/* All good: rename every downloaded file into place (renameat in its
 * directory, walked again without following links); else drop them all. */
static int restore_commit(int rootfd, const char *dir, struct rp_ckfile *f, size_t n, int ok)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!f[i].tmp)
			continue;
		const char *base;
		int pfd = walk_parent(rootfd, f[i].path, 0, &base);
		struct stat st;
		if (pfd < 0) {
			if (!rc)
				rc = rp_ckfile_fail(&f[i], RP_EXIT_FAIL, "%s/%s: %s", dir, f[i].path, walk_why(errno));
		} else if (!ok) {
			unlinkat(pfd, f[i].tmp, 0);
		} else if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			unlinkat(pfd, f[i].tmp, 0);
			if (!rc)
				rc = rp_ckfile_fail(&f[i], RP_EXIT_FAIL, "%s/%s: a symbolic link (refused)", dir, f[i].path);
		} else if (renameat(pfd, f[i].tmp, pfd, base) < 0) {
			unlinkat(pfd, f[i].tmp, 0);
			if (!rc)
				rc = rp_ckfile_fail(&f[i], RP_EXIT_FAIL, "%s/%s: rename: %s", dir, f[i].path, strerror(errno));
		}
		if (pfd >= 0)
			close(pfd);
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

/* Restore checks free space first: the checkpoint's bytes must fit. */
static int room_for(const char *dir, const char *job, const struct rp_ckmf *m, struct rp_ckpt_err *e)
{
	struct statvfs sv;
	if (statvfs(dir, &sv) < 0) {
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: statvfs: %s", dir, strerror(errno));
		return -1;
	}
	long double room = (long double)sv.f_bavail * (long double)sv.f_frsize;
	if ((long double)m->bytes > room) {
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: seq %ld needs %lld bytes, %s has %.0Lf free; nothing written",
				job, m->seq, m->bytes, dir, room);
		return -1;
	}
	return 0;
}

static int job_index(const struct rp_ckpt *c, const char *job, long at, long **seqs, size_t *n,
		     struct rp_ckhave *have, struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	if (rp_ck_list_seqs(c, job, seqs, n, &se) < 0) {
		rp_ckpt_s3_err(e, &se);
		e->queue = 0;
		return -1;
	}
	if (!*n) {
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: no checkpoint", job);
		free(*seqs);
		return -1;
	}
	if (at >= 0) {
		size_t k = 0;
		for (size_t i = 0; i < *n; i++)
			if ((*seqs)[i] == at)
				k = 1;
		if (!k) {
			rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: no manifest %ld", job, at);
			free(*seqs);
			return -1;
		}
		(*seqs)[0] = at;
		*n = 1;
	}
	if (rp_ckhave_load(c, job, have, &se) < 0) {
		rp_ckpt_s3_err(e, &se);
		e->queue = 0;
		free(*seqs);
		return -1;
	}
	return 0;
}

static int run_read(const struct rp_ckpt *c, const char *job, const char *dir, long at, int verify,
		    cJSON **rec, struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (rp_ckpt_check_job(job, e) < 0)
		return e->code;
	int rootfd = -1;
	if (dir && (rp_mkdir_p(dir, 0755) < 0 || (rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)) {
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: %s", dir, strerror(errno));
		return e->code;
	}
	long *seqs;
	size_t n;
	struct rp_ckhave have;
	if (job_index(c, job, at, &seqs, &n, &have, e) < 0) {
		if (rootfd >= 0)
			close(rootfd);
		return e->code;
	}
	char first[600] = "";
	int code = RP_EXIT_FAIL;
	for (size_t k = 0; k < n; k++) {
		struct rp_ckmf m;
		char why[500];
		struct rp_s3_err se;
		int s3fail;
		char *mkey = rp_ck_manifest_key(job, seqs[k]);
		if (rp_ckmf_load(c, job, seqs[k], &have, &m, why, sizeof why, &se, &s3fail) < 0) {
			if (s3fail) {
				rp_ckpt_s3_err(e, &se);
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
			rp_ckpt_set_err(e, RP_EXIT_USAGE, 0,
				"%s: the checkpoint holds encrypted DRM keys; set s3.encryption_key_file", job);
			rp_ckmf_free(&m);
			code = e->code;
			goto out;
		}
		if (dir && room_for(dir, job, &m, e) < 0) {
			rp_ckmf_free(&m);
			code = e->code;
			goto out;
		}
		struct rctx x = { c, job, dir, m.f, rootfd };
		rp_ckpt_pool(c, m.f, m.n, verify ? verify_one : restore_one, &x,
			     verify ? RP_POOL_ALL : RP_POOL_STOP, verify ? "verify" : "restore");
		int bad = 0, temp = 0;
		long long skipped = 0;
		if (!verify) {
			int good = 1;
			for (size_t i = 0; i < m.n; i++)
				good &= !m.f[i].code && (m.f[i].tmp || m.f[i].skipped);
			restore_commit(rootfd, dir, m.f, m.n, good);
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
			*rec = rp_ckmf_record(verify ? "verify" : "restore", job, &m);
			if (verify)
				cJSON_AddBoolToObject(*rec, "ok", 1);
			else
				cJSON_AddNumberToObject(*rec, "unchanged", (double)skipped);
			if (first[0])
				cJSON_AddStringToObject(*rec, "fell_back_from", first);
			rp_ckmf_free(&m);
			code = 0;
			goto out;
		}
		if (temp || m.f[0].code == RP_EXIT_TEMP) {
			rp_ckpt_first_failure(m.f, m.n, e, 0);
			rp_ckmf_free(&m);
			code = e->code;
			goto out;
		}
		char msg[600];
		struct rp_ckfile *bf = NULL;
		for (size_t i = 0; i < m.n && !bf; i++)
			if (m.f[i].code)
				bf = &m.f[i];
		if (bf)
			snprintf(msg, sizeof msg, "seq %ld: %d bad object%s, first %s", m.seq, bad,
				 bad == 1 ? "" : "s", bf->why);
		else
			snprintf(msg, sizeof msg, "seq %ld: stopped", m.seq);
		rp_ckmf_free(&m);
		if (!first[0])
			snprintf(first, sizeof first, "%s", msg);
		if (!c->fallback || verify)
			break;
		rp_warn("%s; falling back to the previous checkpoint", msg);
	}
	rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: %s%s", job, first[0] ? first : "no valid checkpoint",
		(c->fallback && !verify && n > 1) ? " (and no older valid checkpoint)" : "");
	code = e->code;
out:
	free(seqs);
	rp_s3_list_free(&have.l);
	if (rootfd >= 0)
		close(rootfd);
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

int rp_ckpt_verify_all(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		       struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	if (rp_ckpt_check_job(job, e) < 0)
		return e->code;
	long *seqs;
	size_t n;
	struct rp_s3_err se;
	if (rp_ck_list_seqs(c, job, &seqs, &n, &se) < 0) {
		rp_ckpt_s3_err(e, &se);
		e->queue = 0;
		return e->code;
	}
	if (!n) {
		free(seqs);
		rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: no checkpoint", job);
		return e->code;
	}
	int code = 0, bad = 0;
	for (size_t k = n; k-- > 0;) {
		cJSON *rec = NULL;
		struct rp_ckpt_err e1;
		int r = run_read(c, job, NULL, seqs[k], 1, &rec, &e1);
		if (r == 0) {
			emit(rec);
			continue;
		}
		bad++;
		rec = rp_rec_new("checkpoint");
		char *key = rp_ck_manifest_key(job, seqs[k]);
		cJSON_AddStringToObject(rec, "action", "verify");
		cJSON_AddStringToObject(rec, "job", job);
		cJSON_AddStringToObject(rec, "key", key);
		cJSON_AddNumberToObject(rec, "seq", (double)seqs[k]);
		cJSON_AddBoolToObject(rec, "ok", 0);
		cJSON_AddStringToObject(rec, "error", e1.msg);
		free(key);
		emit(rec);
		if (!code || (r == RP_EXIT_TEMP && code != RP_EXIT_TEMP)) {
			code = r;
			*e = e1;
		}
	}
	free(seqs);
	if (code) {
		char first[sizeof e->msg];
		snprintf(first, sizeof first, "%s", e->msg);
		rp_ckpt_set_err(e, code, 0, "%d of %zu manifests bad; first: %.500s", bad, n, first);
	}
	return code;
}
