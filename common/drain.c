/* drain.c — cordon, kubectl's pod filters, concurrent eviction, the
 * checkpoint hook, termination, tunnel and Node clean-up. */
#include "drain.h"
#include "log.h"
#include "rp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ST_EVICT, ST_WAIT, ST_DONE, ST_FAILED };

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* ---- cordon ---- */

int rp_drain_cordon(struct rp_kube *k, const char *node, int undo, char **err)
{
	char *path = rp_xasprintf("/api/v1/nodes/%s", node);
	int rc = RP_EXIT_FAIL;
	*err = NULL;
	for (int attempt = 0; attempt < 5; attempt++) {
		long st;
		cJSON *n = NULL, *out = NULL;
		free(*err);
		*err = NULL;
		if (rp_kube_call(k, "GET", path, NULL, NULL, &st, &n, err) < 0) {
			rc = RP_EXIT_TEMP;
			break;
		}
		if (st != 200) {
			*err = rp_xasprintf("node %s: %s", node, rp_kube_errmsg(st, n));
			cJSON_Delete(n);
			rc = st == 404 ? RP_EXIT_USAGE : st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL;
			break;
		}
		const char *rv = str(get(n, "metadata"), "resourceVersion");
		cJSON *taints = cJSON_CreateArray(), *t;
		int have = 0;
		cJSON_ArrayForEach(t, get(get(n, "spec"), "taints"))
		{
			const char *key = str(t, "key"), *eff = str(t, "effect");
			if (key && !strcmp(key, RP_DRAIN_TAINT) && eff && !strcmp(eff, "NoSchedule")) {
				have = 1;
				if (undo)
					continue;
			}
			cJSON_AddItemToArray(taints, cJSON_Duplicate(t, 1));
		}
		if (!undo && !have) {
			cJSON *nt = cJSON_CreateObject();
			cJSON_AddStringToObject(nt, "key", RP_DRAIN_TAINT);
			cJSON_AddStringToObject(nt, "effect", "NoSchedule");
			cJSON_AddItemToArray(taints, nt);
		}
		cJSON *patch = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
		if (rv)
			cJSON_AddStringToObject(md, "resourceVersion", rv);
		cJSON *spec = cJSON_AddObjectToObject(patch, "spec");
		if (undo)
			cJSON_AddNullToObject(spec, "unschedulable");
		else
			cJSON_AddTrueToObject(spec, "unschedulable");
		if (cJSON_GetArraySize(taints)) {
			cJSON_AddItemToObject(spec, "taints", taints);
		} else {
			cJSON_Delete(taints);
			cJSON_AddNullToObject(spec, "taints");
		}
		cJSON_Delete(n);
		int r = rp_kube_call(k, "PATCH", path, "application/merge-patch+json", patch, &st, &out, err);
		cJSON_Delete(patch);
		if (r < 0) {
			rc = RP_EXIT_TEMP;
			break;
		}
		if (st == 200) {
			cJSON_Delete(out);
			rc = 0;
			break;
		}
		*err = rp_xasprintf("%s node %s: %s", undo ? "uncordon" : "cordon", node, rp_kube_errmsg(st, out));
		cJSON_Delete(out);
		rc = st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL;
		if (st != 409)
			break;
		rp_debug("node changed under us, again", "node", node);
	}
	free(path);
	return rc;
}

/* ---- which pods (kubectl's filters) ---- */

static const cJSON *controller_of(const cJSON *pod)
{
	const cJSON *o;
	cJSON_ArrayForEach(o, get(get(pod, "metadata"), "ownerReferences"))
	{
		if (cJSON_IsTrue(get(o, "controller")))
			return o;
	}
	return NULL;
}

static int has_emptydir(const cJSON *pod)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, get(get(pod, "spec"), "volumes"))
	{
		const cJSON *e = get(v, "emptyDir");
		if (e && !cJSON_IsNull(e))
			return 1;
	}
	return 0;
}

static void note(cJSON *list, const char *ns, const char *name, const char *why)
{
	char *s = rp_xasprintf("%s/%s: %s", ns, name, why);
	cJSON_AddItemToArray(list, cJSON_CreateString(s));
	free(s);
}

int rp_drain_filter(const cJSON *pod, const struct rp_drain_opts *o, long ds_status, const char *ds_err,
		    cJSON *warnings, cJSON *errors)
{
	const cJSON *md = get(pod, "metadata");
	const char *ns = str(md, "namespace") ? str(md, "namespace") : "default";
	const char *name = str(md, "name");
	const cJSON *c = controller_of(pod);
	const char *kind = c ? str(c, "kind") : NULL;
	int finished = rp_kube_pod_is_finished(pod);
	if (!name)
		return RP_DRAIN_SKIP;
	/* kubectl's daemonSetFilter */
	if (kind && !strcmp(kind, "DaemonSet") && !finished) {
		if (!ds_status)
			return RP_DRAIN_ASK_DS;
		if (ds_status == 200)
			return RP_DRAIN_SKIP;
		if (ds_status != 404 || !o->force) {
			note(errors, ns, name, ds_err ? ds_err : "its DaemonSet cannot be read");
			return RP_DRAIN_BLOCK;
		}
		note(warnings, ns, name, "deleting Pod of a DaemonSet that is gone");
	}
	if (rp_kube_pod_is_mirror(pod))
		return RP_DRAIN_SKIP;
	if (!finished && has_emptydir(pod)) {
		if (!o->delete_emptydir) {
			note(errors, ns, name, "Pods with local storage (use --delete-emptydir-data to override)");
			return RP_DRAIN_BLOCK;
		}
		note(warnings, ns, name, "deleting Pod with local storage");
	}
	if (!finished && !c) {
		if (!o->force) {
			note(errors, ns, name, "Pods that declare no controller (use --force to override)");
			return RP_DRAIN_BLOCK;
		}
		note(warnings, ns, name, "deleting Pod that declares no controller");
	}
	return RP_DRAIN_EVICT;
}

/* The status of a GET of the pod's DaemonSet (*msg: its error text,
 * caller frees), or -1 (*err). */
static long ds_status(struct rp_kube *k, const cJSON *pod, char **msg, char **err)
{
	const cJSON *md = get(pod, "metadata");
	const char *ns = str(md, "namespace") ? str(md, "namespace") : "default";
	const char *ds = str(controller_of(pod), "name");
	char *path = rp_xasprintf("/apis/apps/v1/namespaces/%s/daemonsets/%s", ns, ds ? ds : "");
	long st;
	cJSON *out = NULL;
	int r = rp_kube_call(k, "GET", path, NULL, NULL, &st, &out, err);
	free(path);
	*msg = r < 0 ? NULL : rp_xstrdup(rp_kube_errmsg(st, out));
	cJSON_Delete(out);
	return r < 0 ? -1 : st;
}

static int add_pod(struct rp_drain_plan *p, const cJSON *pod)
{
	const cJSON *md = get(pod, "metadata");
	p->pods = rp_xrealloc(p->pods, (p->n + 1) * sizeof *p->pods);
	struct rp_drain_pod *d = &p->pods[p->n++];
	memset(d, 0, sizeof *d);
	d->ns = rp_xstrdup(str(md, "namespace") ? str(md, "namespace") : "default");
	d->name = rp_xstrdup(str(md, "name"));
	d->uid = str(md, "uid") ? rp_xstrdup(str(md, "uid")) : NULL;
	const char *job = rp_kube_label(pod, RP_DRAIN_JOB);
	d->job = job ? rp_xstrdup(job) : NULL;
	d->state = ST_EVICT;
	return 0;
}

static int classify(struct rp_kube *k, const cJSON *pod, const struct rp_drain_opts *o,
		    struct rp_drain_plan *p, char **err)
{
	const cJSON *md = get(pod, "metadata");
	char *msg = NULL;
	long st = 0;
	int v = rp_drain_filter(pod, o, 0, NULL, p->warnings, p->errors);
	if (v == RP_DRAIN_ASK_DS) {
		if ((st = ds_status(k, pod, &msg, err)) < 0)
			return -1;
		v = rp_drain_filter(pod, o, st, msg, p->warnings, p->errors);
		free(msg);
		if (st == 200) {
			char *who = rp_xasprintf("%s/%s", str(md, "namespace") ? str(md, "namespace") : "default",
						 str(md, "name"));
			rp_info("ignoring DaemonSet-managed pod", "pod", who);
			free(who);
		}
	}
	if (v == RP_DRAIN_SKIP && str(md, "name"))
		p->skipped++;
	return v == RP_DRAIN_EVICT ? add_pod(p, pod) : 0;
}

/* All pods on the node (pages of 500 followed), as one array. */
static cJSON *node_pods(struct rp_kube *k, const char *node, const char *selector, int *rc, char **err)
{
	char *cont = NULL;
	char *sel = rp_xasprintf("spec.nodeName=%s", node);
	char *esel = rp_http_escape(sel);
	char *lsel = selector ? rp_http_escape(selector) : NULL;
	cJSON *all = cJSON_CreateArray();
	*rc = 0;
	free(sel);
	do {
		char *ec = cont ? rp_http_escape(cont) : NULL;
		char *path = rp_xasprintf("/api/v1/pods?fieldSelector=%s&limit=500%s%s%s%s", esel,
					  lsel ? "&labelSelector=" : "", lsel ? lsel : "", ec ? "&continue=" : "",
					  ec ? ec : "");
		cJSON *list, *pod;
		const cJSON *items;
		free(ec);
		*rc = rp_kube_list(k, path, &list, &items, err);
		free(path);
		if (*rc)
			break;
		while ((pod = ((cJSON *)items)->child))
			cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer((cJSON *)items, pod));
		free(cont);
		cont = NULL;
		const char *c = str(get(list, "metadata"), "continue");
		if (c && *c)
			cont = rp_xstrdup(c);
		cJSON_Delete(list);
	} while (cont);
	free(cont);
	free(esel);
	free(lsel);
	if (*rc) {
		cJSON_Delete(all);
		return NULL;
	}
	return all;
}

int rp_drain_plan(struct rp_kube *k, const char *node, const struct rp_drain_opts *o,
		  struct rp_drain_plan *p, char **err)
{
	int rc;
	const cJSON *pod;
	memset(p, 0, sizeof *p);
	p->node = rp_xstrdup(node);
	p->warnings = cJSON_CreateArray();
	p->errors = cJSON_CreateArray();
	*err = NULL;
	cJSON *pods = node_pods(k, node, o->pod_selector, &rc, err);
	cJSON_ArrayForEach(pod, pods)
	{
		if (classify(k, pod, o, p, err) < 0) {
			rc = RP_EXIT_TEMP;
			break;
		}
	}
	cJSON_Delete(pods);
	return rc;
}

void rp_drain_plan_free(struct rp_drain_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->pods[i].ns);
		free(p->pods[i].name);
		free(p->pods[i].uid);
		free(p->pods[i].job);
	}
	free(p->pods);
	free(p->node);
	cJSON_Delete(p->warnings);
	cJSON_Delete(p->errors);
	memset(p, 0, sizeof *p);
}

char *rp_drain_jobs(const struct rp_drain_plan *p)
{
	struct rp_buf b = { 0 };
	rp_buf_adds(&b, "");
	for (size_t i = 0; i < p->n; i++) {
		const char *j = p->pods[i].job;
		size_t k;
		if (!j || !rp_safe_name(j))
			continue;
		for (k = 0; k < i; k++)
			if (p->pods[k].job && !strcmp(p->pods[k].job, j))
				break;
		if (k < i)
			continue;
		rp_buf_addf(&b, "%s%s", b.len ? " " : "", j);
	}
	return b.data;
}

/* ---- eviction ---- */

/* A Status whose details.causes[] has this cause.  metav1.StatusCause's
 * Type is spelled "reason" in JSON (apierrors.HasStatusCause reads it). */
static int has_cause(const cJSON *status, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, get(get(status, "details"), "causes"))
	{
		const char *t = str(c, "reason");
		if (t && !strcmp(t, type))
			return 1;
	}
	return 0;
}

/* Is the pod (same UID; same namespace/name when it has no UID) still there? */
static int uid_in(const cJSON *pods, const struct rp_drain_pod *d)
{
	const cJSON *q;
	cJSON_ArrayForEach(q, pods)
	{
		const cJSON *md = get(q, "metadata");
		const char *uid = str(md, "uid"), *name = str(md, "name"), *ns = str(md, "namespace");
		if (d->uid ? (uid && !strcmp(uid, d->uid))
			   : (name && ns && !strcmp(name, d->name) && !strcmp(ns, d->ns)))
			return 1;
	}
	return 0;
}

int rp_drain_evict(struct rp_kube *k, struct rp_drain_plan *p, const struct rp_drain_opts *o,
		   double deadline, size_t *evicted, char **err)
{
	double retry = o->retry_delay > 0 ? o->retry_delay : 5;
	double poll = o->poll > 0 ? o->poll : 1;
	int par = o->parallel > 0 ? o->parallel : 32;
	const char *hdrs[] = { "Accept: application/json", NULL };
	struct rp_http_req *reqs = rp_xcalloc(p->n ? p->n : 1, sizeof *reqs);
	struct rp_http_resp *resps = rp_xcalloc(p->n ? p->n : 1, sizeof *resps);
	size_t *idx = rp_xcalloc(p->n ? p->n : 1, sizeof *idx);
	char **urls = rp_xcalloc(p->n ? p->n : 1, sizeof *urls);
	char **bodies = rp_xcalloc(p->n ? p->n : 1, sizeof *bodies);
	size_t failed = 0;
	int rc = 0;
	*err = NULL;
	*evicted = 0;
	for (size_t i = 0; i < p->n; i++) {
		p->pods[i].state = ST_EVICT;
		p->pods[i].next = 0;
	}
	for (;;) {
		double now = rp_mono(), soonest = 0;
		size_t m = 0, open = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct rp_drain_pod *d = &p->pods[i];
			if (d->state == ST_DONE || d->state == ST_FAILED)
				continue;
			open++;
			if (d->next <= now)
				idx[m++] = i;
			else if (!soonest || d->next < soonest)
				soonest = d->next;
		}
		if (!open)
			break;
		if (deadline > 0 && now >= deadline) {
			struct rp_buf b = { 0 };
			size_t shown = 0;
			for (size_t i = 0; i < p->n; i++) {
				struct rp_drain_pod *d = &p->pods[i];
				if (d->state == ST_DONE || d->state == ST_FAILED)
					continue;
				if (shown++ < 5)
					rp_buf_addf(&b, "%s%s/%s", shown > 1 ? ", " : "", d->ns, d->name);
			}
			*err = rp_xasprintf("global timeout reached: %zu pod%s not gone (%s%s)", open,
					    open == 1 ? "" : "s", b.data ? b.data : "", shown > 5 ? ", …" : "");
			rp_buf_free(&b);
			rc = RP_EXIT_PARTIAL;
			break;
		}
		if (!m) {
			double until = soonest;
			if (deadline > 0 && deadline < until)
				until = deadline;
			if (until > now)
				rp_sleep(until - now);
			continue;
		}
		/* Waiting pods: one list of the node's pods tells which are gone
		 * (absent, or there under another UID), instead of a GET each. */
		size_t mw = 0;
		for (size_t j = 0; j < m; j++)
			if (p->pods[idx[j]].state == ST_WAIT)
				mw++;
		if (mw) {
			char *e = NULL;
			int lrc;
			cJSON *pods = node_pods(k, p->node, NULL, &lrc, &e);
			now = rp_mono();
			if (!pods)
				rp_debug("pod wait", "node", p->node, "error", e);
			free(e);
			for (size_t i = 0; i < p->n; i++) {
				struct rp_drain_pod *d = &p->pods[i];
				if (d->state != ST_WAIT)
					continue;
				if (pods && !uid_in(pods, d)) {
					d->state = ST_DONE;
					(*evicted)++;
					char *who = rp_xasprintf("%s/%s", d->ns, d->name);
					rp_info("pod gone", "pod", who);
					free(who);
				} else {
					d->next = now + poll;
				}
			}
			cJSON_Delete(pods);
			size_t keep = 0;
			for (size_t j = 0; j < m; j++)
				if (p->pods[idx[j]].state == ST_EVICT)
					idx[keep++] = idx[j];
			m = keep;
			if (!m)
				continue;
		}
		double left = deadline > 0 ? deadline - now : 30;
		for (size_t j = 0; j < m; j++) {
			struct rp_drain_pod *d = &p->pods[idx[j]];
			struct rp_http_req *r = &reqs[j];
			memset(r, 0, sizeof *r);
			r->headers = hdrs;
			r->timeout = left < 30 ? (left < 1 ? 1 : left) : 30;
			char *path;
			if (o->disable_eviction) {
				path = rp_xasprintf("/api/v1/namespaces/%s/pods/%s", d->ns, d->name);
				r->method = "DELETE";
				if (o->grace_period >= 0)
					bodies[j] = rp_xasprintf("{\"gracePeriodSeconds\":%ld}", o->grace_period);
			} else {
				path = rp_xasprintf("/api/v1/namespaces/%s/pods/%s/eviction", d->ns, d->name);
				r->method = "POST";
				cJSON *ev = cJSON_CreateObject();
				cJSON_AddStringToObject(ev, "apiVersion", "policy/v1");
				cJSON_AddStringToObject(ev, "kind", "Eviction");
				cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
				cJSON_AddStringToObject(md, "name", d->name);
				cJSON_AddStringToObject(md, "namespace", d->ns);
				cJSON *dop = cJSON_AddObjectToObject(ev, "deleteOptions");
				if (o->grace_period >= 0)
					cJSON_AddNumberToObject(dop, "gracePeriodSeconds", (double)o->grace_period);
				bodies[j] = cJSON_PrintUnformatted(ev);
				cJSON_Delete(ev);
			}
			if (bodies[j]) {
				r->body = bodies[j];
				r->body_len = strlen(bodies[j]);
				r->content_type = "application/json";
			}
			rp_kube_prep(k, r, path, &urls[j]);
			free(path);
		}
		rp_http_multi(reqs, resps, m, par);
		now = rp_mono();
		for (size_t j = 0; j < m; j++) {
			struct rp_drain_pod *d = &p->pods[idx[j]];
			struct rp_http_resp *s = &resps[j];
			cJSON *body = s->body && s->len ? cJSON_Parse(s->body) : NULL;
			char *who = rp_xasprintf("%s/%s", d->ns, d->name);
			if (s->status >= 200 && s->status < 300) {
				rp_info(o->disable_eviction ? "deleted" : "evicted", "pod", who);
				d->state = ST_WAIT;
				d->next = now; /* like kubectl: look at once */
			} else if (s->status == 404) {
				d->state = ST_DONE;
				(*evicted)++;
				rp_info("pod gone", "pod", who);
			} else if (s->status == 403 && has_cause(body, "NamespaceTerminating")) {
				/* kubectl: the namespace refuses every eviction and its
				 * controller deletes the pod anyway: wait for it to go */
				rp_info("namespace terminating, waiting for the pod to go", "pod", who);
				d->state = ST_WAIT;
				d->next = now;
			} else if (s->status == 429) {
				char rs[16];
				snprintf(rs, sizeof rs, "%g", retry);
				rp_info("eviction refused, will retry", "pod", who, "retry_s", rs, "why",
					rp_kube_errmsg(s->status, body));
				d->next = now + retry;
			} else if (s->status == 0) {
				rp_logw("eviction got no answer, will retry", "pod", who, "error", s->err);
				d->next = now + poll;
			} else {
				char *e = rp_xasprintf("error when evicting pods/%s -n %s: %s", d->name, d->ns,
						       rp_kube_errmsg(s->status, body));
				rp_loge("eviction failed", "pod", who, "error", e);
				if (!*err)
					*err = e;
				else
					free(e);
				d->state = ST_FAILED;
				failed++;
			}
			free(who);
			cJSON_Delete(body);
			rp_http_resp_free(s);
			free(urls[j]);
			free(bodies[j]);
			urls[j] = bodies[j] = NULL;
		}
	}
	if (!rc && failed)
		rc = RP_EXIT_FAIL;
	free(reqs);
	free(resps);
	free(idx);
	free(urls);
	free(bodies);
	return rc;
}

int rp_drain_delete_node(struct rp_kube *k, const char *node, char **err)
{
	char *path = rp_xasprintf("/api/v1/nodes/%s", node);
	long st;
	cJSON *out = NULL;
	int r = rp_kube_call(k, "DELETE", path, NULL, NULL, &st, &out, err);
	free(path);
	if (r < 0)
		return RP_EXIT_TEMP;
	if (st == 200 || st == 202 || st == 404) {
		cJSON_Delete(out);
		return 0;
	}
	*err = rp_xasprintf("delete node %s: %s", node, rp_kube_errmsg(st, out));
	cJSON_Delete(out);
	return st >= 500 ? RP_EXIT_TEMP : RP_EXIT_FAIL;
}

/* ---- processes ---- */

/* Wait for pid until the timeout (<= 0: forever); kill its group after. */
static int wait_child(pid_t pid, double timeout, int *status)
{
	double end = rp_mono() + timeout;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -1;
		if (timeout > 0 && rp_mono() >= end) {
			kill(-pid, SIGTERM);
			rp_sleep(0.5);
			kill(-pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return 1;
		}
		rp_sleep(0.02);
	}
}

static void child_stdio(void)
{
	int fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		if (fd > 2)
			close(fd);
	}
	dup2(2, 1); /* stdout is data: a child talks on stderr */
}

static char *exit_text(const char *what, int status)
{
	if (WIFEXITED(status))
		return rp_xasprintf("%s exited %d", what, WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return rp_xasprintf("%s killed by signal %d", what, WTERMSIG(status));
	return rp_xasprintf("%s ended oddly", what);
}

extern char **environ;

/* The hook's environment: ours without RP_NODE, RP_POD_ID and RP_JOBS, then
 * those three (the last three entries, malloc'd).  Made before the fork:
 * drains run on threads, and a child forked from a process with threads
 * may only call async-signal-safe functions until it execs. */
static char **hook_env(const char *node, const char *pod_id, const char *jobs)
{
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	char **env = rp_xcalloc(n + 4, sizeof *env);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "RP_NODE=", 8) && strncmp(environ[i], "RP_POD_ID=", 10) &&
		    strncmp(environ[i], "RP_JOBS=", 8))
			env[k++] = environ[i];
	env[k++] = rp_xasprintf("RP_NODE=%s", node ? node : "");
	env[k++] = rp_xasprintf("RP_POD_ID=%s", pod_id ? pod_id : "");
	env[k++] = rp_xasprintf("RP_JOBS=%s", jobs ? jobs : "");
	return env;
}

static void hook_env_free(char **env)
{
	size_t k = 0;
	while (env[k])
		k++;
	for (size_t i = k - 3; i < k; i++)
		free(env[i]);
	free(env);
}

int rp_drain_hook(const char *cmd, const char *node, const char *pod_id, const char *jobs,
		  double timeout, char **err)
{
	*err = NULL;
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	char **env = hook_env(node, pod_id, jobs);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		*err = rp_xasprintf("checkpoint hook: fork: %s", strerror(errno));
		hook_env_free(env);
		return RP_EXIT_FAIL;
	}
	if (!pid) {
		setpgid(0, 0);
		child_stdio();
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	hook_env_free(env);
	setpgid(pid, pid);
	int status = 0;
	int r = wait_child(pid, timeout, &status);
	if (r == 1) {
		*err = rp_xasprintf("checkpoint hook timed out after %.0fs", timeout);
		return RP_EXIT_FAIL;
	}
	if (r < 0) {
		*err = rp_xasprintf("checkpoint hook: wait: %s", strerror(errno));
		return RP_EXIT_FAIL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	*err = exit_text("checkpoint hook", status);
	return RP_EXIT_FAIL;
}

/* ---- RunPod ---- */

int rp_drain_terminate(struct rp_runpod *rp, const char *id, double budget, char **err)
{
	double end = rp_mono() + budget, delay = 1;
	int rc;
	*err = NULL;
	for (;;) {
		char *e = NULL;
		rc = rp_runpod_terminate(rp, id, &e);
		if (!rc) {
			cJSON *pod = NULL;
			int gone = 0;
			rc = rp_runpod_get(rp, id, &pod, &gone, &e);
			if (!rc) {
				const char *s = gone ? "TERMINATED" : str(pod, "status");
				if (!gone && !s)
					s = str(pod, "desiredStatus");
				if (s && !strcmp(s, "TERMINATED")) {
					cJSON_Delete(pod);
					free(*err);
					*err = NULL;
					return 0;
				}
				e = rp_xasprintf("pod %s still %s after terminate", id, s ? s : "present");
				rc = RP_EXIT_TEMP;
			}
			cJSON_Delete(pod);
		}
		free(*err);
		*err = e ? e : rp_xstrdup("terminate failed");
		if (rc == RP_EXIT_USAGE || rp_mono() + delay > end)
			break;
		rp_logw("pod still billing, terminate again", "pod", id, "error", *err);
		rp_sleep(delay);
		delay = delay * 2 > 8 ? 8 : delay * 2;
	}
	char *e = rp_xasprintf("pod %s not confirmed terminated: %s", id, *err);
	free(*err);
	*err = e;
	return rc ? rc : RP_EXIT_FAIL;
}
