/* cklist.c — see cklist.h. */
#include "cklist.h"
#include "ckmanifest.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>

int rp_ckpt_list(const struct rp_ckpt *c, const char *job, void (*emit)(cJSON *rec),
		 struct rp_ckpt_err *e)
{
	struct rp_s3_err se;
	memset(e, 0, sizeof *e);
	if (!job) {
		struct rp_s3_list l;
		if (rp_s3_list(c->s3, "", "/", &l, &se) < 0) {
			rp_ckpt_s3_err(e, &se);
			return e->code;
		}
		for (size_t i = 0; i < l.np; i++) {
			char *j = rp_xstrdup(l.prefixes[i]);
			size_t jl = strlen(j);
			if (jl && j[jl - 1] == '/')
				j[jl - 1] = 0;
			long *seqs;
			size_t n = 0;
			if (rp_safe_name(j) && rp_ck_list_seqs(c, j, &seqs, &n, &se) == 0) {
				cJSON *r = rp_rec_new("checkpoint");
				cJSON_AddStringToObject(r, "action", "list");
				cJSON_AddStringToObject(r, "job", j);
				cJSON_AddNumberToObject(r, "checkpoints", (double)n);
				if (n) {
					char *k = rp_ck_manifest_key(j, seqs[0]);
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
	if (rp_ckpt_check_job(job, e) < 0)
		return e->code;
	long *seqs;
	size_t n;
	if (rp_ck_list_seqs(c, job, &seqs, &n, &se) < 0) {
		rp_ckpt_s3_err(e, &se);
		return e->code;
	}
	for (size_t k = n; k-- > 0;) {
		struct rp_ckmf m;
		char why[500];
		int s3fail;
		if (rp_ckmf_load(c, job, seqs[k], NULL, &m, why, sizeof why, &se, &s3fail) < 0) {
			if (s3fail) {
				rp_ckpt_s3_err(e, &se);
				free(seqs);
				return e->code;
			}
			cJSON *r = rp_rec_new("checkpoint");
			char *key = rp_ck_manifest_key(job, seqs[k]);
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
		cJSON *r = rp_ckmf_record("list", job, &m);
		emit(r);
		rp_ckmf_free(&m);
	}
	free(seqs);
	return 0;
}


int rp_ckpt_prune(const struct rp_ckpt *c, const char *job, int keep, cJSON **rec,
		  struct rp_ckpt_err *e)
{
	memset(e, 0, sizeof *e);
	*rec = NULL;
	if (rp_ckpt_check_job(job, e) < 0)
		return e->code;
	struct rp_s3_err se;
	long *seqs;
	size_t n;
	if (rp_ck_list_seqs(c, job, &seqs, &n, &se) < 0) {
		rp_ckpt_s3_err(e, &se);
		return e->code;
	}
	long dm = 0, dobj = 0;
	long long freed = 0;
	/* Newest first: the first `keep` manifests that verify are kept, every
	 * later one that verifies is deleted; one that does not verify (forged,
	 * torn, signed with another key) is neither kept nor deleted, and then
	 * no object is deleted.  Manifests go before objects: an object is only
	 * deleted once no manifest names it. */
	size_t kept = 0;
	char **ref = NULL;
	size_t nref = 0;
	int gc = 1;
	for (size_t k = 0; k < n; k++) {
		struct rp_ckmf m;
		char why[500];
		int s3fail = 0;
		if (rp_ckmf_load(c, job, seqs[k], NULL, &m, why, sizeof why, &se, &s3fail) < 0) {
			if (s3fail) {
				rp_ckpt_s3_err(e, &se);
				break;
			}
			rp_warn("%s: seq %ld: %s; neither kept nor deleted, unreferenced objects are kept", job, seqs[k],
				why);
			gc = 0;
			continue;
		}
		if (kept < (size_t)keep) {
			kept++;
			ref = rp_xrealloc(ref, (nref + m.n + 1) * sizeof *ref);
			for (size_t i = 0; i < m.n; i++)
				ref[nref++] = rp_xstrdup(m.f[i].obj);
			rp_ckmf_free(&m);
			continue;
		}
		rp_ckmf_free(&m);
		char *key = rp_ck_manifest_key(job, seqs[k]);
		int r = rp_s3_delete(c->s3, key, &se);
		free(key);
		if (r < 0) {
			rp_ckpt_s3_err(e, &se);
			break;
		}
		dm++;
	}
	if (e->code)
		gc = 0;
	free(seqs);
	if (gc && ref)
		qsort(ref, nref, sizeof *ref, rp_ck_str_cmp);
	struct rp_ckhave have;
	if (gc && rp_ckhave_load(c, job, &have, &se) == 0) {
		double now = rp_now();
		for (size_t i = 0; i < have.l.n; i++) {
			const struct rp_s3_obj *o = &have.l.objs[i];
			const char *name = o->key + have.plen;
			if (nref && bsearch(&name, ref, nref, sizeof *ref, rp_ck_str_cmp))
				continue;
			if (c->grace > 0 && (o->mtime == 0 || now - o->mtime < c->grace))
				continue;
			if (rp_s3_delete(c->s3, o->key, &se) < 0) {
				rp_ckpt_s3_err(e, &se);
				break;
			}
			dobj++;
			freed += o->size;
		}
		rp_s3_list_free(&have.l);
	} else if (gc) {
		rp_ckpt_s3_err(e, &se);
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
