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
 *    so struct rd_kafka_metadata keeps its name; in any file
 *    that includes this header after rdkafka.h) call the loaded library.
 *    kafka.c and fleetlog.c are the only users; each calls rp_rdk_load()
 *    before its first rd_kafka_* call.
 */
#ifndef RP_RDK_H
#define RP_RDK_H
#include <librdkafka/rdkafka.h>

void rp_rdk_load(void);

#define RP_RDK_FNS \
	X(rd_kafka_AdminOptions_destroy) \
	X(rd_kafka_AdminOptions_new) \
	X(rd_kafka_AdminOptions_set_opaque) \
	X(rd_kafka_AdminOptions_set_request_timeout) \
	X(rd_kafka_ListConsumerGroupOffsets) \
	X(rd_kafka_ListConsumerGroupOffsets_destroy) \
	X(rd_kafka_ListConsumerGroupOffsets_new) \
	X(rd_kafka_ListConsumerGroupOffsets_result_groups) \
	X(rd_kafka_assign) \
	X(rd_kafka_conf_destroy) \
	X(rd_kafka_conf_dup) \
	X(rd_kafka_conf_new) \
	X(rd_kafka_conf_set) \
	X(rd_kafka_conf_set_dr_msg_cb) \
	X(rd_kafka_conf_set_log_cb) \
	X(rd_kafka_consumer_close) \
	X(rd_kafka_consumer_poll) \
	X(rd_kafka_destroy) \
	X(rd_kafka_destroy_flags) \
	X(rd_kafka_err2str) \
	X(rd_kafka_error_code) \
	X(rd_kafka_error_string) \
	X(rd_kafka_event_ListConsumerGroupOffsets_result) \
	X(rd_kafka_event_destroy) \
	X(rd_kafka_event_error) \
	X(rd_kafka_event_error_string) \
	X(rd_kafka_event_opaque) \
	X(rd_kafka_event_type) \
	X(rd_kafka_flush) \
	X(rd_kafka_group_result_error) \
	X(rd_kafka_group_result_partitions) \
	X(rd_kafka_message_destroy) \
	X(rd_kafka_message_errstr) \
	X(rd_kafka_metadata) \
	X(rd_kafka_metadata_destroy) \
	X(rd_kafka_new) \
	X(rd_kafka_offsets_for_times) \
	X(rd_kafka_poll) \
	X(rd_kafka_producev) \
	X(rd_kafka_purge) \
	X(rd_kafka_query_watermark_offsets) \
	X(rd_kafka_queue_destroy) \
	X(rd_kafka_queue_new) \
	X(rd_kafka_queue_poll) \
	X(rd_kafka_topic_partition_list_add) \
	X(rd_kafka_topic_partition_list_copy) \
	X(rd_kafka_topic_partition_list_destroy) \
	X(rd_kafka_topic_partition_list_new) \
	X(rd_kafka_topic_partition_list_sort)
#define X(f) extern __typeof__(f) *rp_rdk_##f;
RP_RDK_FNS
#undef X

#ifndef RP_RDK_NO_MACROS /* rdk.c defines the pointers */
#define rd_kafka_AdminOptions_destroy(...) rp_rdk_rd_kafka_AdminOptions_destroy(__VA_ARGS__)
#define rd_kafka_AdminOptions_new(...) rp_rdk_rd_kafka_AdminOptions_new(__VA_ARGS__)
#define rd_kafka_AdminOptions_set_opaque(...) rp_rdk_rd_kafka_AdminOptions_set_opaque(__VA_ARGS__)
#define rd_kafka_AdminOptions_set_request_timeout(...) rp_rdk_rd_kafka_AdminOptions_set_request_timeout(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets(...) rp_rdk_rd_kafka_ListConsumerGroupOffsets(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets_destroy(...) rp_rdk_rd_kafka_ListConsumerGroupOffsets_destroy(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets_new(...) rp_rdk_rd_kafka_ListConsumerGroupOffsets_new(__VA_ARGS__)
#define rd_kafka_ListConsumerGroupOffsets_result_groups(...) rp_rdk_rd_kafka_ListConsumerGroupOffsets_result_groups(__VA_ARGS__)
#define rd_kafka_assign(...) rp_rdk_rd_kafka_assign(__VA_ARGS__)
#define rd_kafka_conf_destroy(...) rp_rdk_rd_kafka_conf_destroy(__VA_ARGS__)
#define rd_kafka_conf_dup(...) rp_rdk_rd_kafka_conf_dup(__VA_ARGS__)
#define rd_kafka_conf_new(...) rp_rdk_rd_kafka_conf_new(__VA_ARGS__)
#define rd_kafka_conf_set(...) rp_rdk_rd_kafka_conf_set(__VA_ARGS__)
#define rd_kafka_conf_set_dr_msg_cb(...) rp_rdk_rd_kafka_conf_set_dr_msg_cb(__VA_ARGS__)
#define rd_kafka_conf_set_log_cb(...) rp_rdk_rd_kafka_conf_set_log_cb(__VA_ARGS__)
#define rd_kafka_consumer_close(...) rp_rdk_rd_kafka_consumer_close(__VA_ARGS__)
#define rd_kafka_consumer_poll(...) rp_rdk_rd_kafka_consumer_poll(__VA_ARGS__)
#define rd_kafka_destroy(...) rp_rdk_rd_kafka_destroy(__VA_ARGS__)
#define rd_kafka_destroy_flags(...) rp_rdk_rd_kafka_destroy_flags(__VA_ARGS__)
#define rd_kafka_err2str(...) rp_rdk_rd_kafka_err2str(__VA_ARGS__)
#define rd_kafka_error_code(...) rp_rdk_rd_kafka_error_code(__VA_ARGS__)
#define rd_kafka_error_string(...) rp_rdk_rd_kafka_error_string(__VA_ARGS__)
#define rd_kafka_event_ListConsumerGroupOffsets_result(...) rp_rdk_rd_kafka_event_ListConsumerGroupOffsets_result(__VA_ARGS__)
#define rd_kafka_event_destroy(...) rp_rdk_rd_kafka_event_destroy(__VA_ARGS__)
#define rd_kafka_event_error(...) rp_rdk_rd_kafka_event_error(__VA_ARGS__)
#define rd_kafka_event_error_string(...) rp_rdk_rd_kafka_event_error_string(__VA_ARGS__)
#define rd_kafka_event_opaque(...) rp_rdk_rd_kafka_event_opaque(__VA_ARGS__)
#define rd_kafka_event_type(...) rp_rdk_rd_kafka_event_type(__VA_ARGS__)
#define rd_kafka_flush(...) rp_rdk_rd_kafka_flush(__VA_ARGS__)
#define rd_kafka_group_result_error(...) rp_rdk_rd_kafka_group_result_error(__VA_ARGS__)
#define rd_kafka_group_result_partitions(...) rp_rdk_rd_kafka_group_result_partitions(__VA_ARGS__)
#define rd_kafka_message_destroy(...) rp_rdk_rd_kafka_message_destroy(__VA_ARGS__)
#define rd_kafka_message_errstr(...) rp_rdk_rd_kafka_message_errstr(__VA_ARGS__)
#define rd_kafka_metadata(...) rp_rdk_rd_kafka_metadata(__VA_ARGS__)
#define rd_kafka_metadata_destroy(...) rp_rdk_rd_kafka_metadata_destroy(__VA_ARGS__)
#define rd_kafka_new(...) rp_rdk_rd_kafka_new(__VA_ARGS__)
#define rd_kafka_offsets_for_times(...) rp_rdk_rd_kafka_offsets_for_times(__VA_ARGS__)
#define rd_kafka_poll(...) rp_rdk_rd_kafka_poll(__VA_ARGS__)
#define rd_kafka_producev(...) rp_rdk_rd_kafka_producev(__VA_ARGS__)
#define rd_kafka_purge(...) rp_rdk_rd_kafka_purge(__VA_ARGS__)
#define rd_kafka_query_watermark_offsets(...) rp_rdk_rd_kafka_query_watermark_offsets(__VA_ARGS__)
#define rd_kafka_queue_destroy(...) rp_rdk_rd_kafka_queue_destroy(__VA_ARGS__)
#define rd_kafka_queue_new(...) rp_rdk_rd_kafka_queue_new(__VA_ARGS__)
#define rd_kafka_queue_poll(...) rp_rdk_rd_kafka_queue_poll(__VA_ARGS__)
#define rd_kafka_topic_partition_list_add(...) rp_rdk_rd_kafka_topic_partition_list_add(__VA_ARGS__)
#define rd_kafka_topic_partition_list_copy(...) rp_rdk_rd_kafka_topic_partition_list_copy(__VA_ARGS__)
#define rd_kafka_topic_partition_list_destroy(...) rp_rdk_rd_kafka_topic_partition_list_destroy(__VA_ARGS__)
#define rd_kafka_topic_partition_list_new(...) rp_rdk_rd_kafka_topic_partition_list_new(__VA_ARGS__)
#define rd_kafka_topic_partition_list_sort(...) rp_rdk_rd_kafka_topic_partition_list_sort(__VA_ARGS__)
#endif

#endif
