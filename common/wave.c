/* wave.c — the create state machine: slots, waves of creates, polls,
 * adopt and kill rounds, ledger lines (see wave.h). */
#include "wave.h"
#include "state.h"
#include "http.h"
#include "lease.h"
#include "ledger.h"
#include "log.h"
#include "net.h"
#include "record.h"
#include "records.h"
#include "rp.h"
#include "runpod.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static double num(double v, double def)
{
	return v > 0 ? v : def;
}

static void new_name(struct rp_wave *r, struct rp_slot *s)
{
	rp_launch_pod_name(r->prefix, s->name, sizeof s->name);
}

static const char *pod_dc(const cJSON *pod, const struct rp_cand *c)
{
	const char *dc = rp_rec_str(pod, "dataCenterId");
	return dc ? dc : c->dc ? c->dc : "";
}

/* A caller's want tags its ledger lines (rp-join --virtual: which
 * Kubernetes pod the RunPod pod runs). */
static void add_tag(cJSON *e, const struct rp_slot *s)
{
	const cJSON *t;
	if (!s->want)
		return;
	cJSON_ArrayForEach(t, s->want->tag) {
		if (!cJSON_GetObjectItemCaseSensitive(e, t->string))
			cJSON_AddItemToObject(e, t->string, cJSON_Duplicate(t, 1));
	}
}

static int ledger_launched(struct rp_wave *r, struct rp_slot *s)
{
	const struct rp_cand *c = &r->cands[s->cand];
	cJSON *e = rp_ledger_event("launched");
	add_tag(e, s);
	cJSON_AddStringToObject(e, "id", s->id);
	cJSON_AddStringToObject(e, "name", s->name);
	cJSON_AddStringToObject(e, "cluster", rp_cfg_str(r->cfg, "cluster"));
	cJSON_AddStringToObject(e, "gpu", c->gpu);
	cJSON_AddNumberToObject(e, "gpu_count", r->gpu_count);
	cJSON_AddBoolToObject(e, "spot", c->spot);
	cJSON_AddNumberToObject(e, "cost_per_hr", s->cost);
	cJSON_AddStringToObject(e, "dc", pod_dc(s->pod, c));
	if (c->spot)
		cJSON_AddNumberToObject(e, "bid_per_gpu", c->bid);
	return rp_launch_ledger(e);
}

void rp_wave_slot_fail(struct rp_slot *s, int why)
{
	s->state = RP_SLOT_FAIL;
	if (!s->fail || why == RP_FAIL_PAYMENT || why == RP_FAIL_INVALID)
		s->fail = why;
}

/* A spot candidate's bid (runpod.spot_bid, never above
 * runpod.max_bid_per_gpu): 0 known, -1 the candidate died (said why). */
static int price_spot(struct rp_wave *r, struct rp_cand *c)
{
	if (c->dead)
		return -1;
	if (!c->spot || c->bid_known)
		return 0;
	double max_bid = rp_cfg_num(r->cfg, "runpod.max_bid_per_gpu");
	const char *cloud = rp_cfg_str(r->cfg, "runpod.cloud");
	double floor, spot_price;
	char *stock, *err;
	int rc = rp_runpod_spot_price(r->rp, c->gpu, r->gpu_count, c->dc, !(cloud && !strcasecmp(cloud, "COMMUNITY")),
				      &floor, &spot_price, &stock, &err);
	if (rc) {
		rp_logw("spot price unavailable", "gpu", c->gpu, "dc", c->dc ? c->dc : "any", "error", err);
		rp_cand_kill(c, err);
		free(err);
		return -1;
	}
	char fb[32], mb[32], bb[32];
	snprintf(fb, sizeof fb, "%.4f", floor);
	snprintf(mb, sizeof mb, "%.4f", max_bid);
	double bid;
	char *why;
	int br = stock ? rp_launch_bid(r->bid_mode, r->bid_fixed, floor, spot_price, max_bid, &bid, &why) : -1;
	if (!stock) {
		rp_cand_kill(c, "no spot stock");
		rp_info("spot candidate skipped: no stock", "gpu", c->gpu, "dc", c->dc ? c->dc : "any");
	} else if (br < 0) {
		rp_cand_kill(c, why);
		rp_info("spot candidate skipped", "gpu", c->gpu, "dc", c->dc ? c->dc : "any", "why", why);
		free(why);
	} else {
		snprintf(bb, sizeof bb, "%.4f", bid);
		if (br == 1)
			rp_info("spot bid capped at runpod.max_bid_per_gpu", "gpu", c->gpu, "dc", c->dc ? c->dc : "any",
				"floor", fb, "bid", bb);
		c->bid = bid;
		c->bid_known = 1;
		c->price = bid;
	}
	free(stock);
	return c->bid_known ? 0 : -1;
}

/* Next usable candidate from s->cand on; spot ones get their bid.
 * 0 ok; -1: none left (slot failed). */
static int pick(struct rp_wave *r, struct rp_slot *s)
{
	for (; s->cand < r->ncand; s->cand++)
		if (!price_spot(r, &r->cands[s->cand]))
			return 0;
	return -1;
}

static void spec_for(struct rp_wave *r, struct rp_slot *s, struct rp_runpod_spec *sp, char *ta, size_t tan)
{
	const struct rp_cand *c = &r->cands[s->cand];
	memset(sp, 0, sizeof *sp);
	sp->name = s->name;
	sp->image = rp_cfg_str(r->cfg, "runpod.image");
	sp->gpu = c->gpu;
	sp->dc = c->dc;
	sp->cloud = rp_cfg_str(r->cfg, "runpod.cloud");
	sp->gpu_count = r->gpu_count;
	sp->disk_gb = (int)rp_cfg_int(r->cfg, "runpod.disk_gb");
	sp->ports = rp_cfg_json(r->cfg, "runpod.ports");
	sp->env = rp_cfg_json(r->cfg, "runpod.env");
	sp->public_key = r->public_key;
	sp->min_cuda = r->min_cuda;
	sp->spot = c->spot;
	sp->bid_per_gpu = c->bid;
	double after = rp_cfg_dur(r->cfg, "runpod.terminate_after");
	if (c->spot && after > 0) {
		rp_rfc3339(rp_now() + after, ta, tan);
		sp->terminate_after = ta;
	}
	if (s->want) { /* the caller says what runs */
		sp->image = s->want->image;
		sp->args = s->want->args;
		sp->env = s->want->env;
		sp->ports = s->want->ports;
	}
}

/* A created pod: remember it, ledger it (before any wait), wait. */
static void adopt(struct rp_wave *r, struct rp_slot *s, cJSON *pod, double cost_hint)
{
	free(s->id);
	s->id = rp_xstrdup(rp_rec_str(pod, "id"));
	cJSON_Delete(s->pod);
	s->pod = pod;
	double cost = rp_runpod_pod_cost(pod);
	s->cost = cost > 0 ? cost : cost_hint;
	s->creates++;
	s->addr_refused = 0;
	s->state = RP_SLOT_WAIT;
	s->deadline = rp_mono() + num(rp_cfg_dur(r->cfg, "runpod.ready_timeout"), 1200);
	const struct rp_cand *c = &r->cands[s->cand];
	char cb[32];
	snprintf(cb, sizeof cb, "%.4f", s->cost);
	rp_info("pod created", "id", s->id, "name", s->name, "gpu", c->gpu, "dc", pod_dc(pod, c),
		"spot", c->spot ? "true" : "false", "cost_per_hr", cb);
	if (ledger_launched(r, s) < 0) {
		/* Nothing that costs money may go on without its ledger line. */
		r->ledger_broken = 1;
		r->stop = 1;
		s->kill = 1;
		s->kill_why = "ledger not writable";
	}
}

void rp_wave_after_create(struct rp_wave *r, struct rp_slot *s, int oc, cJSON *pod, const char *err)
{
	struct rp_cand *c = &r->cands[s->cand];
	const char *dc = c->dc ? c->dc : "any";
	double hint = (c->spot ? c->bid : c->price) * r->gpu_count;
	switch (oc) {
	case RP_RUNPOD_CREATED:
		adopt(r, s, pod, hint);
		return;
	case RP_RUNPOD_CAPACITY:
	case RP_RUNPOD_FORBIDDEN:
	case RP_RUNPOD_BID:
	case RP_RUNPOD_REFUSED:
		rp_info(oc == RP_RUNPOD_CAPACITY ? "no capacity, next candidate"
			: oc == RP_RUNPOD_FORBIDDEN ? "no access to this pool, skipped"
			: oc == RP_RUNPOD_BID ? "bid refused, next candidate" : "create refused, next candidate",
			"gpu", c->gpu, "dc", dc, "name", s->name, "error", err);
		rp_cand_kill(c, err);
		if (!s->fail || s->fail == RP_FAIL_CAPACITY)
			s->fail = oc == RP_RUNPOD_REFUSED ? RP_FAIL_REFUSED : RP_FAIL_CAPACITY;
		s->state = RP_SLOT_CREATE;
		return;
	case RP_RUNPOD_PAYMENT:
		rp_loge("payment required: creating nothing more", "gpu", c->gpu, "dc", dc, "error", err);
		r->stop = r->payment = 1;
		if (!r->payment_err)
			r->payment_err = rp_xstrdup(err);
		rp_wave_slot_fail(s, RP_FAIL_PAYMENT);
		return;
	case RP_RUNPOD_INVALID:
		rp_loge("request rejected (a bug in the request, not retried)", "gpu", c->gpu, "dc", dc, "error", err);
		r->stop = r->invalid = 1;
		if (!r->invalid_err)
			r->invalid_err = rp_xstrdup(err);
		rp_wave_slot_fail(s, RP_FAIL_INVALID);
		return;
	case RP_RUNPOD_RATE:
		rp_logw("rate limited after waiting Retry-After", "name", s->name, "error", err);
		rp_wave_slot_fail(s, RP_FAIL_TEMP);
		return;
	default: /* UNKNOWN: 5xx / timeout: it may exist.  Look before retrying. */
		rp_logw("create answer unknown; listing pods by name before any retry", "name", s->name,
			"gpu", c->gpu, "dc", dc, "error", err);
		s->state = RP_SLOT_UNKNOWN;
		s->unknown_tries++;
		return;
	}
}

/* Nothing that costs money before its ledger line is durable: the intent
 * to create each name of the wave goes in first (the reaper finds a pod of
 * that name that never got its "launched" line), and a ledger that cannot
 * take it stops the launch (ledger_broken) before any request is sent. */
static void ledger_launching(struct rp_wave *r, const size_t *idx, size_t k)
{
	for (size_t j = 0; j < k && !r->ledger_broken; j++) {
		const struct rp_slot *sl = &r->slots[idx[j]];
		const struct rp_cand *c = &r->cands[sl->cand];
		cJSON *e = rp_ledger_event("launching");
		add_tag(e, sl);
		cJSON_AddStringToObject(e, "name", sl->name);
		cJSON_AddStringToObject(e, "cluster", rp_cfg_str(r->cfg, "cluster"));
		cJSON_AddStringToObject(e, "gpu", c->gpu);
		cJSON_AddBoolToObject(e, "spot", c->spot);
		if (c->dc)
			cJSON_AddStringToObject(e, "dc", c->dc);
		char *lerr = NULL;
		if (rp_ledger_append(e, &lerr) < 0) {
			int shared = errno == EAGAIN; /* kept here, the fleet store did not take it */
			fprintf(stderr, "%s: %s: %s: no pod created\n", rp_prog, shared ? "error" : "fatal", lerr);
			free(lerr);
			r->ledger_broken = !shared; /* a store away is temporary: 75 */
			r->stop = 1;
		}
		cJSON_Delete(e);
	}
}

/* One wave: up to `par` slots that may be created now, all at once.
 * Returns how many requests went out. */
static size_t create_wave(struct rp_wave *r, size_t par)
{
	par = rp_runpod_pace(r->rp, par); /* a wave no larger than the quota left */
	size_t *idx = rp_xcalloc(r->n, sizeof *idx), k = 0;
	double now = rp_mono();
	for (size_t i = 0; i < r->n && k < par; i++) {
		struct rp_slot *s = &r->slots[i];
		if (s->state != RP_SLOT_CREATE || s->not_before > now)
			continue;
		if (r->stop) {
			rp_wave_slot_fail(s, r->payment ? RP_FAIL_PAYMENT : r->invalid ? RP_FAIL_INVALID : RP_FAIL_TEMP);
			continue;
		}
		if (s->creates > (int)r->ncand + 1 || pick(r, s) < 0) {
			if (!s->fail)
				s->fail = RP_FAIL_CAPACITY;
			rp_wave_slot_fail(s, s->fail);
			continue;
		}
		idx[k++] = i;
	}
	if (!k) {
		free(idx);
		return 0;
	}
	struct rp_runpod_call *calls = rp_xcalloc(k, sizeof *calls);
	struct rp_http_req *reqs = rp_xcalloc(k, sizeof *reqs);
	struct rp_http_resp *resps = rp_xcalloc(k, sizeof *resps);
	char (*tas)[40] = rp_xcalloc(k, sizeof *tas);
	for (size_t j = 0; j < k; j++) {
		struct rp_runpod_spec sp;
		spec_for(r, &r->slots[idx[j]], &sp, tas[j], sizeof tas[j]);
		rp_runpod_create_prep(r->rp, &sp, &calls[j]);
		reqs[j] = calls[j].req;
	}
	/* The fence: a replica whose lease lapsed creates nothing more. */
	if (!r->stop && rp_lease_fence("create") < 0)
		r->stop = 1;
	if (!r->ledger_broken && !r->stop)
		ledger_launching(r, idx, k);
	if (r->ledger_broken || r->stop) {
		/* no durable "launching" line: nothing is created */
		for (size_t j = 0; j < k; j++) {
			rp_wave_slot_fail(&r->slots[idx[j]], RP_FAIL_TEMP);
			rp_runpod_call_free(&calls[j]);
		}
	} else {
		char nb[24];
		snprintf(nb, sizeof nb, "%zu", k);
		rp_debug("creating", "pods", nb);
		rp_http_multi(reqs, resps, k, (int)k);
		for (size_t j = 0; j < k; j++) {
			cJSON *pod = NULL;
			char *err = NULL;
			int oc = rp_runpod_create_done(r->rp, &calls[j], &resps[j], &pod, &err);
			rp_wave_after_create(r, &r->slots[idx[j]], oc, pod, err);
			free(err);
			rp_http_resp_free(&resps[j]);
			rp_runpod_call_free(&calls[j]);
		}
	}
	free(tas);
	free(resps);
	free(reqs);
	free(calls);
	free(idx);
	return k;
}

/* Creates go out in waves of runpod.concurrency; after each wave the
 * answers are in (a 402 or 422 stops the next wave, a pool found full is
 * skipped by the next one). */
static void create_round(struct rp_wave *r)
{
	size_t par = (size_t)num((double)rp_cfg_int(r->cfg, "runpod.concurrency"), 16);
	size_t guard = (r->ncand + 2) * (r->n + 1);
	while (guard-- && create_wave(r, par) > 0)
		;
	if (r->stop) /* fail what is left at once */
		create_wave(r, par);
}

static const cJSON *find_by(const cJSON *pods, const char *key, const char *val)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, pods) {
		const char *v = rp_rec_str(p, key);
		if (v && val && !strcmp(v, val))
			return p;
	}
	return NULL;
}

static void emit_pod(struct rp_wave *r, struct rp_slot *s, const char *host, int port)
{
	const struct rp_cand *c = &r->cands[s->cand];
	if (s->want) { /* the caller's, not stdout's */
		struct rp_wave_want *w = s->want;
		free(w->id);
		free(w->ssh_host);
		w->id = rp_xstrdup(s->id);
		w->ssh_host = rp_xstrdup(host);
		w->ssh_port = port;
		w->ready = 1;
		snprintf(w->name, sizeof w->name, "%s", s->name);
		snprintf(w->gpu, sizeof w->gpu, "%s", c->gpu);
		w->cost_per_hr = s->cost;
		return;
	}
	struct rp_pod p = {
		.id = s->id, .name = s->name, .gpu = c->gpu, .gpu_count = r->gpu_count,
		.spot = c->spot, .cost_per_hr = s->cost, .ssh_host = host, .ssh_port = port,
		.status = "RUNNING", .dc = pod_dc(s->pod, c),
	};
	cJSON *o = rp_pod_build(&p);
	if (c->spot)
		cJSON_AddNumberToObject(o, "bid_per_gpu", c->bid);
	rp_out_rec(o);
	cJSON_Delete(o);
}

/* Look before any retry: an unanswered create may have made the pod. */
void rp_wave_resolve_unknown(struct rp_wave *r, struct rp_slot *s, const cJSON *pods, double now)
{
	if (!pods) {
		/* Without a list we cannot know: never create twice. */
		if (++s->unknown_tries > 5) {
			rp_loge("cannot tell whether a create succeeded; leaving it to --reap", "name", s->name);
			cJSON *e = rp_ledger_event("launch_failed");
			cJSON_AddStringToObject(e, "name", s->name);
			cJSON_AddStringToObject(e, "reason", "create unanswered and pods unlistable: "
						"the pod may exist (--reap finds it by name)");
			rp_launch_ledger(e);
			rp_wave_slot_fail(s, RP_FAIL_TEMP);
		}
		return;
	}
	const cJSON *p = find_by(pods, "name", s->name);
	if (p) {
		rp_info("the unanswered create did create a pod: adopting it", "name", s->name, "id",
			rp_rec_str(p, "id"));
		const struct rp_cand *c = &r->cands[s->cand];
		adopt(r, s, cJSON_Duplicate(p, 1), (c->spot ? c->bid : c->price) * r->gpu_count);
	} else if (s->unknown_tries >= 3) {
		rp_wave_slot_fail(s, RP_FAIL_TEMP);
	} else {
		s->state = RP_SLOT_CREATE; /* same candidate, same name, after a pause */
		s->not_before = now + 1.0 * s->unknown_tries;
	}
}

/* One look at all our pods: resolve unknown creates, follow boots,
 * probe SSH banners, time out. */
static void poll_round(struct rp_wave *r, int *list_failed)
{
	cJSON *pods = NULL;
	char *err = NULL;
	int rc = rp_runpod_list(r->rp, r->prefix, &pods, &err);
	*list_failed = rc != 0;
	if (rc) {
		rp_logw("listing pods failed", "error", err);
		free(err);
	}
	double now = rp_mono();
	struct rp_net_probe *probes = rp_xcalloc(r->n, sizeof *probes);
	size_t np = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rp_slot *s = &r->slots[i];
		s->probe = -1;
		if (s->state == RP_SLOT_UNKNOWN) {
			rp_wave_resolve_unknown(r, s, rc ? NULL : pods, now);
			continue;
		}
		if (s->state != RP_SLOT_WAIT || s->kill)
			continue;
		if (!rc) {
			const cJSON *p = find_by(pods, "id", s->id);
			const char *st = p ? rp_runpod_pod_status(p) : "TERMINATED";
			if (p) {
				cJSON_Delete(s->pod);
				s->pod = cJSON_Duplicate(p, 1);
				double c = rp_runpod_pod_cost(p);
				if (c > 0)
					s->cost = c;
			}
			if (!strcmp(st, "EXITED") || !strcmp(st, "ERROR") || !strcmp(st, "TERMINATED")) {
				rp_logw("pod failed during boot; terminating it and trying the next candidate", "id",
					s->id, "name", s->name, "status", st);
				s->kill = 1;
				s->kill_why = "failed during boot";
				continue;
			}
			const char *host, *why;
			int port, sr = !strcmp(st, "RUNNING") && p ? rp_runpod_pod_ssh(p, r->loopback_ok, &host, &port, &why) : -1;
			if (!sr) {
				probes[np].host = host;
				probes[np].port = port;
				s->probe = (int)np++;
				continue;
			}
			if (sr == -2 && !s->addr_refused) { /* said once per pod */
				s->addr_refused = 1;
				rp_logw("the pod's only SSH address is not public: refused, waiting for ssh.direct", "id",
					s->id, "name", s->name, "why", why);
			}
		}
		if (now > s->deadline) {
			rp_logw("pod not ready in runpod.ready_timeout; terminating it", "id", s->id, "name", s->name);
			s->kill = 2;
			s->kill_why = s->addr_refused ? "not ready in runpod.ready_timeout (its only SSH address is not public)"
						      : "not ready in runpod.ready_timeout";
		}
	}
	double ct = num(rp_cfg_dur(r->cfg, "ssh.connect_timeout"), 10);
	rp_net_ssh_banners(probes, np, ct < 5 ? ct : 5, 8); /* per sshd: MaxStartups 10 */
	now = rp_mono();
	for (size_t i = 0; i < r->n; i++) {
		struct rp_slot *s = &r->slots[i];
		if (s->probe < 0)
			continue;
		struct rp_net_probe *pr = &probes[s->probe];
		char ps[16];
		snprintf(ps, sizeof ps, "%d", pr->port);
		if (pr->ok) {
			s->state = RP_SLOT_READY;
			rp_info("pod ready", "id", s->id, "name", s->name, "ssh", pr->host, "port", ps,
				"banner", pr->banner);
			cJSON *e = rp_ledger_event("ready");
			cJSON_AddStringToObject(e, "id", s->id);
			cJSON_AddStringToObject(e, "name", s->name);
			cJSON_AddStringToObject(e, "ssh_host", pr->host);
			cJSON_AddNumberToObject(e, "ssh_port", pr->port);
			rp_launch_ledger(e);
			emit_pod(r, s, pr->host, pr->port);
		} else {
			rp_debug("no SSH banner yet", "id", s->id, "error", pr->err);
			if (now > s->deadline) {
				rp_logw("pod not ready in runpod.ready_timeout; terminating it", "id", s->id, "name",
					s->name, "error", pr->err);
				s->kill = 2;
				s->kill_why = "not ready in runpod.ready_timeout";
			}
		}
	}
	free(probes);
	cJSON_Delete(pods);
}

void rp_wave_killed(struct rp_wave *r, struct rp_slot *s)
{
	int timed_out = s->kill == 2;
	s->kill = 0;
	free(s->id);
	s->id = NULL;
	if (timed_out || r->stop) {
		rp_wave_slot_fail(s, RP_FAIL_TEMP);
	} else { /* boot failure: the next candidate, a new pod name */
		s->cand++;
		new_name(r, s);
		s->state = RP_SLOT_CREATE;
		s->fail = RP_FAIL_TEMP;
	}
}

/* Terminate every slot marked kill this round, at once. */
static void kill_round(struct rp_wave *r)
{
	size_t k = 0;
	const char **ids = rp_xcalloc(r->n, sizeof *ids);
	size_t *idx = rp_xcalloc(r->n, sizeof *idx);
	for (size_t i = 0; i < r->n; i++)
		if (r->slots[i].kill && r->slots[i].id) {
			idx[k] = i;
			ids[k++] = r->slots[i].id;
		}
	if (k) {
		int *rcs = rp_xcalloc(k, sizeof *rcs);
		char **errs = rp_xcalloc(k, sizeof *errs);
		rp_runpod_terminate_many(r->rp, ids, k, rcs, errs);
		for (size_t j = 0; j < k; j++) {
			struct rp_slot *s = &r->slots[idx[j]];
			if (rcs[j]) {
				rp_loge("terminate failed; --reap will retry", "id", s->id, "error", errs[j]);
				rp_launch_ledger_gone("terminate_failed", s->id, s->name, errs[j]);
			} else {
				rp_info("pod terminated", "id", s->id, "name", s->name, "reason", s->kill_why);
				rp_launch_ledger_gone("terminated", s->id, s->name, s->kill_why);
				rp_launch_pod_gone(r->cfg, s->id);
			}
			free(errs[j]);
			rp_wave_killed(r, s);
		}
		free(rcs);
		free(errs);
	}
	free(idx);
	free(ids);
}

/* ---- launch ---------------------------------------------------------------- */

static int dry_run(struct rp_wave *r)
{
	double total = 0;
	size_t made = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rp_slot *s = &r->slots[i];
		if (pick(r, s) < 0)
			break;
		const struct rp_cand *c = &r->cands[s->cand];
		double cost = (c->spot ? c->bid : c->price) * r->gpu_count;
		cJSON *o = rp_rec_new("plan");
		cJSON_AddStringToObject(o, "name", s->name);
		cJSON_AddStringToObject(o, "gpu", c->gpu);
		cJSON_AddNumberToObject(o, "gpu_count", r->gpu_count);
		cJSON_AddBoolToObject(o, "spot", c->spot);
		if (c->spot)
			cJSON_AddNumberToObject(o, "bid_per_gpu", c->bid);
		cJSON_AddNumberToObject(o, "cost_per_hr", cost);
		cJSON_AddStringToObject(o, "dc", c->dc ? c->dc : "any");
		rp_out_rec(o);
		cJSON_Delete(o);
		total += cost;
		made++;
	}
	char tb[32], nb[24];
	snprintf(tb, sizeof tb, "%.4f", total);
	snprintf(nb, sizeof nb, "%zu", made);
	rp_info("dry run: nothing created", "pods", nb, "cost_per_hr", tb);
	/* A slot no candidate could take is short of capacity: temporary. */
	struct rp_exit e = RP_EXIT_INIT(RP_EXIT_ALL_TEMP);
	for (size_t i = 0; i < r->n; i++)
		rp_exit_add(&e, i < made ? RP_EXIT_OK : RP_EXIT_TEMP);
	return rp_exit_code(&e);
}

/* Create, kill, poll, until every slot is READY or FAIL. */
static void run_loop(struct rp_wave *r)
{
	double interval = num(rp_cfg_dur(r->cfg, "runpod.poll_interval"), 2);
	double next_poll = 0;
	for (;;) {
		create_round(r);
		kill_round(r);
		int busy = 0, waiting = 0, unknown = 0;
		double wake = rp_mono() + interval;
		for (size_t i = 0; i < r->n; i++) {
			struct rp_slot *s = &r->slots[i];
			busy += s->state == RP_SLOT_CREATE || s->state == RP_SLOT_UNKNOWN || s->state == RP_SLOT_WAIT;
			waiting += s->state == RP_SLOT_WAIT;
			unknown += s->state == RP_SLOT_UNKNOWN;
			if (s->state == RP_SLOT_CREATE && s->not_before < wake)
				wake = s->not_before;
		}
		if (!busy)
			break;
		double now = rp_mono();
		if (unknown || (waiting && now >= next_poll)) {
			int lf;
			double t_poll = rp_mono();
			poll_round(r, &lf);
			kill_round(r);
			/* Every interval from the start of a poll: a slow
			 * API does not stretch the period. */
			next_poll = t_poll + interval;
			if (lf)
				rp_sleep(interval); /* the API is down: do not spin */
			continue;
		}
		if (waiting && next_poll < wake)
			wake = next_poll;
		if (wake > now)
			rp_sleep(wake - now);
	}
}

int rp_wave_exit(const struct rp_wave *r)
{
	if (r->invalid)
		return RP_EXIT_USAGE;
	if (r->payment || r->ledger_broken)
		return RP_EXIT_FAIL;
	/* rp-launch(1): 1 only when every candidate refused; any slot short
	 * of capacity or met by a temporary error makes it 75. */
	struct rp_exit e = RP_EXIT_INIT(RP_EXIT_ANY_TEMP);
	for (size_t i = 0; i < r->n; i++) {
		const struct rp_slot *s = &r->slots[i];
		rp_exit_add(&e, s->state == RP_SLOT_READY ? RP_EXIT_OK
			    : s->state == RP_SLOT_FAIL && s->fail == RP_FAIL_REFUSED ? RP_EXIT_FAIL
			    : RP_EXIT_TEMP);
	}
	return rp_exit_code(&e);
}

/* Say how the launch ended; the exit code. */
static int report(const struct rp_wave *r)
{
	size_t ready = 0;
	for (size_t i = 0; i < r->n; i++)
		ready += r->slots[i].state == RP_SLOT_READY;
	char a[24], b[24];
	snprintf(a, sizeof a, "%zu", ready);
	snprintf(b, sizeof b, "%zu", r->n);
	rp_info("launch done", "ready", a, "wanted", b);
	if (ready < r->n) {
		for (size_t i = 0; i < r->ncand; i++)
			if (r->cands[i].dead)
				rp_info("candidate unused", "gpu", r->cands[i].gpu, "dc",
					r->cands[i].dc ? r->cands[i].dc : "any", "spot",
					r->cands[i].spot ? "true" : "false", "why", r->cands[i].why);
	}
	if (r->invalid) {
		rp_out_flush();
		fprintf(stderr, "%s: fatal: RunPod rejected the create request: %s\n", rp_prog, r->invalid_err);
	} else if (r->payment) {
		fprintf(stderr, "%s: error: RunPod says payment required: %s\n", rp_prog, r->payment_err);
	}
	return rp_wave_exit(r);
}

/* A setup error: rp-launch exits with it; a caller's wants (a long-running
 * rp-join --virtual) get it back, logged. */
static int setup_failed(struct rp_wave *r, int code, char *err)
{
	if (!r->wants) {
		rp_out_flush();
		rp_fatal(code, "%s", err);
	}
	rp_loge("launch not started", "error", err);
	free(err);
	return code;
}

static int launch(struct rp_config *cfg, long want, int dry, struct rp_wave *r)
{
	r->rp = rp_launch_api(cfg);
	r->loopback_ok = rp_runpod_api_loopback(r->rp);
	char *err = NULL;
	if (!dry && !(r->public_key = rp_launch_public_key(cfg, &err)))
		return setup_failed(r, RP_EXIT_USAGE, err);
	r->prefix = rp_launch_prefix(cfg);
	if (!r->wants)
		r->gpu_count = (int)rp_cfg_int(cfg, "runpod.gpu_count");
	if (r->gpu_count < 1)
		rp_fatal(RP_EXIT_USAGE, "runpod.gpu_count (%s) must be at least 1", rp_cfg_where(cfg, "runpod.gpu_count"));
	r->min_cuda = rp_launch_min_cuda(cfg, &err);
	if (err || rp_launch_bid_policy(cfg, &r->bid_mode, &r->bid_fixed, &err) < 0)
		return setup_failed(r, RP_EXIT_USAGE, err);
	int lk = dry ? -1 : rp_launch_lock(RP_LOCK_SH, -1);
	cJSON *catalog = NULL;
	int rc = rp_runpod_catalog_for(r->rp, r->gpu_count, rp_cfg_str(cfg, "runpod.cloud"), &catalog, &err);
	if (rc) {
		rp_unlock(lk);
		char *e = rp_xasprintf("RunPod catalog: %s", err);
		free(err);
		return setup_failed(r, rc == RP_EXIT_TEMP ? RP_EXIT_TEMP : RP_EXIT_FAIL, e);
	}
	if (rp_launch_candidates(cfg, catalog, &r->cands, &r->ncand, &err) < 0) {
		rp_unlock(lk);
		cJSON_Delete(catalog);
		return setup_failed(r, RP_EXIT_USAGE, err);
	}
	for (size_t i = 0; r->want_gpu && i < r->ncand; i++)
		if (strcmp(r->cands[i].gpu, r->want_gpu))
			rp_cand_kill(&r->cands[i], "not the GPU type asked for");
	/* runpod.order price: spot bids come from GraphQL, not the catalog;
	 * ask for every spot candidate's before ordering. */
	const char *order = rp_cfg_str(cfg, "runpod.order");
	if (order && !strcmp(order, "price") && rp_cfg_bool(cfg, "runpod.spot")) {
		for (size_t i = 0; i < r->ncand; i++)
			price_spot(r, &r->cands[i]);
		rp_launch_cands_sort(r->cands, r->ncand);
	}
	/* The cap counts our live pods as the API sees them. */
	cJSON *pods;
	rc = rp_runpod_list(r->rp, r->prefix, &pods, &err);
	if (rc) {
		rp_unlock(lk);
		rp_launch_cands_free(r->cands, r->ncand);
		cJSON_Delete(catalog);
		char *e = rp_xasprintf("RunPod pod list: %s", err);
		free(err);
		return setup_failed(r, rc == RP_EXIT_TEMP ? RP_EXIT_TEMP : RP_EXIT_FAIL, e);
	}
	long live = 0, cap = rp_cfg_int(cfg, "runpod.max_nodes");
	const cJSON *p;
	cJSON_ArrayForEach(p, pods)
		live += rp_launch_live(rp_runpod_pod_status(p));
	cJSON_Delete(pods);
	long n = want;
	if (live + n > cap) {
		n = cap - live > 0 ? cap - live : 0;
		char a[24], b[24], c[24];
		snprintf(a, sizeof a, "%ld", want);
		snprintf(b, sizeof b, "%ld", live);
		snprintf(c, sizeof c, "%ld", cap);
		rp_logw("runpod.max_nodes caps this launch", "wanted", a, "live", b, "max_nodes", c);
	}
	r->n = (size_t)n;
	r->slots = rp_xcalloc(r->n + 1, sizeof *r->slots);
	for (size_t i = 0; i < r->n; i++) {
		new_name(r, &r->slots[i]);
		r->slots[i].want = r->wants ? &r->wants[i] : NULL;
	}
	if (dry)
		rc = dry_run(r);
	else {
		run_loop(r);
		rc = report(r);
	}
	for (size_t i = 0; i < r->n; i++) {
		free(r->slots[i].id);
		cJSON_Delete(r->slots[i].pod);
	}
	free(r->slots);
	free(r->invalid_err);
	free(r->payment_err);
	rp_launch_cands_free(r->cands, r->ncand);
	cJSON_Delete(catalog);
	free(r->prefix);
	free(r->public_key);
	rp_runpod_free(r->rp);
	r->prefix = r->public_key = NULL;
	r->rp = NULL;
	rp_unlock(lk);
	return rc;
}

int rp_wave_launch(struct rp_config *cfg, long want, int dry)
{
	struct rp_wave R = { .cfg = cfg };
	return launch(cfg, want, dry, &R);
}

int rp_wave_launch_wants(struct rp_config *cfg, struct rp_wave_want *w, size_t n, int gpu_count, const char *gpu)
{
	struct rp_wave R = { .cfg = cfg, .wants = w, .gpu_count = gpu_count, .want_gpu = gpu };
	if (!n)
		return RP_EXIT_OK;
	int rc = launch(cfg, (long)n, 0, &R);
	if (R.rp) { /* a setup failure returned early: free what it had */
		free(R.prefix);
		free(R.public_key);
		rp_runpod_free(R.rp);
	}
	return rc;
}
