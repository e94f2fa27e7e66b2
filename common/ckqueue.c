/* ckqueue.c — see ckqueue.h. */
#include "ckqueue.h"
#include "state.h"
#include "cksave.h"
#include "log.h"
#include "record.h"
#include "rp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *queue_dir(void)
{
	return rp_state_path(RP_STATE_CKPT_QUEUE, NULL);
}

/* The queue's one lock: <queue>/.lock, exclusive, not waiting (state.h's
 * rp_lock).  The descriptor (rp_unlock it), or -1 when another retry holds
 * it (or the lock file cannot be opened). */
static int queue_lock(void)
{
	char *lock = rp_state_path(RP_STATE_CKPT_QUEUE_LOCK, NULL);
	int fd = rp_lock(lock, RP_LOCK_EX, 0);
	free(lock);
	return fd;
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
	if (rp_state_mkdir_for(RP_STATE_CKPT_QUEUE) == 0) {
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
	int lfd = queue_lock();
	if (lfd < 0) {
		rp_ckpt_set_err(e, RP_EXIT_TEMP, 0, "%s: another retry is running", qd);
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
		qsort(names, n, sizeof *names, rp_ck_str_cmp);
	struct rp_exit ex = RP_EXIT_INIT(RP_EXIT_WHOLE);
	int stop = 0;
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
				rp_exit_add(&ex, RP_EXIT_OK);
				unlink(path);
				cJSON_AddBoolToObject(rec, "retried", 1);
				cJSON_AddNumberToObject(rec, "attempts", rp_rec_num(q, "attempts", 0) + 1);
				emit(rec);
				(*drained)++;
			} else if (!se.queue) {
				rp_warn("%s: %s; dropped from the queue", names[i], se.msg);
				unlink(path);
				*e = se;
				rp_exit_add(&ex, RP_EXIT_FAIL);
			} else {
				rp_ckpt_queue_add(&cc, job, dir, cJSON_IsObject(pr) ? pr : NULL, se.msg);
				*e = se;
				(*left)++;
				rp_exit_add(&ex, se.code == RP_EXIT_TEMP ? RP_EXIT_TEMP : RP_EXIT_FAIL);
				if (se.code == RP_EXIT_TEMP)
					stop = 1; /* the server is still away: keep the rest for later */
			}
		}
		cJSON_Delete(q);
		free(path);
		free(names[i]);
	}
	free(names);
	rp_unlock(lfd);
	free(qd);
	return rp_exit_code(&ex);
}

