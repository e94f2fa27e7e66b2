/* ckmanifest.c — see ckmanifest.h. */
#include "ckmanifest.h"
#include "ckpath.h"
#include "ckseal.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

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

#define MF_SIG ",\"manifest_hmac\":\""

/* The length of text without trailing CR/LF and without a signature tail
 * (,"manifest_hmac":"<64 hex>"}); *sig points at the hex when there is one. */
static size_t sig_split(const char *text, size_t n, const char **sig)
{
	size_t sl = strlen(MF_SIG);
	*sig = NULL;
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	if (n < sl + 64 + 3 || memcmp(text + n - 2, "\"}", 2))
		return n;
	const char *h = text + n - 2 - 64;
	if (!rp_ck_is_hex64(h) || memcmp(h - sl, MF_SIG, sl))
		return n;
	*sig = h;
	return (size_t)(h - sl - text);
}

/* text[0..k) with its closing brace back (caller frees). */
static char *unsigned_text(const char *text, size_t k)
{
	char *t = rp_xmalloc(k + 2);
	memcpy(t, text, k);
	t[k] = '}';
	t[k + 1] = 0;
	return t;
}

char *rp_ckmf_sign(const char *text, const unsigned char jobkey[32])
{
	char mac[65];
	size_t n = strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	rp_ckpt_mac_hex(jobkey, text, n, mac);
	return rp_xasprintf("%.*s" MF_SIG "%s\"}", (int)(n ? n - 1 : 0), text, mac);
}

static int self_check(const char *text, size_t n);

int rp_ckpt_manifest_check(const char *text, size_t n)
{
	const char *sig;
	size_t k = sig_split(text, n, &sig);
	if (!sig)
		return self_check(text, k);
	char *t = unsigned_text(text, k);
	int r = self_check(t, k + 1);
	free(t);
	return r;
}

static int self_check(const char *text, size_t n)
{
	size_t tl = strlen(MF_TAIL);
	if (n < tl + 64 + 3 || text[0] != '{' || memcmp(text + n - 2, "\"}", 2))
		return -1;
	const char *h = text + n - 2 - 64;
	if (!rp_ck_is_hex64(h) || memcmp(h - tl, MF_TAIL, tl))
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

cJSON *rp_ckmf_build(const char *job, const cJSON *progress, const struct rp_ckfile *f, size_t n)
{
	cJSON *m = cJSON_CreateObject();
	char ts[40], writer[128], host[64] = "", rid[12];
	gethostname(host, sizeof host - 1);
	rp_rand_id(rid, 8);
	snprintf(writer, sizeof writer, "%s:%ld:%s", host, (long)getpid(), rid);
	cJSON_AddStringToObject(m, "format", RP_CK_FORMAT);
	cJSON_AddStringToObject(m, "job", job);
	cJSON_AddNumberToObject(m, "seq", 0);
	cJSON_AddStringToObject(m, "saved", rp_rfc3339(rp_now(), ts, sizeof ts));
	cJSON_AddStringToObject(m, "writer", writer);
	if (progress)
		cJSON_AddItemToObject(m, "progress", cJSON_Duplicate(progress, 1));
	long long bytes = 0;
	cJSON *arr = cJSON_AddArrayToObject(m, "files");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", f[i].path);
		cJSON_AddNumberToObject(o, "size", (double)f[i].size);
		cJSON_AddNumberToObject(o, "mode", f[i].mode);
		cJSON_AddStringToObject(o, f[i].enc == RP_CK_AES ? "hmac" : "sha256", f[i].sha);
		cJSON_AddStringToObject(o, "enc", rp_ck_enc_names[f[i].enc]);
		cJSON_AddStringToObject(o, "obj", f[i].obj);
		cJSON_AddNumberToObject(o, "stored", (double)f[i].stored);
		cJSON_AddItemToArray(arr, o);
		bytes += f[i].size;
	}
	cJSON_AddNumberToObject(m, "bytes", (double)bytes);
	return m;
}

char *rp_ckmf_text(cJSON *m, long seq)
{
	cJSON_ReplaceItemInObject(m, "seq", cJSON_CreateNumber((double)seq));
	char *body = cJSON_PrintUnformatted(m);
	char *t = rp_ckpt_manifest_seal(body);
	cJSON_free(body);
	return t;
}

/* Claim the next sequence number.  0 and *seq, or -1 and e. */
int rp_ckmf_probe(const struct rp_ckpt *c, const char *job)
{
	/* The first PUT makes the key exist (or meets it); a store that
	 * honours the header refuses the second, one that ignores it takes it. */
	char *key = rp_ck_probe_key(job);
	struct rp_s3_err se;
	int r = 0;
	for (int i = 0; i < 2 && r == 0; i++)
		r = rp_s3_put_mem(c->s3, key, "probe\n", 6, 1, &se);
	rp_debug("conditional PUT probe", "key", key,
		 "store", r == 1 ? "honours If-None-Match" : r == 0 ? "ignores If-None-Match" : se.msg);
	free(key);
	return r == 1;
}

int rp_ckmf_claim(const struct rp_ckpt *c, const char *job, cJSON *m, long guess, int cond, long *seq,
		  char **keyout, struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	long next = 0;
	for (int tries = 0; tries < 25; tries++) {
		long s;
		if (tries == 0 && guess > 0) {
			s = guess; /* listed while the data went up */
		} else {
			long *seqs;
			size_t n;
			if (rp_ck_list_seqs(c, job, &seqs, &n, &se) < 0) {
				rp_ckpt_s3_err(e, &se);
				return -1;
			}
			s = n ? seqs[0] + 1 : 1;
			free(seqs);
		}
		if (s < next)
			s = next;
		char *key = rp_ck_manifest_key(job, s);
		char *text = rp_ckmf_text(m, s);
		if (c->sign) {
			unsigned char jk[32];
			if (rp_ckpt_job_key(c->sign, job, jk) < 0) {
				free(key);
				free(text);
				rp_ckpt_set_err(e, RP_EXIT_FAIL, 0, "%s: cannot derive the job's signing key", job);
				return -1;
			}
			char *signed_text = rp_ckmf_sign(text, jk);
			OPENSSL_cleanse(jk, sizeof jk);
			free(text);
			text = signed_text;
		}
		size_t tl = strlen(text);
		long long sz;
		int r = cond ? 0 : rp_s3_head(c->s3, key, &sz, &se);
		if (r == 0)
			r = rp_s3_put_mem(c->s3, key, text, tl, 1, &se);
		else if (r == 1)
			r = 2; /* somebody is there already */
		if (r < 0) {
			free(key);
			free(text);
			rp_ckpt_s3_err(e, &se);
			return -1;
		}
		if (r == 0 && !cond) {
			/* s3rver and old MinIO ignore If-None-Match: a writer whose
			 * HEAD came before our PUT may still overwrite it.  Read it
			 * back once such a PUT would have landed.  (Overwrites are
			 * last-writer-wins and another writer's text is never ours,
			 * so one read after the pause sees any overwrite before it.) */
			char *back = NULL;
			size_t bl = 0;
			rp_sleep(0.1);
			if (rp_s3_get_mem(c->s3, key, RP_CK_MF_CAP, &back, &bl, &se) < 0) {
				free(key);
				free(text);
				rp_ckpt_s3_err(e, &se);
				return -1;
			}
			if (bl != tl || memcmp(back, text, tl))
				r = 3;
			free(back);
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
	rp_ckpt_set_err(e, RP_EXIT_TEMP, 1, "%s: could not claim a manifest sequence number (too much contention)", job);
	return -1;
}

void rp_ckpt_add_progress(cJSON *rec, const cJSON *progress, long long files)
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

/* ---- reading a manifest ---------------------------------------------------- */

void rp_ckmf_free(struct rp_ckmf *m)
{
	cJSON_Delete(m->root);
	rp_ckfile_free(m->f, m->n);
	memset(m, 0, sizeof *m);
}

static int parse_body(const char *text, size_t len, const char *job, long seq, struct rp_ckmf *m,
		      char *why, size_t whyn);

int rp_ckmf_parse_signed(const char *text, size_t len, const char *job, long seq,
			 const unsigned char *sign, struct rp_ckmf *m, char *why, size_t whyn)
{
	memset(m, 0, sizeof *m);
	const char *sig;
	size_t k = sig_split(text, len, &sig);
	if (!sig)
		return sign ? (snprintf(why, whyn, "unsigned manifest refused (s3.signing_key_file is set)"), -1)
			    : parse_body(text, len, job, seq, m, why, whyn);
	char *t = unsigned_text(text, k);
	if (sign) {
		unsigned char jk[32];
		char mac[65];
		int bad = rp_ckpt_job_key(sign, job, jk) < 0;
		if (!bad) {
			rp_ckpt_mac_hex(jk, t, k + 1, mac);
			bad = CRYPTO_memcmp(mac, sig, 64) != 0;
		}
		OPENSSL_cleanse(jk, sizeof jk);
		if (bad) {
			free(t);
			snprintf(why, whyn, "bad manifest signature (forged, or signed with another key)");
			return -1;
		}
	}
	int r = parse_body(t, k + 1, job, seq, m, why, whyn);
	free(t);
	return r;
}

int rp_ckmf_parse(const char *text, size_t len, const char *job, long seq, struct rp_ckmf *m,
		  char *why, size_t whyn)
{
	return rp_ckmf_parse_signed(text, len, job, seq, NULL, m, why, whyn);
}

static int parse_body(const char *text, size_t len, const char *job, long seq, struct rp_ckmf *m,
		      char *why, size_t whyn)
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
	if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, RP_CK_FORMAT) || !cJSON_IsString(j) ||
	    strcmp(j->valuestring, job) || !cJSON_IsNumber(s) || s->valuedouble != (double)seq ||
	    !cJSON_IsArray(files)) {
		snprintf(why, whyn, "not a %s manifest of job %s seq %ld", RP_CK_FORMAT, job, seq);
		goto bad;
	}
	m->seq = seq;
	m->n = (size_t)cJSON_GetArraySize(files);
	m->f = rp_xcalloc(m->n + 1, sizeof *m->f);
	size_t i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, files) {
		struct rp_ckfile *f = &m->f[i++];
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
			if (!strcmp(en, rp_ck_enc_names[k]))
				f->enc = k;
		const char *h = rp_rec_str(o, f->enc == RP_CK_AES ? "hmac" : "sha256");
		static const char *sfx[] = { "", ".zst", ".enc" };
		if (f->enc < 0 || !h || strlen(h) != 64 || !rp_ck_is_hex64(h) || strlen(obj) != 64 + strlen(sfx[f->enc]) ||
		    strncmp(obj, h, 64) || strcmp(obj + 64, sfx[f->enc])) {
			snprintf(why, whyn, "bad entry %zu (%.200s)", i, p);
			goto bad;
		}
		if (rp_ckpt_is_key_path(p) && f->enc != RP_CK_AES) {
			snprintf(why, whyn, "entry %zu (%.200s): a key path stored unsealed", i, p);
			goto bad;
		}
		memcpy(f->sha, h, 65);
		snprintf(f->obj, sizeof f->obj, "%s", obj);
		f->size = (long long)size;
		f->stored = (long long)stored;
		f->mode = (unsigned)mode & 0777; /* restore masks it further (ckfetch.h) */
		f->is_key = f->enc == RP_CK_AES;
		m->has_keys |= f->is_key;
		m->bytes += f->size;
	}
	return 0;
bad:
	for (char *q = why; *q; q++) /* one line, whatever the paths hold */
		if ((unsigned char)*q < 32)
			*q = ' ';
	rp_ckmf_free(m);
	return -1;
}

/* Fetch, check and parse manifest seq; also check every object is listed
 * with its size.  0, or -1 with why (and *s3fail for a transport error). */
int rp_ckmf_load(const struct rp_ckpt *c, const char *job, long seq, const struct rp_ckhave *have,
		 struct rp_ckmf *m, char *why, size_t whyn, struct rp_s3_err *se, int *s3fail)
{
	char *key = rp_ck_manifest_key(job, seq);
	char *text = NULL;
	size_t len = 0;
	*s3fail = 0;
	if (rp_s3_get_mem(c->s3, key, RP_CK_MF_CAP, &text, &len, se) < 0) {
		free(key);
		*s3fail = se->status != 404;
		snprintf(why, whyn, "%s", se->msg);
		return -1;
	}
	free(key);
	int r = rp_ckmf_parse_signed(text, len, job, seq, c->sign, m, why, whyn);
	free(text);
	if (r < 0 || !have)
		return r;
	for (size_t i = 0; i < m->n; i++) {
		/* zstd output may differ between library versions: its size is
		 * not checked here, its content is when it is read. */
		const struct rp_s3_obj *o = rp_ckhave_find(have, job, m->f[i].obj);
		if (!o || (m->f[i].enc != RP_CK_ZSTD && o->size != m->f[i].stored)) {
			char *k = rp_ck_data_key(job, m->f[i].obj);
			snprintf(why, whyn, "%s (%s): %s", k, m->f[i].path, o ? "wrong size (tampered)" : "missing");
			free(k);
			rp_ckmf_free(m);
			return -1;
		}
	}
	return 0;
}

cJSON *rp_ckmf_record(const char *action, const char *job, const struct rp_ckmf *m)
{
	cJSON *r = rp_rec_new("checkpoint");
	char *key = rp_ck_manifest_key(job, m->seq);
	cJSON_AddStringToObject(r, "action", action);
	cJSON_AddStringToObject(r, "job", job);
	cJSON_AddStringToObject(r, "key", key);
	cJSON_AddNumberToObject(r, "seq", (double)m->seq);
	cJSON_AddNumberToObject(r, "bytes", (double)m->bytes);
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(m->root, "progress");
	rp_ckpt_add_progress(r, cJSON_IsObject(pr) ? pr : NULL, (long long)m->n);
	cJSON_AddNumberToObject(r, "files", (double)m->n);
	const char *saved = rp_rec_str(m->root, "saved");
	if (saved)
		cJSON_AddStringToObject(r, "saved", saved);
	free(key);
	return r;
}

int rp_ckpt_manifest_parse(const char *text, size_t len, const char *job, long seq,
			   const unsigned char *sign, size_t *files, long long *bytes, char *why, size_t whyn)
{
	struct rp_ckmf m;
	if (rp_ckmf_parse_signed(text, len, job, seq, sign, &m, why, whyn) < 0)
		return -1;
	*files = m.n;
	*bytes = m.bytes;
	rp_ckmf_free(&m);
	return 0;
}
