/* rdk.h — librdkafka, loaded on first use (dlopen), not linked.
 *
 * No binary links librdkafka: a run that never talks to Kafka (rp-cost,
 * rp-launch, rp-drain, rp-join, rp-checkpoint with fleet.store local,
 * every --help and --version) maps none of its libraries (librdkafka,
 * libssl, libsasl2, libz, liblz4, libzstd: about 90 page faults, 1 MiB
 * resident and a few ms of start-up on every run here).  extscaler.c
 * loads gRPC's C core the same way.
 *
 * Promises:
 *  - rp_rdk_load() loads librdkafka.so.1 once per process (thread-safe)
 *    and resolves every function below.  A library or a function missing
 *    is a broken installation, not bad input: one fatal line naming the
 *    Debian package and exit 1 (RP_EXIT_FAIL), as a missing libcurl was.
 *  - After it returned, the rd_kafka_* calls below (function-like macros,
 *    in any file that includes this header after rdkafka.h) call the
 *    loaded library.
 *    fleetlog.c (the fleet store on Kafka, a producer) is the only user;
 *    it calls rp_rdk_load() before its first rd_kafka_* call.  The lag
 *    poll (kafka.c) speaks Kafka itself (kwire.c).
 */
#ifndef RP_RDK_H
#define RP_RDK_H
#include <librdkafka/rdkafka.h>

void rp_rdk_load(void);

#define RP_RDK_FNS \
	X(rd_kafka_assign) \
	X(rd_kafka_conf_destroy) \
	X(rd_kafka_conf_new) \
	X(rd_kafka_conf_set) \
	X(rd_kafka_conf_set_dr_msg_cb) \
	X(rd_kafka_conf_set_log_cb) \
	X(rd_kafka_consumer_close) \
	X(rd_kafka_consumer_poll) \
	X(rd_kafka_destroy) \
	X(rd_kafka_err2str) \
	X(rd_kafka_flush) \
	X(rd_kafka_message_destroy) \
	X(rd_kafka_message_errstr) \
	X(rd_kafka_new) \
	X(rd_kafka_poll) \
	X(rd_kafka_producev) \
	X(rd_kafka_purge) \
	X(rd_kafka_query_watermark_offsets) \
	X(rd_kafka_topic_partition_list_add) \
	X(rd_kafka_topic_partition_list_destroy) \
	X(rd_kafka_topic_partition_list_new)
#define X(f) extern __typeof__(f) *rp_rdk_##f;
RP_RDK_FNS
#undef X

#ifndef RP_RDK_NO_MACROS /* rdk.c defines the pointers */
#define rd_kafka_assign(...) rp_rdk_rd_kafka_assign(__VA_ARGS__)
#define rd_kafka_conf_destroy(...) rp_rdk_rd_kafka_conf_destroy(__VA_ARGS__)
#define rd_kafka_conf_new(...) rp_rdk_rd_kafka_conf_new(__VA_ARGS__)
#define rd_kafka_conf_set(...) rp_rdk_rd_kafka_conf_set(__VA_ARGS__)
#define rd_kafka_conf_set_dr_msg_cb(...) rp_rdk_rd_kafka_conf_set_dr_msg_cb(__VA_ARGS__)
#define rd_kafka_conf_set_log_cb(...) rp_rdk_rd_kafka_conf_set_log_cb(__VA_ARGS__)
#define rd_kafka_consumer_close(...) rp_rdk_rd_kafka_consumer_close(__VA_ARGS__)
#define rd_kafka_consumer_poll(...) rp_rdk_rd_kafka_consumer_poll(__VA_ARGS__)
#define rd_kafka_destroy(...) rp_rdk_rd_kafka_destroy(__VA_ARGS__)
#define rd_kafka_err2str(...) rp_rdk_rd_kafka_err2str(__VA_ARGS__)
#define rd_kafka_flush(...) rp_rdk_rd_kafka_flush(__VA_ARGS__)
#define rd_kafka_message_destroy(...) rp_rdk_rd_kafka_message_destroy(__VA_ARGS__)
#define rd_kafka_message_errstr(...) rp_rdk_rd_kafka_message_errstr(__VA_ARGS__)
#define rd_kafka_new(...) rp_rdk_rd_kafka_new(__VA_ARGS__)
#define rd_kafka_poll(...) rp_rdk_rd_kafka_poll(__VA_ARGS__)
#define rd_kafka_producev(...) rp_rdk_rd_kafka_producev(__VA_ARGS__)
#define rd_kafka_purge(...) rp_rdk_rd_kafka_purge(__VA_ARGS__)
#define rd_kafka_query_watermark_offsets(...) rp_rdk_rd_kafka_query_watermark_offsets(__VA_ARGS__)
#define rd_kafka_topic_partition_list_add(...) rp_rdk_rd_kafka_topic_partition_list_add(__VA_ARGS__)
#define rd_kafka_topic_partition_list_destroy(...) rp_rdk_rd_kafka_topic_partition_list_destroy(__VA_ARGS__)
#define rd_kafka_topic_partition_list_new(...) rp_rdk_rd_kafka_topic_partition_list_new(__VA_ARGS__)
#endif

#endif
