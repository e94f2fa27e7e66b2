/* kafka.h — consumer-group lag with librdkafka, without joining the group.
 *
 * Promises:
 *  - One RD_KAFKA_CONSUMER handle (group.id "rp-lagwatch", never
 *    subscribed, isolation.level read_uncommitted so "hi" is the high
 *    watermark as kafka-consumer-groups.sh and KEDA see it).  Committed
 *    offsets come from ListConsumerGroupOffsets on that consumer handle,
 *    always with explicit partitions (librdkafka 2.0.2 crashes on a
 *    producer handle on coordinator errors, and a NULL list gives nothing).
 *  - Partitions come from one all-topics metadata request (2.0.2 cannot
 *    name topics without building consumer state for every partition);
 *    watermarks from batched ListOffsets (END and BEGINNING, chunks of 250
 *    partitions, a few threads), not two requests per partition; the
 *    OffsetFetch requests (one per group, all at once) overlap them.
 *  - Lag of a partition: max(0, hi - max(committed, lo)); with no committed
 *    offset, policy "latest" counts 1 when the partition holds messages
 *    (0 when empty), "earliest" counts hi - lo (the whole retained log).
 *  - Coordinator errors (load in progress, not available, not coordinator),
 *    timeouts and transport errors are retried with backoff (100 ms
 *    doubling, cap 1 s) until the configured timeout.  A poll that still
 *    fails is an error for the whole poll: lag is unknown, never 0.
 *  - A ListConsumerGroupOffsets never times out inside librdkafka (whose
 *    timeout path frees the request twice and aborts once the coordinator
 *    is back: librdkafka #3663, #4605): the poll stops waiting at its own
 *    deadline, and a poll that leaves any such request unanswered drops
 *    the handle; the next poll opens a fresh one (a reconnect, only after
 *    a failure).  One handle may serve any number of polls.
 *  - Return codes: 0 ok; RP_EXIT_USAGE for an unknown topic or a group with
 *    no committed offset at all on its topics (an unknown group looks like
 *    that through OffsetFetch); RP_EXIT_TEMP when Kafka does not answer
 *    well enough.  *err is one line.
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
