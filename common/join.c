/* join.c — the per-pod join sequence: kubeadm, worker and check flows
 * over SSH, the join lock and the ledger line (promises in join.h). */
#include "join.h"
#include "drain.h"
#include "fleet.h"
#include "hostport.h"
#include "kube.h"
#include "ledger.h"
#include "log.h"
#include "podlock.h"
#include "pool.h"
#include "record.h"
#include "records.h"
#include "ssh.h"
#include "tunnel.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define START_GRACE 1.0  /* worker: alive this long after start = started */
#define LOCK_WAIT 1.0    /* a join lock busy this long is another joiner's, not a reaper's look */

struct job {
	char *id, *node, *host;
	int port;
	int lock;      /* the pod's join lock (podlock.h), -1: none */
	int busy;      /* another rp-join holds it: not ours to join */
	struct rp_boot_token tok;
	int v1beta3;   /* the pod's kubeadm is older than 1.31 */
	/* results */
	int ok, temp;
	char *error;
	char fp[80];
	/* when each step ended (rp_now(), 0: not reached), for the record */
	double t_ssh, t_join, t_ready, t_labels, t_worker;
};

struct rp_join {
	const struct rp_config *cfg;
	struct rp_kube *k;
	struct rp_ssh_opts so;
	int check;
	int worker;
	char hashes[8][72];
	int nhash;
	char *endpoint;
	int tun_port;         /* kube.api_server_tunnel: file discovery through it; 0: none */
	const char *tun_name; /* kube.api_server_name: its tls-server-name */
	cJSON *labels;        /* all configured labels, as an object */
	char *self_labels;    /* those a kubelet may set: "k=v,k=v" */
	struct rp_taint *taints;
	size_t ntaints;
	char *startup_key;
	double cmd_timeout, join_timeout, token_ttl;
	double t0;            /* rp_mono() at start */
	int manual;           /* rp_join_manual(): TOFU as the user asked */
	char *worker_env;
	pthread_mutex_t mu;   /* stdout, stderr, the ledger */
	struct job *jobs;
	size_t njobs;
};

/* ---- the pure rules ---- */

char *rp_join_node_name(const char *name, const char *id)
{
	const char *src = name && *name ? name : id;
	size_t n = strlen(src);
	char *out = rp_xmalloc(n + 4);
	size_t j = 0;
	for (size_t i = 0; i < n && j < 63; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)src[i]);
		out[j++] = (isalnum(c) || c == '-' || c == '.') ? (char)c : '-';
	}
	out[j] = 0;
	while (j && !isalnum((unsigned char)out[j - 1]))
		out[--j] = 0;
	size_t lead = strspn(out, "-.");
	memmove(out, out + lead, strlen(out + lead) + 1);
	if (!*out) {
		free(out);
		return rp_xstrdup("rp-node");
	}
	return out;
}

int rp_join_taint_parse(const char *s, struct rp_taint *t)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -1;
	const char *eff = colon + 1;
	if (strcmp(eff, "NoSchedule") && strcmp(eff, "PreferNoSchedule") && strcmp(eff, "NoExecute"))
		return -1;
	char *kv = rp_xstrdup(s);
	kv[colon - s] = 0;
	char *eq = strchr(kv, '=');
	if (eq)
		*eq = 0;
	t->key = kv;
	t->value = eq ? eq + 1 : NULL;
	t->effect = eff;
	if (*kv)
		return 0;
	free(kv);
	return -1;
}

int rp_join_labels(const cJSON *list, cJSON **labels, char **self, const char **bad)
{
	*self = NULL;
	if (rp_fleet_labels(list, labels, bad) < 0)
		return -1;
	struct rp_buf b = { 0 };
	const cJSON *e;
	cJSON_ArrayForEach(e, *labels)
	{
		if (rp_boot_kubelet_may_set(e->string))
			rp_buf_addf(&b, "%s%s=%s", b.len ? "," : "", e->string, e->valuestring);
	}
	*self = b.data;
	return 0;
}

char *rp_join_endpoint(const char *configured, const char *server)
{
	if (configured && *configured)
		return rp_xstrdup(configured);
	const char *p = strstr(server, "://");
	p = p ? p + 3 : server;
	size_t n = strcspn(p, "/");
	struct rp_hostport hp;
	char host[256], out[300];
	if (rp_hostport(p, n, RP_HP_PORT_OPTIONAL, 443, &hp) != RP_HP_OK ||
	    rp_hostport_host(&hp, host, sizeof host) < 0)
		return rp_xasprintf("%.*s", (int)n, p); /* as written: kubeadm's refusal names it */
	rp_hostport_fmt(out, sizeof out, host, hp.port);
	return rp_xstrdup(out);
}

void rp_join_env_line(struct rp_buf *b, const char *k, const char *v)
{
	if (!v)
		return;
	char *q = rp_ssh_quote(v);
	rp_buf_addf(b, "%s=%s\n", k, q);
	free(q);
}

static char *list_join(const cJSON *a)
{
	struct rp_buf b = { 0 };
	const cJSON *e;
	cJSON_ArrayForEach(e, a)
		if (cJSON_IsString(e))
			rp_buf_addf(&b, "%s%s", b.len ? "," : "", e->valuestring);
	return b.data ? b.data : rp_xstrdup("");
}

char *rp_join_worker_env(const struct rp_config *c)
{
	struct rp_buf b = { 0 };
	char *g = list_join(rp_cfg_json(c, "kafka.group")), *t = list_join(rp_cfg_json(c, "kafka.topic"));
	rp_join_env_line(&b, "KAFKA_BOOTSTRAP", rp_cfg_str(c, "kafka.bootstrap_servers"));
	rp_join_env_line(&b, "KAFKA_GROUP", g);
	rp_join_env_line(&b, "KAFKA_TOPIC", t);
	rp_join_env_line(&b, "S3_ENDPOINT", rp_cfg_str(c, "s3.endpoint"));
	rp_join_env_line(&b, "S3_BUCKET", rp_cfg_str(c, "s3.bucket"));
	rp_join_env_line(&b, "S3_REGION", rp_cfg_str(c, "s3.region"));
	free(g);
	free(t);
	/* The worker checkpoints to S3 with its own, least-privilege keys
	 * (worker.s3_*_key_file), never the controller's s3.* keys or its
	 * environment: a burst pod is an untrusted host. */
	char *err = NULL, *ak = NULL, *sk = NULL;
	const char *af = rp_cfg_str(c, "worker.s3_access_key_file"), *sf = rp_cfg_str(c, "worker.s3_secret_key_file");
	if (af && *af && sf && *sf) {
		ak = rp_cfg_secret(c, "worker.s3_access_key_file", NULL, &err);
		if (!ak)
			rp_warn("%s; the worker gets no S3 keys", err);
		free(err);
		err = NULL;
		sk = ak ? rp_cfg_secret(c, "worker.s3_secret_key_file", NULL, &err) : NULL;
		if (ak && !sk)
			rp_warn("%s; the worker gets no S3 keys", err);
		free(err);
	}
	if (ak && sk) {
		rp_join_env_line(&b, "AWS_ACCESS_KEY_ID", ak);
		rp_join_env_line(&b, "AWS_SECRET_ACCESS_KEY", sk);
	}
	free(ak);
	free(sk);
	return b.data ? b.data : rp_xstrdup("");
}

char *rp_join_upload_script(const char *path)
{
	return rp_xasprintf("umask 077 && mkdir -p .rp-join && rm -f %s && cat > %s && chmod 600 %s || "
			    "{ echo 'cannot write %s' >&2; rm -f %s; exit 120; }",
			    path, path, path, path, path);
}

char *rp_join_kubeadm_script(const char *path, const char *also, int reset_first)
{
	/* One session: kubeadm's version first (its first line of output:
	 * the configuration depends on it), then the configuration arrives on
	 * stdin (never on a command line), is written 0600, used, and removed
	 * whatever kubeadm says -- and with it `also` (the bootstrap
	 * kubeconfig uploaded before). */
	char *rm = rp_xasprintf("rm -f %s%s%s", path, also ? " " : "", also ? also : "");
	char *s = rp_xasprintf(
		"v=$(kubeadm version -o short 2>/dev/null) || v=; printf '%%s\\n' \"$v\"; "
		"umask 077 && mkdir -p .rp-join && rm -f %s && cat > %s && chmod 600 %s || "
		"{ echo 'cannot write %s' >&2; %s; exit 120; }; "
		"command -v kubeadm >/dev/null 2>&1 || { echo 'kubeadm: command not found' >&2; %s; exit 127; }; "
		"%skubeadm join --config %s; rc=$?; %s; exit $rc",
		path, path, path, path, rm, rm, reset_first ? "kubeadm reset -f >/dev/null 2>&1; " : "", path, rm);
	free(rm);
	return s;
}

const char *rp_join_verdict(const char *why)
{
	const char *last = why, *p;
	for (p = why; *p; p++)
		if ((p == why || p[-1] == '\n') && *p != '\n' &&
		    strncmp(p, "To see the stack trace", 22))
			last = p;
	return last;
}

cJSON *rp_join_gpus(char *csv)
{
	cJSON *gpus = cJSON_CreateArray();
	char *save = NULL, *line = strtok_r(csv, "\n", &save);
	for (int first = 1; line; line = strtok_r(NULL, "\n", &save), first = 0) {
		if (first && strstr(line, "name"))
			continue; /* the csv header */
		char *comma = strchr(line, ',');
		cJSON *g = cJSON_CreateObject();
		if (comma)
			*comma = 0;
		char *nm = line;
		while (*nm == ' ')
			nm++;
		cJSON_AddStringToObject(g, "name", nm);
		if (comma) {
			char *mem = comma + 1;
			while (*mem == ' ')
				mem++;
			mem[strcspn(mem, "\r")] = 0;
			cJSON_AddStringToObject(g, "memory", mem);
		}
		cJSON_AddItemToArray(gpus, g);
	}
	return gpus;
}

/* ---- talk, records, the ledger (one thread at a time) ---- */

static void say_error(struct rp_join *x, const struct job *j, const char *msg)
{
	char hp[300];
	snprintf(hp, sizeof hp, "%s:%d: ", j->host ? j->host : "-", j->port);
	if (!strncmp(msg, hp, strlen(hp)))
		msg += strlen(hp); /* ssh.c already named the host */
	char *red = rp_redact(msg);
	pthread_mutex_lock(&x->mu);
	fflush(stdout);
	fprintf(stderr, "%s: error: %s:%d (%s): %s\n", rp_prog, j->host ? j->host : "-", j->port,
		j->id, red);
	pthread_mutex_unlock(&x->mu);
	free(red);
}

static void ledger_line(struct rp_join *x, const struct job *j, const char *bootstrap)
{
	cJSON *e = rp_ledger_event(j->ok ? "joined" : "join_failed");
	cJSON_AddStringToObject(e, "id", j->id);
	cJSON_AddStringToObject(e, "node", j->node);
	cJSON_AddStringToObject(e, "bootstrap", bootstrap);
	if (j->host)
		cJSON_AddStringToObject(e, "ssh_host", j->host);
	cJSON_AddNumberToObject(e, "ssh_port", j->port);
	if (*j->fp)
		cJSON_AddStringToObject(e, "fingerprint", j->fp);
	if (j->error) {
		char *red = rp_redact(j->error);
		cJSON_AddStringToObject(e, "error", red);
		free(red);
	}
	char *err = NULL;
	pthread_mutex_lock(&x->mu);
	int r = rp_ledger_append(e, &err);
	pthread_mutex_unlock(&x->mu);
	if (r < 0) {
		rp_loge("ledger append failed", "id", j->id, "error", err);
		free(err);
	}
	cJSON_Delete(e);
}

static void emit(struct rp_join *x, cJSON *rec)
{
	pthread_mutex_lock(&x->mu);
	rp_out_rec(rec);
	fflush(stdout);
	pthread_mutex_unlock(&x->mu);
	cJSON_Delete(rec);
}

static void fail_job(struct job *j, char *msg)
{
	free(j->error);
	j->error = msg;
	j->ok = 0;
}

/* The ledger's last `ready` line for a pod id at an address. */
struct ready_find {
	const char *id, *host;
	int port;
	double ts;
};

static int ready_cb(const cJSON *rec, long line, void *arg)
{
	struct ready_find *f = arg;
	const char *ev = rp_rec_str(rec, "event"), *id = rp_rec_str(rec, "id"), *h = rp_rec_str(rec, "ssh_host");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(rec, "ssh_port");
	double t;
	(void)line;
	if (ev && !strcmp(ev, "ready") && id && !strcmp(id, f->id) && h && f->host && !strcmp(h, f->host) &&
	    cJSON_IsNumber(port) && (int)port->valuedouble == f->port && rp_rec_str(rec, "ts") &&
	    rp_parse_rfc3339(rp_rec_str(rec, "ts"), &t) == 0)
		f->ts = t;
	return 0;
}

/* NULL when j's unknown host key may be trusted on first use, else why
 * not (static text, or buf).  See rp_join_manual(). */
static const char *tofu_refusal(struct rp_join *x, const struct job *j, char *buf, size_t n)
{
	if (x->manual)
		return NULL;
	struct ready_find f = { j->id, j->host, j->port, -1 };
	long torn = 0;
	char *err = NULL;
	pthread_mutex_lock(&x->mu);
	int r = rp_ledger_read(NULL, ready_cb, &f, &torn, &err);
	pthread_mutex_unlock(&x->mu);
	if (r < 0) {
		snprintf(buf, n, "ledger unreadable (%s)", err ? err : "?");
		free(err);
		return buf;
	}
	if (f.ts < 0)
		return "no ready line of ours for this pod at this address in the ledger";
	double window = rp_cfg_dur(x->cfg, "runpod.ready_timeout") + x->join_timeout;
	double age = rp_now() - f.ts;
	if (age > window) {
		snprintf(buf, n, "the pod was ready %.0f s ago, past its ready window (%.0f s)", age, window);
		return buf;
	}
	return NULL;
}

static struct rp_ssh *connect_job(struct rp_join *x, struct job *j)
{
	struct rp_ssh_opts o = x->so;
	char why[300];
	o.host = j->host;
	o.port = j->port;
	o.pod_id = j->id;
	o.no_tofu = tofu_refusal(x, j, why, sizeof why);
	int code = 0;
	char *err = NULL;
	struct rp_ssh *s = rp_ssh_connect(&o, &code, &err);
	if (!s) {
		fail_job(j, err);
		return NULL;
	}
	snprintf(j->fp, sizeof j->fp, "%s", rp_ssh_fingerprint(s));
	return s;
}

/* Run cmd; 0 and *r when it ran (any status), -1 and j->error otherwise.
 * *code tells a timeout from a drop. */
static int run(struct rp_join *x, struct rp_ssh *s, struct job *j, const char *cmd, const char *in,
	       double timeout, struct rp_ssh_res *r, int *code)
{
	char *err = NULL;
	(void)x;
	if (rp_ssh_exec(s, cmd, in, in ? strlen(in) : 0, timeout, r, code, &err) < 0) {
		rp_ssh_res_free(r);
		fail_job(j, err);
		return -1;
	}
	return 0;
}

/* ---- kubeadm ---- */

char *rp_join_config_yaml(const struct rp_boot_join *base, const char *startup_taint,
			  const struct rp_taint *taints, size_t ntaints)
{
	struct rp_taint *t = rp_xcalloc(ntaints + 1, sizeof *t);
	size_t nt = 0;
	struct rp_taint st;
	int have_st = startup_taint && *startup_taint && rp_join_taint_parse(startup_taint, &st) == 0;
	if (have_st)
		t[nt++] = st;
	for (size_t i = 0; i < ntaints; i++)
		t[nt++] = taints[i];
	struct rp_boot_join bj = *base;
	bj.taints = t;
	bj.ntaints = nt;
	char *y = rp_boot_join_yaml(&bj);
	if (have_st)
		free((char *)st.key);
	free(t);
	return y;
}

/* kubeadm's discovery and TLS bootstrap timeouts: each within half the
 * SSH command's, so kubeadm says why before the session is cut. */
static long join_step_timeout(const struct rp_join *x)
{
	double t = x->cmd_timeout / 2;
	return t < 10 ? 10 : t > 300 ? 300 : (long)t;
}

static char *join_yaml(struct rp_join *x, struct job *j, const char *kubeconfig)
{
	struct rp_boot_join bj = {
		.endpoint = x->endpoint, .token = j->tok.full, .ca_hashes = x->hashes,
		.nhashes = x->nhash, .node_name = j->node, .node_labels = x->self_labels,
		.v1beta3 = j->v1beta3, .timeout_s = join_step_timeout(x), .discovery_file = kubeconfig,
	};
	return rp_join_config_yaml(&bj, x->startup_key ? rp_cfg_str(x->cfg, "kube.startup_taint") : NULL,
				   x->taints, x->ntaints);
}

/* Through a tunnel: upload the bootstrap kubeconfig (0600, by stdin) to
 * path.  0; 1 refused (j->error); -1 lost/timeout (j->error, *code). */
static int upload_kubeconfig(struct rp_join *x, struct rp_ssh *s, struct job *j, const char *path, int *code)
{
	char *server = rp_xasprintf("https://127.0.0.1:%d", x->tun_port);
	char *kc = rp_boot_bootstrap_kubeconfig(server, x->tun_name, rp_kube_ca_pem(x->k), j->tok.full);
	char *cmd = rp_join_upload_script(path);
	struct rp_ssh_res r;
	int rc = run(x, s, j, cmd, kc, x->cmd_timeout, &r, code);
	free(cmd);
	free(kc);
	free(server);
	if (rc < 0)
		return -1;
	if (r.status != 0) {
		fail_job(j, rp_xasprintf("upload of the bootstrap kubeconfig failed: %s", rp_ssh_firstline(r.err)));
		rc = 1;
	}
	rp_ssh_res_free(&r);
	return rc;
}

/* The JoinConfiguration for what the pod's `kubeadm version -o short`
 * said (the join script's first line): v1beta3 only when it says below
 * 1.31; v1beta4 when it says nothing readable (a missing kubeadm is
 * reported by the join itself). */
struct config_for {
	struct rp_join *x;
	struct job *j;
	const char *kubeconfig;
};

static char *config_for_version(void *arg, const char *version, size_t *len)
{
	struct config_for *c = arg;
	c->j->v1beta3 = rp_boot_kubeadm_v1beta3(version);
	rp_debug("kubeadm version", "id", c->j->id, "version", *version ? rp_ssh_firstline(version) : "?",
		 "config", c->j->v1beta3 ? "kubeadm.k8s.io/v1beta3" : "kubeadm.k8s.io/v1beta4");
	char *yaml = join_yaml(c->x, c->j, c->kubeconfig);
	*len = strlen(yaml);
	return yaml;
}

/* Upload the JoinConfiguration (0600, by stdin) -- through a tunnel,
 * after its bootstrap kubeconfig -- and run kubeadm join.
 * 0 joined; 1 kubeadm said no (j->error); -1 lost/timeout (j->error, *code). */
static int kubeadm_join(struct rp_join *x, struct rp_ssh *s, struct job *j, int reset_first, int *code)
{
	char path[64], kc[64];
	snprintf(path, sizeof path, ".rp-join/join-%s.yaml", j->tok.id);
	snprintf(kc, sizeof kc, ".rp-join/bootstrap-%s.conf", j->tok.id);
	int rc = x->tun_port ? upload_kubeconfig(x, s, j, kc, code) : 0;
	if (rc)
		return rc;
	char *cmd = rp_join_kubeadm_script(path, x->tun_port ? kc : NULL, reset_first);
	struct rp_ssh_res r;
	struct config_for cf = { x, j, x->tun_port ? kc : NULL };
	char *err = NULL;
	rc = rp_ssh_exec_answer(s, cmd, x->cmd_timeout, config_for_version, &cf, &r, code, &err);
	free(cmd);
	if (rc < 0) {
		rp_ssh_res_free(&r);
		fail_job(j, err);
		return -1;
	}
	if (r.status == 120) {
		fail_job(j, rp_xasprintf("upload of the join configuration failed: %s", rp_ssh_firstline(r.err)));
		rp_ssh_res_free(&r);
		return 1;
	}
	if (r.status != 0) {
		const char *why = r.err_len ? r.err : r.out;
		char st[32];
		if (r.signal)
			snprintf(st, sizeof st, "signal %s", r.signal);
		else
			snprintf(st, sizeof st, "exit %d", r.status);
		/* kubeadm's verdict is its last stderr line but the trace hint. */
		fail_job(j, rp_xasprintf("kubeadm join failed (%s): %s", st, rp_ssh_firstline(rp_join_verdict(why))));
		rp_ssh_res_free(&r);
		return 1;
	}
	rp_ssh_res_free(&r);
	return 0;
}

static int node_exists(struct rp_join *x, const char *name)
{
	cJSON *n = NULL;
	char *err = NULL;
	int r = rp_boot_node_get(x->k, name, &n, &err);
	cJSON_Delete(n);
	free(err);
	return r == 1;
}

static void do_kubeadm(struct rp_join *x, struct job *j)
{
	struct rp_ssh *s = connect_job(x, j);
	if (!s)
		return;
	char *err = NULL;
	int token_made = 0;
	j->t_ssh = rp_now();
	rp_debug("connected", "id", j->id, "host", rp_ssh_name(s), "fingerprint", j->fp);

	/* Already ours and Ready (a re-run)?  Then only make sure it is finished. */
	cJSON *n = NULL;
	int rejoined = 0;
	if (rp_boot_node_peek(x->k, j->node, &n, &err) == 1 && rp_kube_node_ready(n)) {
		const char *pid = rp_fleet_pod_id(n);
		if (pid && !strcmp(pid, j->id)) {
			rp_info("node already joined", "id", j->id, "node", j->node);
			goto finish;
		}
	}
	cJSON_Delete(n);
	n = NULL;
	free(err);
	err = NULL;

	if (x->tun_port && !rp_tunnel_alive(j->id)) {
		/* The pod reaches the API server only through its tunnel. */
		char *pf = rp_tunnel_pidfile(j->id);
		fail_job(j, rp_xasprintf("no tunnel for this pod (%s names no live rp-join --tunnel); start "
					 "rp-tunnel@%s first: its R:%d forward is the pod's API server",
					 pf, j->id, x->tun_port));
		free(pf);
		j->temp = 1;
		goto out;
	}
	char desc[160];
	snprintf(desc, sizeof desc, "rp-join: one-shot token for pod %s", j->id);
	if (rp_boot_token_create(x->k, &j->tok, x->token_ttl, desc, &err) < 0) {
		j->temp = strstr(err, "HTTP ") == NULL;
		fail_job(j, rp_xasprintf(j->temp ? "Kubernetes API unavailable, no bootstrap token: %s"
					 : "bootstrap token refused by the API: %s", err));
		free(err);
		goto out;
	}
	token_made = 1;
	rp_debug("bootstrap token created", "id", j->id, "token_id", j->tok.id);
	if (rp_boot_wait_signed(x->k, j->tok.id, x->join_timeout < 60 ? x->join_timeout : 60, &err) < 0) {
		fail_job(j, err);
		goto out;
	}
	rp_debug("cluster-info signed", "id", j->id, "token_id", j->tok.id);
	int code = 0, rc = kubeadm_join(x, s, j, 0, &code);
	/* A lost connection: reconnect and look before acting again. */
	for (int retry = 0; rc < 0 && code == RP_SSH_EDROP && retry < 2; retry++) {
		rp_logw("connection lost during join; reconnecting", "id", j->id, "host", rp_ssh_name(s),
			"error", j->error);
		rp_ssh_close(s);
		s = NULL;
		for (int a = 0; a < 3 && !s; a++) {
			rp_sleep(0.5 * (a + 1));
			s = connect_job(x, j);
		}
		if (!s) {
			fail_job(j, rp_xasprintf("connection lost during kubeadm join and not regained; node %s %s: %s",
						 j->node, node_exists(x, j->node) ? "registered but unfinished" : "not registered",
						 j->error ? j->error : "?"));
			goto out;
		}
		if (node_exists(x, j->node)) {
			rp_info("node registered before the connection dropped", "id", j->id, "node", j->node);
			rc = 0;
			break;
		}
		rp_info("retrying kubeadm join from a clean state", "id", j->id, "node", j->node);
		rc = kubeadm_join(x, s, j, 1, &code);
	}
	if (rc < 0 && code == RP_SSH_ETIMEOUT && node_exists(x, j->node)) {
		char *m = rp_xasprintf("%s; node %s registered but unfinished (startup taint kept)", j->error, j->node);
		fail_job(j, m);
		goto out;
	}
	if (rc != 0)
		goto out;
	free(j->error);
	j->error = NULL;
	j->t_join = rp_now();
	rp_debug("kubeadm join done", "id", j->id, "node", j->node);
	/* Nothing more runs on the pod: its session (libssh2's ~55 KiB) is
	 * not held through the Ready wait. */
	rp_ssh_close(s);
	s = NULL;
	if (rp_boot_wait_ready(x->k, j->node, x->join_timeout, &n, &err) < 0) {
		fail_job(j, rp_xasprintf("%s (joined; startup taint kept)", err));
		free(err);
		goto out;
	}
	j->t_ready = rp_now();
	rp_debug("node Ready", "id", j->id, "node", j->node);
	rejoined = 1;
finish:;
	cJSON *ann = cJSON_CreateObject();
	cJSON_AddStringToObject(ann, RP_FLEET_POD_ID, j->id);
	cJSON *lab = cJSON_Duplicate(x->labels, 1);
	/* A kubelet registering under the name of a Node that is still there
	 * (an old NotReady one) keeps that Node's taints and unschedulable:
	 * a fresh join takes back what a drain of it left.  A node found
	 * already joined keeps them (a drain of it may be under way). */
	const char *drop[] = { x->startup_key, rejoined ? RP_DRAIN_TAINT : NULL, NULL };
	if (rp_boot_node_finish(x->k, j->node, n, x->startup_key ? drop : drop + 1, rejoined, lab, ann, &err) < 0) {
		fail_job(j, rp_xasprintf("node %s is Ready but could not be labelled: %s", j->node, err));
		free(err);
	} else {
		j->t_labels = rp_now();
		j->ok = 1;
	}
	cJSON_Delete(ann);
	cJSON_Delete(lab);
	cJSON_Delete(n);
out:
	if (token_made) {
		err = NULL;
		if (rp_boot_token_delete(x->k, j->tok.id, &err) < 0) {
			rp_logw("bootstrap token not deleted (it expires by itself)", "id", j->id, "token_id",
				j->tok.id, "error", err ? err : "");
			free(err);
		}
	}
	if (s)
		rp_ssh_close(s);
}

/* ---- worker ---- */

static void do_worker(struct rp_join *x, struct job *j)
{
	struct rp_ssh *s = connect_job(x, j);
	if (!s)
		return;
	j->t_ssh = rp_now();
	struct rp_buf env = { 0 };
	rp_buf_adds(&env, x->worker_env);
	rp_join_env_line(&env, "RP_POD_ID", j->id);
	rp_join_env_line(&env, "RP_NODE_NAME", j->node);
	char *wc = rp_ssh_quote(rp_cfg_str(x->cfg, "kube.worker_command"));
	char *cmd = rp_xasprintf(
		"umask 077 && mkdir -p .rp-worker && rm -f .rp-worker/env && cat > .rp-worker/env && "
		"chmod 600 .rp-worker/env || exit 1; "
		"if [ -s .rp-worker/pid ] && kill -0 \"$(cat .rp-worker/pid)\" 2>/dev/null; then "
		"echo \"running $(cat .rp-worker/pid)\"; exit 0; fi; "
		"(set -a; . ./.rp-worker/env; set +a; exec nohup sh -c %s) >.rp-worker/log 2>&1 </dev/null & "
		"pid=$!; echo $pid > .rp-worker/pid; sleep %.1f; "
		"if kill -0 $pid 2>/dev/null; then echo \"started $pid\"; else "
		"echo \"worker exited at once: $(tail -n 3 .rp-worker/log | tr '\\n' ' ')\" >&2; exit 1; fi",
		wc, START_GRACE);
	struct rp_ssh_res r;
	int code = 0;
	if (run(x, s, j, cmd, env.data, x->cmd_timeout, &r, &code) == 0) {
		if (r.status == 0) {
			j->ok = 1;
			j->t_worker = rp_now();
			rp_info("worker alive", "id", j->id, "host", rp_ssh_name(s), "state", rp_ssh_firstline(r.out));
		} else {
			fail_job(j, rp_xasprintf("worker start failed (exit %d): %s", r.status,
						 rp_ssh_firstline(r.err_len ? r.err : r.out)));
		}
		rp_ssh_res_free(&r);
	}
	free(cmd);
	free(wc);
	rp_buf_free(&env);
	rp_ssh_close(s);
}

/* ---- check ---- */

static cJSON *do_check(struct rp_join *x, struct job *j)
{
	cJSON *rec = rp_rec_new("check");
	cJSON_AddStringToObject(rec, "id", j->id);
	cJSON_AddStringToObject(rec, "host", j->host ? j->host : "");
	cJSON_AddNumberToObject(rec, "port", j->port);
	struct rp_ssh *s = connect_job(x, j);
	if (!s)
		return rec;
	cJSON_AddStringToObject(rec, "fingerprint", rp_ssh_fingerprint(s));
	cJSON_AddStringToObject(rec, "key_type", rp_ssh_keytype(s));
	cJSON_AddBoolToObject(rec, "key_new", rp_ssh_key_new(s));
	struct rp_ssh_res r;
	int code = 0;
	if (run(x, s, j, "nvidia-smi --query-gpu=name,memory.total --format=csv", NULL, 30, &r, &code) == 0) {
		cJSON *gpus = r.status == 0 ? rp_join_gpus(r.out) : cJSON_CreateArray();
		cJSON_AddItemToObject(rec, "gpus", gpus);
		if (r.status != 0) {
			cJSON_AddStringToObject(rec, "gpu_error",
						rp_ssh_firstline(r.err_len ? r.err : "nvidia-smi failed"));
		}
		cJSON_AddNumberToObject(rec, "gpu_count", cJSON_GetArraySize(gpus));
		rp_ssh_res_free(&r);
	}
	if (!j->error &&
	    run(x, s, j, "for p in kubeadm kubelet; do printf '%s=%s\\n' $p \"$(command -v $p)\"; done", NULL, 30, &r,
		&code) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *eq = strchr(line, '=');
			if (!eq)
				continue;
			*eq = 0;
			if (eq[1])
				cJSON_AddStringToObject(rec, line, eq + 1);
			else
				cJSON_AddBoolToObject(rec, line, 0);
		}
		rp_ssh_res_free(&r);
	}
	if (!j->error)
		j->ok = 1;
	rp_ssh_close(s);
	return rec;
}

/* ---- one pod ---- */

/* "steps": when each step of the join ended, in order (rp-join(1)). */
static void add_steps(cJSON *rec, const struct job *j)
{
	const struct {
		const char *k;
		double t;
	} st[] = { { "ssh", j->t_ssh }, { "join", j->t_join }, { "ready", j->t_ready },
		   { "labels", j->t_labels }, { "worker", j->t_worker } };
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
		char ts[40];
		if (st[i].t > 0)
			cJSON_AddStringToObject(o, st[i].k, rp_rfc3339(st[i].t, ts, sizeof ts));
	}
	cJSON_AddItemToObject(rec, "steps", o);
}

static void one(struct rp_join *x, struct job *j)
{
	double t0 = rp_mono();
	cJSON *rec;
	if (!j->host || !*j->host || j->port <= 0)
		fail_job(j, rp_xstrdup("pod record has no ssh_host/ssh_port"));
	if (x->check) {
		rec = j->error ? rp_rec_new("check") : do_check(x, j);
		if (!cJSON_GetObjectItemCaseSensitive(rec, "id"))
			cJSON_AddStringToObject(rec, "id", j->id);
		if (j->error) {
			char *red = rp_redact(j->error);
			cJSON_AddStringToObject(rec, "error", red);
			free(red);
			say_error(x, j, j->error);
		}
		emit(x, rec);
		return;
	}
	if (j->busy) {
		char *p = rp_podlock_path(j->id);
		fail_job(j, rp_xasprintf("another rp-join is joining this pod (it holds %s); left to it", p));
		free(p);
		j->temp = 1;
	}
	if (j->error)
		; /* nothing to try */
	else if (x->worker)
		do_worker(x, j);
	else
		do_kubeadm(x, j);
	char *red = j->error ? rp_redact(j->error) : NULL;
	struct rp_node nd = {
		.id = j->id, .node = j->node, .ready = j->ok, .bootstrap = x->worker ? "worker" : "kubeadm",
		.labels = x->worker ? NULL : x->labels, .ssh_host = j->host, .ssh_port = j->port,
		.fingerprint = j->fp, .seconds = (double)(long)((rp_mono() - t0) * 10) / 10, .error = red,
	};
	rec = rp_node_build(&nd);
	free(red);
	add_steps(rec, j);
	if (j->error) {
		say_error(x, j, j->error);
	} else {
		rp_info("joined", "id", j->id, "node", j->node, "bootstrap", x->worker ? "worker" : "kubeadm");
	}
	if (!j->busy)
		ledger_line(x, j, x->worker ? "worker" : "kubeadm");
	/* The ledger says how the join ended: the reaper needs the lock no more. */
	rp_podlock_drop(j->lock, j->id);
	j->lock = -1;
	emit(x, rec);
}

/* ---- the engine ---- */

struct rp_join *rp_join_new(const struct rp_config *cfg, int check, char **err)
{
	const char *boot = rp_cfg_str(cfg, "kube.bootstrap");
	int worker = boot && !strcmp(boot, "worker");
	if (!worker && (!boot || strcmp(boot, "kubeadm"))) {
		*err = rp_xasprintf("kube.bootstrap (%s): want kubeadm or worker, got '%s'",
				    rp_cfg_where(cfg, "kube.bootstrap"), boot ? boot : "");
		return NULL;
	}
	struct rp_join *x = rp_xcalloc(1, sizeof *x);
	x->t0 = rp_mono();
	x->cfg = cfg;
	x->check = check;
	x->worker = worker;
	pthread_mutex_init(&x->mu, NULL);
	x->so = rp_ssh_opts_cfg(cfg, NULL, 0, NULL);
	x->cmd_timeout = rp_cfg_dur(cfg, "ssh.command_timeout");
	x->join_timeout = rp_cfg_dur(cfg, "kube.join_timeout");
	return x;
}

size_t rp_join_count(const struct rp_join *x)
{
	return x->njobs;
}

/* A pod to join.  Its join lock is taken here, as the record is read and
 * before any thread runs: from now until its ledger line is written (or
 * this process dies) the reaper knows a joiner is alive.  --check joins
 * nothing and takes no lock. */
void rp_join_manual(struct rp_join *x)
{
	x->manual = 1;
}

void rp_join_add(struct rp_join *x, const char *id, const char *name, const char *host, int port)
{
	for (size_t i = 0; i < x->njobs; i++)
		if (!strcmp(x->jobs[i].id, id)) {
			rp_logw("pod given twice; joined once", "id", id);
			return;
		}
	x->jobs = rp_xrealloc(x->jobs, (x->njobs + 1) * sizeof *x->jobs);
	struct job *j = &x->jobs[x->njobs++];
	memset(j, 0, sizeof *j);
	j->id = rp_xstrdup(id);
	j->node = rp_join_node_name(name, id);
	j->host = host ? rp_xstrdup(host) : NULL;
	j->port = port;
	j->lock = -1;
	if (x->check)
		return;
	j->lock = rp_podlock_take(id, LOCK_WAIT);
	if (j->lock >= 0)
		return;
	if (errno == EWOULDBLOCK) {
		j->busy = 1;
	} else {
		char *p = rp_podlock_path(id);
		rp_logw("cannot take the pod's join lock; joining without it (a reaper may take the pod after "
			"its hand-off grace)", "id", id, "lock", p, "error", strerror(errno));
		free(p);
	}
}


/* kube.api_server_tunnel: a port, carried by an R: forward of
 * kube.forwards (the one rp-join --tunnel holds), and a server name. */
static int tunnel_setup(struct rp_join *x, char **err)
{
	const struct rp_config *c = x->cfg;
	long port = rp_cfg_int(c, "kube.api_server_tunnel");
	if (!port)
		return 0;
	if (port < 0 || port > 65535) {
		*err = rp_xasprintf("kube.api_server_tunnel (%s): want a port 1..65535, or 0 for none",
				    rp_cfg_where(c, "kube.api_server_tunnel"));
		return -1;
	}
	struct rp_fwd *fw = NULL;
	int n = rp_fwd_parse_list(rp_cfg_json(c, "kube.forwards"), &fw, err), found = 0;
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		found |= fw[i].kind == 'R' && fw[i].listen == port;
	free(fw);
	if (!found) {
		*err = rp_xasprintf("kube.api_server_tunnel (%s): no R:%ld:HOST:PORT in kube.forwards carries it "
				    "to the API server", rp_cfg_where(c, "kube.api_server_tunnel"), port);
		return -1;
	}
	x->tun_name = rp_cfg_str(c, "kube.api_server_name");
	if (!x->tun_name || !*x->tun_name) {
		*err = rp_xasprintf("kube.api_server_name (%s): a tunnelled join needs a name in the API server's "
				    "certificate", rp_cfg_where(c, "kube.api_server_name"));
		return -1;
	}
	x->tun_port = (int)port;
	return 0;
}

static int setup_kube(struct rp_join *x, char **err)
{
	const struct rp_config *c = x->cfg;
	x->k = rp_kube_open(rp_cfg_str(c, "kube.kubeconfig"), err);
	if (!x->k)
		return -1;
	x->nhash = rp_boot_ca_hashes(rp_kube_ca_pem(x->k), x->hashes, 8, err);
	if (x->nhash < 0)
		return -1;
	x->endpoint = rp_join_endpoint(rp_cfg_str(c, "kube.api_server_endpoint"), rp_kube_server(x->k));
	if (tunnel_setup(x, err) < 0)
		return -1;
	x->token_ttl = rp_cfg_dur(c, "kube.token_ttl");
	if (x->token_ttl <= 0 || x->token_ttl > 3600) {
		*err = rp_xasprintf("kube.token_ttl (%s): must be more than 0 and at most 1h",
				    rp_cfg_where(c, "kube.token_ttl"));
		return -1;
	}
	/* Labels: those the kubelet may set go in the JoinConfiguration. */
	const char *bad = NULL;
	if (rp_join_labels(rp_cfg_json(c, "kube.labels"), &x->labels, &x->self_labels, &bad) < 0) {
		*err = rp_xasprintf("kube.labels (%s): '%s' is not KEY=VALUE", rp_cfg_where(c, "kube.labels"), bad);
		return -1;
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, rp_cfg_json(c, "kube.taints"))
	{
		x->taints = rp_xrealloc(x->taints, (x->ntaints + 1) * sizeof *x->taints);
		if (!cJSON_IsString(e) || rp_join_taint_parse(e->valuestring, &x->taints[x->ntaints]) < 0) {
			*err = rp_xasprintf("kube.taints (%s): want KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute",
					    rp_cfg_where(c, "kube.taints"));
			return -1;
		}
		x->ntaints++;
	}
	const char *st = rp_cfg_str(c, "kube.startup_taint");
	if (st && *st) {
		struct rp_taint t;
		if (rp_join_taint_parse(st, &t) < 0) {
			*err = rp_xasprintf("kube.startup_taint (%s): want KEY[=VALUE]:EFFECT",
					    rp_cfg_where(c, "kube.startup_taint"));
			return -1;
		}
		x->startup_key = (char *)t.key;
	}
	return 0;
}

int rp_join_prepare(struct rp_join *x, char **err)
{
	*err = NULL;
	rp_http_global_init();
	if (x->worker && !x->check)
		x->worker_env = rp_join_worker_env(x->cfg);
	if (!x->worker && !x->check) {
		if (setup_kube(x, err) < 0)
			return -1;
		/* Tokens exist (and are redacted) before any thread runs. */
		for (size_t i = 0; i < x->njobs; i++)
			rp_boot_token_new(&x->jobs[i].tok);
	}
	rp_ledger_path();
	return 0;
}

/* One pod on one of the pool's threads; its outcome is in the job. */
static int one_at(void *arg, size_t i)
{
	struct rp_join *x = arg;
	one(x, &x->jobs[i]);
	return !x->jobs[i].ok;
}

int rp_join_run(struct rp_join *x)
{
	long conc = rp_cfg_int(x->cfg, "ssh.concurrency");
	rp_pool_run(x->njobs, conc > INT_MAX ? INT_MAX : (int)conc, one_at, x, NULL, NULL);
	struct rp_exit e = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	for (size_t i = 0; i < x->njobs; i++)
		rp_exit_add(&e, x->jobs[i].ok ? RP_EXIT_OK : x->jobs[i].temp ? RP_EXIT_TEMP : RP_EXIT_FAIL);
	return rp_exit_code(&e);
}

void rp_join_free(struct rp_join *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->njobs; i++) {
		struct job *j = &x->jobs[i];
		if (j->lock >= 0)
			close(j->lock); /* as if this process ended: no ledger line, the file stays */
		free(j->id);
		free(j->node);
		free(j->host);
		free(j->error);
	}
	free(x->jobs);
	free(x->worker_env);
	free(x->endpoint);
	free(x->self_labels);
	free(x->startup_key);
	for (size_t i = 0; i < x->ntaints; i++)
		free((char *)x->taints[i].key);
	free(x->taints);
	cJSON_Delete(x->labels);
	if (x->k)
		rp_kube_free(x->k);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
