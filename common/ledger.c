/* ledger.c — append under the state lock + fsync; tolerant reader. */
#include "ledger.h"
#include "config.h"
#include "fleet.h"
#include "fleetlog.h"
#include "record.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *rp_ledger_path(void)
{
	static _Thread_local char path[4096];
	char *p = rp_state_path(RP_STATE_LEDGER, NULL);
	snprintf(path, sizeof path, "%s", p);
	free(p);
	return path;
}

cJSON *rp_ledger_event(const char *event)
{
	cJSON *r = rp_rec_new("ledger");
	cJSON_AddStringToObject(r, "event", event);
	return r;
}

int rp_ledger_append(cJSON *rec, char **err)
{
	*err = NULL;
	if (!cJSON_GetObjectItemCaseSensitive(rec, "ts")) {
		char ts[40];
		cJSON_AddStringToObject(rec, "ts", rp_rfc3339(rp_now(), ts, sizeof ts));
	}
	if (rp_state_mkdir_for(RP_STATE_LEDGER) < 0) {
		*err = rp_xasprintf("unable to create state dir %s: %s", rp_state_dir(), strerror(errno));
		return -1;
	}
	/* Replicated (fleetlog.h): the shared store first; a line it did not
	 * take is written here all the same and queued for it. */
	char *ferr = NULL;
	int shared = rp_fleetlog_publish(rec, &ferr);
	const char *path = rp_ledger_path();
	char *line = cJSON_PrintUnformatted(rec);
	if (!line)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	size_t n = strlen(line);
	line = rp_xrealloc(line, n + 2);
	line[n++] = '\n';
	line[n] = 0;
	int fd = rp_lock(path, RP_LOCK_EX | RP_LOCK_APPEND | RP_LOCK_GROUP, -1);
	if (fd < 0) {
		*err = rp_xasprintf("unable to open or lock ledger %s: %s", path, strerror(errno));
		free(line);
		free(ferr);
		return -1;
	}
	int rc = -1;
	/* A torn line left by a writer that crashed mid-write was never
	 * synced, so its caller never went on: cut it off (we hold the lock)
	 * rather than glue our line onto it. */
	off_t end = lseek(fd, 0, SEEK_END);
	if (end > 0) {
		char last;
		if (pread(fd, &last, 1, end - 1) == 1 && last != '\n') {
			off_t cut = end - 1;
			char c;
			while (cut > 0 && pread(fd, &c, 1, cut - 1) == 1 && c != '\n')
				cut--;
			fprintf(stderr, "%s: warning: ledger %s: dropping a torn last line (%lld bytes)\n",
				rp_prog, path, (long long)(end - cut));
			if (ftruncate(fd, cut) < 0) {
				*err = rp_xasprintf("unable to repair ledger %s: %s", path, strerror(errno));
				goto out;
			}
			end = cut;
		}
	}
	ssize_t w = write(fd, line, n);
	if (w != (ssize_t)n) {
		int e = w < 0 ? errno : ENOSPC;
		/* Cut back a partial line so the ledger stays parseable. */
		if (w > 0 && ftruncate(fd, end) < 0) {
			/* nothing more we can do; the reader tolerates it */
		}
		*err = rp_xasprintf("unable to write ledger %s: %s", path, strerror(e));
		goto out;
	}
	if (fsync(fd) < 0) {
		*err = rp_xasprintf("unable to sync ledger %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	rp_unlock(fd);
	free(line);
	if (rc == 0 && shared < 0) { /* durable here, not yet shared: EAGAIN */
		*err = ferr;
		errno = EAGAIN;
		return -1;
	}
	free(ferr);
	return rc;
}

int rp_ledger_read(const char *path, rp_ledger_cb cb, void *arg, long *torn, char **err)
{
	*err = NULL;
	if (torn)
		*torn = 0;
	if (!path)
		path = rp_ledger_path();
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		*err = rp_xasprintf("unable to read ledger %s: %s", path, strerror(errno));
		return -1;
	}
	int rc = rp_ledger_fread(f, path, cb, arg, torn, err);
	fclose(f);
	return rc;
}

int rp_ledger_fread(FILE *f, const char *path, rp_ledger_cb cb, void *arg, long *torn, char **err)
{
	*err = NULL;
	if (torn)
		*torn = 0;
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	long line = 0, bad = 0;
	int rc = 0;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		line++;
		int complete = n > 0 && buf[n - 1] == '\n';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = 0;
		if (!n)
			continue;
		if (bad) { /* a bad line followed by more lines: not a torn tail */
			*err = rp_xasprintf("%s:%ld: malformed ledger line", path, bad);
			rc = -1;
			break;
		}
		cJSON *o = cJSON_Parse(buf);
		if (!cJSON_IsObject(o)) {
			cJSON_Delete(o);
			bad = line;
			(void)complete;
			continue;
		}
		int stop = cb(o, line, arg);
		cJSON_Delete(o);
		if (stop)
			break;
	}
	if (!rc && ferror(f)) {
		*err = rp_xasprintf("unable to read ledger %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (!rc && bad && torn)
		*torn = bad;
	free(buf);
	return rc;
}

static int spot_cb(const cJSON *rec, long line, void *arg)
{
	cJSON *m = arg;
	(void)line;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rec, "event");
	if (!cJSON_IsString(id) || !*id->valuestring || !cJSON_IsString(ev))
		return 0;
	cJSON *o = cJSON_GetObjectItemCaseSensitive(m, id->valuestring);
	if (!o) {
		if (strcmp(ev->valuestring, "launched") || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "spot")))
			return 0;
		o = cJSON_AddObjectToObject(m, id->valuestring);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
		cJSON_AddStringToObject(o, "name", cJSON_IsString(name) ? name->valuestring : "");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "event");
	cJSON_AddStringToObject(o, "event", ev->valuestring);
	return 0;
}

cJSON *rp_ledger_spot_pods(const char *path, char **err)
{
	cJSON *m = cJSON_CreateObject();
	long torn;
	if (rp_ledger_read(path, spot_cb, m, &torn, err) < 0) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* ---- ours per the ledger ------------------------------------------------------ */

/* {"ids": {id: {name, cluster, event, node}}, "names": {name: {cluster, id}}} */
static int launches_cb(const cJSON *rec, long line, void *arg)
{
	cJSON *ids = cJSON_GetObjectItemCaseSensitive(arg, "ids"), *names = cJSON_GetObjectItemCaseSensitive(arg, "names");
	const char *ev = rp_rec_str(rec, "event"), *id = rp_rec_str(rec, "id"), *name = rp_rec_str(rec, "name");
	const char *cl = rp_rec_str(rec, "cluster");
	(void)line;
	if (!ev)
		return 0;
	if (id && !*id)
		id = NULL;
	if (name && !*name)
		name = NULL;
	if (!strcmp(ev, "launching") && name && !cJSON_GetObjectItemCaseSensitive(names, name)) {
		cJSON *o = cJSON_AddObjectToObject(names, name);
		if (cl)
			cJSON_AddStringToObject(o, "cluster", cl);
		return 0;
	}
	if (!id)
		return 0;
	cJSON *o = cJSON_GetObjectItemCaseSensitive(ids, id);
	if (!strcmp(ev, "launched") && !o && name) {
		o = cJSON_AddObjectToObject(ids, id);
		cJSON_AddStringToObject(o, "name", name);
		if (cl)
			cJSON_AddStringToObject(o, "cluster", cl);
		cJSON *nm = cJSON_GetObjectItemCaseSensitive(names, name);
		if (!nm)
			nm = cJSON_AddObjectToObject(names, name);
		cJSON_DeleteItemFromObjectCaseSensitive(nm, "id");
		cJSON_AddStringToObject(nm, "id", id);
	}
	if (!o)
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(o, "event");
	cJSON_AddStringToObject(o, "event", ev);
	const char *node = rp_rec_str(rec, "node");
	if (node && *node && (!strcmp(ev, "joined") || !strcmp(ev, "join_failed"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "node");
		cJSON_AddStringToObject(o, "node", node);
	}
	return 0;
}

cJSON *rp_ledger_launches(const char *path, char **err)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddObjectToObject(m, "ids");
	cJSON_AddObjectToObject(m, "names");
	long torn;
	if (rp_ledger_read(path, launches_cb, m, &torn, err) < 0) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* A launch line of ours: a name of ours and, when it says one, our cluster. */
static int launched_here(const struct rp_config *cfg, const char *name, const cJSON *e, char *why, size_t n)
{
	const char *cl = rp_rec_str(e, "cluster"), *ours = rp_cfg_str(cfg, "cluster");
	if (!rp_fleet_is_ours(cfg, name)) {
		char *prefix = rp_fleet_prefix(cfg);
		snprintf(why, n, "the ledger launched it as '%s', not under %s", name, prefix);
		free(prefix);
		return 0;
	}
	if (cl && strcmp(cl, ours ? ours : "")) {
		snprintf(why, n, "the ledger says cluster '%s' launched it, not '%s'", cl, ours ? ours : "");
		return 0;
	}
	return 1;
}

int rp_ledger_ours(const cJSON *launches, const struct rp_config *cfg, const char *id, const char *name,
		   const char *node, const char **ln, const char **last, char *why, size_t n)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(launches, "ids");
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(launches, "names");
	const cJSON *e = id ? cJSON_GetObjectItemCaseSensitive(ids, id) : NULL;
	const char *lname = rp_rec_str(e, "name");
	if (ln)
		*ln = NULL;
	if (last)
		*last = NULL;
	if (e) {
		if (name && strcmp(name, lname)) {
			snprintf(why, n, "RunPod names it '%s', the ledger launched it as '%s'", name, lname);
			return 0;
		}
		if (!launched_here(cfg, lname, e, why, n))
			return 0;
	} else {
		/* a create whose answer was lost: only its launching line names it */
		const cJSON *intent = name ? cJSON_GetObjectItemCaseSensitive(names, name) : NULL;
		if (!intent || cJSON_GetObjectItemCaseSensitive(intent, "id")) {
			snprintf(why, n, "the ledger has no launch of pod %s%s%s%s", id ? id : "-", name ? " ('" : "",
				 name ? name : "", name ? "')" : "");
			return 0;
		}
		if (!launched_here(cfg, name, intent, why, n))
			return 0;
		lname = name;
		if (last)
			*last = "launching";
	}
	/* no join ledgered: the node is the one named after the pod (rp-join's rule) */
	const char *mapped = e ? rp_rec_str(e, "node") : NULL;
	if (ln)
		*ln = mapped;
	if (last && e)
		*last = rp_rec_str(e, "event");
	if (node && strcmp(node, mapped ? mapped : lname)) {
		snprintf(why, n, "the ledger maps pod %s to node %s, not %s", id ? id : "-", mapped ? mapped : lname,
			 node);
		return 0;
	}
	return 1;
}

/* The pods still open, by id and (name-only lines) by name: the set stays
 * as small as the fleet, however long the ledger. */
struct alive {
	cJSON *ids, *names;
};

static int alive_cb(const cJSON *rec, long line, void *arg)
{
	struct alive *a = arg;
	(void)line;
	const char *ev = rp_rec_str(rec, "event"), *id = rp_rec_str(rec, "id"), *name = rp_rec_str(rec, "name");
	if (!ev)
		return 0;
	if (id && *id) {
		if (name)
			cJSON_DeleteItemFromObjectCaseSensitive(a->names, name); /* followed by its id now */
		cJSON_DeleteItemFromObjectCaseSensitive(a->ids, id);
		if (strcmp(ev, "terminated") && strcmp(ev, "reaped"))
			cJSON_AddTrueToObject(a->ids, id);
	} else if (name && *name) {
		cJSON_DeleteItemFromObjectCaseSensitive(a->names, name);
		if (strcmp(ev, "launch_failed"))
			cJSON_AddTrueToObject(a->names, name);
	}
	return 0;
}

int rp_ledger_any_alive(const char *path, char **err)
{
	struct alive a = { cJSON_CreateObject(), cJSON_CreateObject() };
	long torn;
	int rc = rp_ledger_read(path, alive_cb, &a, &torn, err);
	if (rc == 0)
		rc = a.ids->child || a.names->child;
	cJSON_Delete(a.ids);
	cJSON_Delete(a.names);
	return rc;
}
