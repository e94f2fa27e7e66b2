/* launch.h — the decisions rp-launch makes that can be checked without a
 * network: which (GPU type, data centre) candidates to try and in what
 * order, what our pods are called, which input records ask for pods, and
 * which of our pods are orphans; and the few helpers its two engines
 * (wave.h creates, reap.h reaps) share: the launcher lock, the ledger
 * line writer, the API handle.
 *
 * Promises:
 *  - Our pods are named "<cluster>-burst-" + 8 random [a-z0-9].
 *  - Input: a `decision` record's action is up, down or hold, and an up
 *    carries a whole count 0..10000; anything else is malformed (the
 *    caller exits 2 naming the line, before anything is launched).  Up
 *    decisions are consumed (their counts add up); every other record,
 *    down and hold decisions included, passes through unchanged.
 *  - The launcher lock ($RP_STATE_DIR/launch.lock): launches hold it
 *    shared, --reap exclusive without waiting, so nothing is reaped while
 *    a launcher runs.
 *  - Pods get the operator's ssh public key (ssh.public_key_file, default
 *    ssh.identity_file + ".pub"): rp_launch_public_key() returns it as one
 *    OpenSSH line, or NULL and one line of error when it is missing,
 *    unreadable or not a single "ssh-*|ecdsa-*|sk-* BASE64 [comment]"
 *    line (the caller exits 2 before any request is sent).
 *  - rp_launch_ledger() never lets a ledger failure pass silently: it logs
 *    it and returns -1 (the create engine stops on it).
 *  - Candidates are runpod.gpu_types × runpod.data_centers (an empty
 *    data_centers list means "any": one candidate per GPU with dc NULL),
 *    in preference order (GPU-major), or cheapest first when
 *    runpod.order is "price" (ties keep preference order), or cheapest per
 *    unit of cost.throughput when it is "value".  Under every order a
 *    type with cost.throughput 0 is marked dead (it encodes nothing: never
 *    rented to encode), and a list of nothing but such types is an error.  Spot
 *    candidates (runpod.spot) come first; on-demand ones follow only when
 *    runpod.spot_fallback (or spot is off).  A candidate the catalog
 *    shows with availability NONE is marked dead with a reason, never
 *    dropped silently; so is one in a data centre the catalog does not
 *    list (it is asked for runpod.gpu_count GPUs on runpod.cloud: a data
 *    centre missing from the answer does not offer that, it is no error).
 *    A GPU type the catalog does not know is an error naming its ids.
 *  - A spot bid is never above runpod.max_bid_per_gpu and never under the
 *    live floor: rp_launch_bid() skips the candidate instead, saying why.
 *  - rp_reap_verdict() keeps a pod when Kubernetes knows it (a node named
 *    like the pod, or labelled/annotated rp.io/pod-id with its id); when
 *    a live rp-join holds its join lock (podlock.h) and the ledger's last
 *    word on it is `ready`, `joined` or `join_failed` (a join, or a
 *    re-join, is under way: never reaped from under rp-join); when that
 *    word is `ready` and nobody holds the lock, only for the hand-off
 *    grace (rp-launch has printed the record, rp-join has not taken it
 *    yet), or for the join grace when the lock cannot be read; and when
 *    it is `joined` without a Kubernetes bootstrap (worker mode has no
 *    node).  A pod `joined` to a virtual node (bootstrap "virtual") is
 *    known only through its Kubernetes pod (annotated rp.io/pod-id, passed
 *    in with the nodes by the reaper).  Everything else with our name prefix is an orphan: no ledger
 *    line, `launched` but never ready (its launcher died: the caller makes
 *    sure none is running), ready but its joiner gone, terminated/reaped/
 *    drained but still alive, join failed, preempted.  The verdict is a
 *    pure function of its arguments; *why says which rule decided.
 */
#ifndef RP_LAUNCH_H
#define RP_LAUNCH_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "config.h"

struct rp_runpod;

struct rp_cand {
	const char *gpu;   /* borrowed from the config */
	const char *dc;    /* borrowed; NULL: any data centre */
	int spot;
	double price;      /* catalog price per GPU per hour (spot: spot price) */
	double bid;        /* spot: the live floor, once known */
	int bid_known;
	int rank;          /* preference order */
	int dead;          /* not to be tried (any more) this run */
	char *why;         /* why dead (malloc'd) */
};

int rp_launch_candidates(const struct rp_config *cfg, const cJSON *catalog, struct rp_cand **out,
			 size_t *n, char **err);
/* runpod.order price again, once spot candidates know their bids (the
 * catalog has no spot prices: they come from GraphQL). */
void rp_launch_cands_sort(struct rp_cand *c, size_t n);

/* runpod.min_cuda_version: NULL (unset), the "N.N" string (borrowed), or
 * NULL + *err naming the key when it is not "N.N" (the pattern of the
 * OpenAPI document's gpu.minCudaVersion). */
const char *rp_launch_min_cuda(const struct rp_config *cfg, char **err);

/* The spot bid policy, runpod.spot_bid: floor (the live minimum bid),
 * spot_price (the going spot price; the default: a bid at the floor is
 * the first to be outbid) or a number (USD/h per GPU). */
enum { RP_BID_SPOT_PRICE, RP_BID_FLOOR, RP_BID_FIXED };
/* 0 and *mode (*fixed for a number); -1 + *err naming the key: not one of
 * those, a number <= 0, or a number above runpod.max_bid_per_gpu. */
int rp_launch_bid_policy(const struct rp_config *cfg, int *mode, double *fixed, char **err);
/* One candidate's bid per GPU from its live floor and spot price (< 0:
 * unknown, the floor stands in).  Never above max_bid: a floor above it,
 * or a fixed bid under the floor, skips the candidate (-1, *why malloc'd,
 * one line); a spot price above it bids max_bid (1: capped, still at or
 * over the floor); else 0.  *bid is set when >= 0 is returned. */
int rp_launch_bid(int mode, double fixed, double floor, double spot_price, double max_bid, double *bid,
		  char **why);
void rp_launch_cands_free(struct rp_cand *c, size_t n);
/* Mark a candidate dead (keeps the first reason). */
void rp_cand_kill(struct rp_cand *c, const char *why);

/* Our pod name prefix: "<cluster>-burst-" (malloc'd). */
char *rp_launch_prefix(const struct rp_config *cfg);
/* A fresh pod name: prefix + 8 random [a-z0-9], cut to fit n. */
void rp_launch_pod_name(const char *prefix, char *out, size_t n);
/* 1: a live pod status (anything but EXITED, ERROR, TERMINATED; NULL is
 * live: the API did not say); 0: not. */
int rp_launch_live(const char *status);

/* One input record, read by records.h's checked decision reader: 1 an up
 * decision (*count set), 0 passes through, -1 a field of the wrong type
 * (why[n]: "FIELD must be ...", for rp_recs_refuse). */
int rp_launch_decision(const cJSON *rec, long *count, char *why, size_t n);

/* The launcher lock (state.h's launch.lock), taken with rp_lock(flags,
 * wait): launchers RP_LOCK_SH waiting, the reaper RP_LOCK_EX without
 * waiting.  The fd (release with rp_unlock), or -1 when someone else holds
 * it.  Exits 1 when the state directory or the file cannot be made. */
int rp_launch_lock(int flags, double wait);
/* The RunPod API handle; exits 2 naming the problem (no key, bad file). */
struct rp_runpod *rp_launch_api(struct rp_config *cfg);
/* The pods' ssh public key line (malloc'd), or NULL + *err (see above). */
char *rp_launch_public_key(const struct rp_config *cfg, char **err);
/* Append a ledger line and free it: 0, or -1 (logged). */
int rp_launch_ledger(cJSON *rec);
/* A `terminated`/`terminate_failed`-style line: id, name, reason. */
void rp_launch_ledger_gone(const char *event, const char *id, const char *name, const char *why);
/* A pod confirmed terminated (drain, reaper, a failed wave, the virtual
 * node): what we learnt of it goes with it — its host key lines in
 * ssh.known_hosts (rp_ssh_forget_pod), so a later pod given the same
 * IP:port is trusted on first use again.  A failure is logged only. */
void rp_launch_pod_gone(const struct rp_config *cfg, const char *id);

/* The ledger's last event per pod id (and name -> id), for the reaper. */
struct rp_ledger_index;
struct rp_ledger_index *rp_ledger_index_load(const char *path, char **err);
void rp_ledger_index_free(struct rp_ledger_index *ix);
/* Last event for a pod id (or, failing that, its name), with its time
 * and record; NULL when the ledger never mentions it. */
const cJSON *rp_ledger_index_last(const struct rp_ledger_index *ix, const char *id, const char *name);

/* How long --reap keeps a `ready` pod no rp-join holds: rp-launch prints a
 * pod's record as soon as its `ready` line is durable and rp-join locks
 * the pod as it reads the record (milliseconds), and no reaper runs while
 * a launcher does (launch.lock), so the real window is the pipe's; 30 s
 * covers a stalled rp-join start on a loaded host many times over, and is
 * all a tick killed in that window leaves paid.  See rp-launch(1). */
#define RP_HANDOFF_GRACE 30.0

/* 1: reap, 0: keep.  joiner: 1 a live rp-join holds the pod's join lock,
 * 0 nobody does, -1 cannot tell.  handoff: how long a `ready` pod nobody
 * holds is kept; join_grace: how long one whose lock cannot be read is.
 * *why says which rule decided (static storage, valid until the next call). */
int rp_reap_verdict(const cJSON *pod, const cJSON *nodes, const struct rp_ledger_index *ix, double now,
		    int joiner, double handoff, double join_grace, const char **why);

#endif
