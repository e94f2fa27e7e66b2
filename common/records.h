/* records.h — the record types that cross pipes between tools, defined
 * once: `decision` (rp-lagwatch -> rp-launch, rp-drain), `pod`
 * (rp-launch -> rp-join) and `node` (rp-join -> rp-drain).
 *
 * Promises:
 *  - Each type's fields, their names and JSON types, are one table here
 *    (rp_rt_decision, rp_rt_pod, rp_rt_node).  The writer builds a record with the
 *    type's builder, the readers take it apart with its checked reader;
 *    both go by the table, so a writer and a reader cannot disagree.
 *  - A checked reader looks at a record of its type only (0 for any other
 *    type: the caller passes it through).  Every field of the table that
 *    is present and not null must have its JSON type, else -1 and WHY is
 *    "FIELD must be ..." (the first bad field in table order); fields the
 *    table does not know are ignored.  rp_recs_refuse() turns that into
 *    the input error "NAME:LINE: TYPE record: WHY" and exit 2.
 *  - Builders write the fields in table order, so records stay byte for
 *    byte what the tools printed before this module.
 */
#ifndef RP_RECORDS_H
#define RP_RECORDS_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "record.h"

enum rp_fkind {
	RP_FK_STR,    /* a string */
	RP_FK_NUM,    /* a number */
	RP_FK_BOOL,   /* true or false */
	RP_FK_COUNT,  /* a whole number 0..10000 */
	RP_FK_PORT,   /* a whole number 0..65535 */
	RP_FK_NAMES,  /* an array of strings */
	RP_FK_ACTION, /* "up", "down" or "hold" */
	RP_FK_NUMINF, /* a number, or "+Inf"/"-Inf" */
	RP_FK_OBJECT  /* an object */
};
struct rp_field {
	const char *name;
	int kind; /* enum rp_fkind */
};
struct rp_rectype {
	const char *type;
	const struct rp_field *f;
	size_t n;
};
extern const struct rp_rectype rp_rt_decision, rp_rt_pod, rp_rt_node;

/* The table's entry for NAME, or NULL. */
const struct rp_field *rp_recs_field(const struct rp_rectype *t, const char *name);
/* 1: REC's present fields have the table's types; -1: the first that does
 * not, "FIELD must be ..." in why[n]. */
int rp_recs_check(const cJSON *rec, const struct rp_rectype *t, char *why, size_t n);
/* "NAME:LINE: TYPE record: WHY" on stderr, exit 2. */
_Noreturn void rp_recs_refuse(const struct rp_rec_reader *rd, const char *type, const char *why);

/* decision: what rp-lagwatch decided and what it saw. */
struct rp_decision {
	const char *action;   /* up, down, hold */
	long count;           /* -1 when absent (reader) */
	int lag_known;        /* 0: "lag":null */
	long long lag;
	int p95_known;        /* 0: "p95_s":null; +-inf print as "+Inf"/"-Inf" */
	double p95_s;
	int nodes_known;      /* 0: burst_nodes and lost_nodes are null */
	long burst_nodes, lost_nodes;
	const cJSON *nodes;   /* names to drain; NULL: absent (reader), [] (builder) */
	const cJSON *idle, *lost; /* names; NULL: absent (reader), [] (builder) */
	const char *reason;
};
cJSON *rp_decision_build(const struct rp_decision *d);
/* 0: not a decision; 1: *d; -1: wrong type (why).  An up decision needs a
 * count. */
int rp_decision_read(const cJSON *rec, struct rp_decision *d, char *why, size_t n);

/* pod: a RunPod pod that is running and reachable. */
struct rp_pod {
	const char *id, *name, *gpu;
	long gpu_count;
	int spot;
	double cost_per_hr;
	const char *ssh_host;
	long ssh_port;        /* 0 when absent (reader) */
	const char *status, *dc;
	const char *error;    /* reader only: a pod record that carries an error */
};
cJSON *rp_pod_build(const struct rp_pod *p);
/* 0: not a pod; 1: *p (absent strings NULL); -1: wrong type (why). */
int rp_pod_read(const cJSON *rec, struct rp_pod *p, char *why, size_t n);

/* node: a host rp-join joined (or failed to). */
struct rp_node {
	const char *id, *node; /* node NULL: absent */
	int ready;
	const char *bootstrap; /* kubeadm, worker */
	const cJSON *labels;   /* NULL: {} (builder), absent (reader) */
	const char *ssh_host;  /* NULL: absent */
	long ssh_port;         /* 0 when absent (reader) */
	const char *fingerprint; /* NULL or "": absent */
	double seconds;
	const char *error;     /* NULL: absent */
};
cJSON *rp_node_build(const struct rp_node *n);
/* 0: not a node; 1: *nd (absent strings NULL); -1: wrong type (why). */
int rp_node_read(const cJSON *rec, struct rp_node *nd, char *why, size_t n);

#endif
