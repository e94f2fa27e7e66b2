/* kafka.h — consumer-group lag without joining the group, over our own
 * Kafka wire client (kwire.c): no librdkafka on this path.
 *
 * Promises:
 *  - Bootstrap: "host:port,host:port" ("host" alone is port 9092,
 *    "[::1]:9092" an IPv6 address; each entry read by rp_hostport,
 *    hostport.h: a bare IPv6 address or a port outside 1-65535 is bad);
 *    a bad entry is refused at open.
 *  - One poll: Metadata for the watched topics only (named, with
 *    allow_auto_topic_creation false, from v4; a broker with Metadata v0-v3
 *    only, such as librdkafka's mock cluster, is asked for all topics, as
 *    naming one there may create it) and FindCoordinator per group, at
 *    once; then OffsetFetch per group to its coordinator with explicit
 *    partitions, and per partition leader one ListOffsets for the latest
 *    offsets (-1) and one for the earliest (-2), all its partitions in
 *    each, isolation_level read_uncommitted so "hi" is the high watermark
 *    as kafka-consumer-groups.sh and KEDA see it.  Whatever does not wait
 *    on an answer goes out at once, pipelined.
 *  - Lag of a partition: max(0, hi - max(committed, lo)); with no committed
 *    offset, policy "latest" counts 1 when the partition holds messages
 *    (0 when empty), "earliest" counts hi - lo (the whole retained log).
 *  - Retriable errors (coordinator load in progress, not available, not
 *    coordinator; not leader, leader not available; request timed out;
 *    unstable offset commit; transport errors, malformed answers) are
 *    retried with backoff (100 ms doubling, cap 1 s) until the configured
 *    timeout; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE and a lost
 *    coordinator look the coordinator up again, a leader error or a lost
 *    leader asks Metadata again.  A poll that still fails is an error for
 *    the whole poll: lag is unknown, never 0.
 *  - One handle may serve any number of polls (--serve, --watch,
 *    --trigger): its broker connections stay open between polls; one that
 *    failed, or still owed answers when a poll gave up, is closed and
 *    reopened at its next use.
 *  - Return codes: 0 ok; RP_EXIT_USAGE for an unknown topic ("kafka topic
 *    'x' does not exist") or a group with no committed offset at all on
 *    its topics (an unknown group looks like that through OffsetFetch);
 *    RP_EXIT_FAIL for a group error that no retry mends (authorization);
 *    RP_EXIT_TEMP when Kafka does not answer well enough, or a broker has
 *    no protocol version of ours.  *err is one line; error codes read as
 *    librdkafka wrote them ("Broker: Not coordinator").
 */
#ifndef RP_KAFKA_H
#define RP_KAFKA_H
#include <stddef.h>
#include <stdint.h>

enum { RP_KAFKA_LATEST, RP_KAFKA_EARLIEST };

#define RP_KAFKA_NO_OFFSET (-1001) /* RD_KAFKA_OFFSET_INVALID */

struct rp_kafka_part {
	const char *topic;     /* borrowed from the topics the caller passed */
	int32_t partition;
	int64_t committed;     /* RP_KAFKA_NO_OFFSET when the group has none */
	int64_t lo, hi;        /* low and high watermark */
	int64_t lag;
};

struct rp_kafka_lag {
	const char *group;     /* borrowed */
	int64_t lag;           /* sum over its partitions */
	size_t nparts, ncommitted;
	struct rp_kafka_part *parts;
};

/* One watched pair: group consumes topic. */
struct rp_kafka_watch {
	const char *group, *topic;
};

struct rp_kafka;

/* Opens the handle (no network yet).  timeout bounds a whole poll. */
struct rp_kafka *rp_kafka_open(const char *bootstrap, double timeout, char **err);
void rp_kafka_close(struct rp_kafka *k);

/* Lag of each distinct group among the n watch pairs, in first-seen order.
 * *out gets *nout entries (free with rp_kafka_lags_free). */
int rp_kafka_poll(struct rp_kafka *k, const struct rp_kafka_watch *w, size_t n, int policy,
		  struct rp_kafka_lag **out, size_t *nout, char **err);
void rp_kafka_lags_free(struct rp_kafka_lag *l, size_t n);

/* The lag rule above, for one partition. */
int64_t rp_kafka_part_lag(int64_t committed, int64_t lo, int64_t hi, int policy);
/* "latest"/"earliest" → RP_KAFKA_*, -1 otherwise. */
int rp_kafka_policy(const char *s);

#endif
