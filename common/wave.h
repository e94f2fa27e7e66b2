/* wave.h — rp-launch's create engine: turn a count into RunPod pods that
 * are really ready (an SSH banner answers), or say why not.
 *
 * Promises (the safety orders, in the order a pod meets them):
 *  - No create before its `launching` ledger line is durable.  Creates go
 *    out in waves of runpod.concurrency; every name of a wave is ledgered
 *    `launching` first, and a ledger that cannot take a line stops the
 *    launch before any request is sent (exit 1, "no pod created").
 *  - With a replicated ledger (fleetlog.h) "durable" means acknowledged
 *    by the fleet store: a `launching` line it did not take stops the
 *    launch before any request (exit 75).  Before each wave of creates the
 *    lease fence (lease.h) is checked: lapsed, nothing more is created
 *    (75 when no pod is ready).
 *  - A created pod is ledgered `launched` (id, name, gpu, cost, dc) before
 *    any wait; a pod whose `launched` line cannot be written is terminated
 *    at once and nothing more is created.
 *  - An unanswered create (timeout, 5xx) may have made a pod: its slot
 *    goes to RP_SLOT_UNKNOWN, and the pods are listed by name before any
 *    retry.  Found: adopted (and ledgered `launched`).  Not found: the same
 *    name on the same candidate is tried again after a pause, at most three
 *    times.  While the list itself fails nothing is created for that slot;
 *    after five such looks it is ledgered `launch_failed` (the pod may
 *    exist: --reap finds it by name) and the slot fails.
 *  - A pool found full, forbidden, or refusing the bid is not tried again
 *    this run; the slot moves to the next candidate.  402 (payment) and 422
 *    (invalid request) stop every further create.  A slot makes at most
 *    ncand + 2 creates.
 *  - A pod that fails during boot (EXITED, ERROR, gone) is terminated and
 *    its slot tries the next candidate under a new name; one not ready in
 *    runpod.ready_timeout is terminated and its slot fails.  Every
 *    terminate is ledgered `terminated` or `terminate_failed`.
 *  - A pod is `ready` (ledgered, then printed as a `pod` record) only when
 *    the pod is RUNNING and its SSH port answers with a banner; an address
 *    from the runtime.ports fallback that is not public (runpod.h) is
 *    never probed (said once; the pod waits for ssh.direct or times out).
 *  - The cap: live pods with our prefix + this launch <= runpod.max_nodes.
 *  - Exit: 0 all ready; 3 some; 75 none and the cause may pass (capacity,
 *    rate limits, timeouts); 1 none because every pool refused, or 402,
 *    or the ledger broke; 2 on 422 (a bug in the request).
 *  - Holds launch.lock shared while it creates (rp_launch_lock), so no
 *    --reap runs meanwhile; --dry-run takes no lock and creates nothing.
 */
#ifndef RP_WAVE_H
#define RP_WAVE_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "config.h"
#include "launch.h"

/* Why a slot ended without a ready pod; decides the exit code. */
enum { RP_FAIL_NONE, RP_FAIL_CAPACITY, RP_FAIL_TEMP, RP_FAIL_REFUSED, RP_FAIL_PAYMENT, RP_FAIL_INVALID };

/* A slot's life: CREATE -> (UNKNOWN ->) WAIT -> READY, or FAIL. */
enum { RP_SLOT_CREATE, RP_SLOT_UNKNOWN, RP_SLOT_WAIT, RP_SLOT_READY, RP_SLOT_FAIL };

/* One pod a caller describes (rp-join --virtual runs Kubernetes pods):
 * its image, start command, env and ports replace runpod.image, .env and
 * .ports; tag's fields go into its `launching` and `launched` ledger
 * lines (so the caller finds the pod again after a restart).  Nothing is
 * printed on stdout: a ready pod fills the out fields. */
struct rp_wave_want {
	const char *image;
	const char *args;         /* NULL: the image's own */
	const cJSON *env;         /* object of strings, or NULL */
	const cJSON *ports;       /* array of "N/tcp"; NULL: ["22/tcp"] */
	const cJSON *tag;         /* object, or NULL */
	/* out, once ready (id and ssh_host malloc'd: the caller frees) */
	int ready;
	char name[160];
	char *id, *ssh_host;
	int ssh_port;
	char gpu[96];
	double cost_per_hr;
};

/* One pod wanted. */
struct rp_slot {
	int state;
	size_t cand;          /* candidate in use, or the next to try */
	char name[160];
	int unknown_tries;
	int creates;          /* pods created for this slot so far */
	double not_before;    /* monotonic */
	double deadline;      /* monotonic: readiness deadline */
	char *id;
	cJSON *pod;           /* last seen (owned) */
	double cost;
	int fail;
	int probe;            /* index into this round's probes, or -1 */
	int kill;             /* to terminate this round: 1 boot failure, 2 timed out */
	const char *kill_why;
	struct rp_wave_want *want; /* the caller's, or NULL: the config's pod */
	int addr_refused;     /* its runtime SSH address was refused (logged once) */
};

/* One launch. */
struct rp_wave {
	struct rp_config *cfg;
	struct rp_runpod *rp;
	struct rp_cand *cands;
	size_t ncand;
	struct rp_slot *slots;
	size_t n;
	char *prefix;
	int gpu_count;
	char *public_key;     /* sent as PUBLIC_KEY in every create */
	int stop;             /* 402/422/ledger: create nothing more */
	int payment, invalid;
	char *invalid_err, *payment_err;
	int ledger_broken;
	struct rp_wave_want *wants; /* rp_wave_launch_wants: one per slot */
	const char *want_gpu;       /* only this GPU type of runpod.gpu_types */
	int loopback_ok;      /* runpod.api_url is loopback: so may a pod's address be */
	const char *min_cuda; /* runpod.min_cuda_version (borrowed), or NULL */
	int bid_mode;         /* runpod.spot_bid (launch.h RP_BID_*) */
	double bid_fixed;
};

/* Launch `want` pods (--dry-run: print the plan, create nothing).  Returns
 * the exit code; a configuration or API setup error exits from here. */
int rp_wave_launch(struct rp_config *cfg, long want, int dry);
/* The same engine and orders for n described pods with gpu_count GPUs
 * each, of the GPU type gpu (one of runpod.gpu_types; NULL: any, in the
 * configured order).  The cap may leave some wants not ready.  A setup
 * failure (catalog, pod list, public key) is logged and returned, never
 * exited on. */
int rp_wave_launch_wants(struct rp_config *cfg, struct rp_wave_want *w, size_t n, int gpu_count, const char *gpu);

/* The steps of the state machine, for the engine and its tests.  None of
 * them talks to the network; after_create and resolve_unknown may write
 * the ledger (adopting a pod writes its `launched` line). */

/* End a slot; the first reason stays unless a later one is 402 or 422. */
void rp_wave_slot_fail(struct rp_slot *s, int why);
/* A create's outcome (RP_RUNPOD_*) applied to its slot. */
void rp_wave_after_create(struct rp_wave *w, struct rp_slot *s, int oc, cJSON *pod, const char *err);
/* A slot in RP_SLOT_UNKNOWN after one look at our pods (pods NULL: the
 * list failed): adopt the pod of that name, retry later, or fail. */
void rp_wave_resolve_unknown(struct rp_wave *w, struct rp_slot *s, const cJSON *pods, double now);
/* After its pod was terminated (kill 1: next candidate under a new name;
 * kill 2 or a stopped launch: the slot fails). */
void rp_wave_killed(struct rp_wave *w, struct rp_slot *s);
/* The exit code for slots that all ended (READY or FAIL). */
int rp_wave_exit(const struct rp_wave *w);

#endif
