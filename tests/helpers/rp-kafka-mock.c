/* rp-kafka-mock — a Kafka cluster for the test stack: librdkafka's mock
 * cluster (rdkafka_mock.h, real wire protocol) with a tiny control port.
 *
 * Usage: rp-kafka-mock [-b BROKERS] [-t TOPIC:PARTITIONS]... CTL_FIFO OUT_FILE
 *
 * Promises:
 *  - Starts BROKERS (default 3) mock brokers on 127.0.0.1, creates the
 *    topics given (default video-transcode:4), then prints the bootstrap
 *    list as the first line of stdout and flushes it.
 *  - Reads commands, one a line, from CTL_FIFO (reopened at EOF, so any
 *    number of writers may come and go) and appends exactly one line per
 *    command to OUT_FILE: "ok COMMAND[ -> DETAIL]" or "error COMMAND: WHY".
 *    Commands:
 *      ping
 *      topic NAME PARTITIONS
 *      produce TOPIC PARTITION COUNT        (real Produce requests, acked)
 *      commit GROUP TOPIC PARTITION OFFSET  (real OffsetCommit to the group
 *                                            coordinator, group not joined)
 *      broker-down ID | broker-up ID | all-down | all-up
 *      coordinator GROUP ID                 (that broker coordinates GROUP)
 *      leader TOPIC PARTITION ID            (that broker leads the partition)
 *      errors APIKEY CODE COUNT             (next COUNT requests fail)
 *      errors APIKEY clear
 *      quit
 *  - Runs until "quit" or a signal; it keeps no state outside the mock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mock-nodelay.h"

#define OP_TIMEOUT_MS 5000
#define MSG_TIMEOUT_MS "10000" /* message.timeout.ms of our clients */

static rd_kafka_mock_cluster_t *mc;
static rd_kafka_t *mock_rk;     /* owns the mock cluster */
static rd_kafka_t *producer;    /* lazily created client */
static const char *bootstraps;
static int nbrokers = 3;
static int out_fd = -1;
static int dr_fail;             /* delivery failures since the last reset */
static int64_t dr_last = -1;    /* offset of the last delivered message */
static char dr_err[256];

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		dr_fail++;
		snprintf(dr_err, sizeof dr_err, "%s", rd_kafka_err2str(m->err));
	} else if (m->offset > dr_last)
		dr_last = m->offset;
}

struct group {
	char *name;
	rd_kafka_t *rk;
	struct group *next;
};
static struct group *groups;

static void die(const char *what)
{
	fprintf(stderr, "rp-kafka-mock: %s\n", what);
	exit(1);
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	char line[1400];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	line[n++] = '\n';
	/* One write per line: O_APPEND keeps concurrent readers' view whole. */
	if (write(out_fd, line, (size_t)n) != n)
		fprintf(stderr, "rp-kafka-mock: write reply: %s\n", strerror(errno));
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *group, char *err, size_t errsz)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, errsz) ||
	    rd_kafka_conf_set(conf, "message.timeout.ms", MSG_TIMEOUT_MS, err, errsz) ||
	    /* After all-down/all-up the next test's produce must not wait out a
	     * reconnect backoff grown to librdkafka's 10 s default (a produce
	     * timed out in CI right after 11-keda brought the brokers back). */
	    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "500", err, errsz) ||
	    rd_kafka_conf_set(conf, "socket.timeout.ms", "5000", err, errsz) ||
	    rd_kafka_conf_set(conf, "log_level", "3", err, errsz) ||
	    (group && (rd_kafka_conf_set(conf, "group.id", group, err, errsz) ||
		       rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, errsz)))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (type == RD_KAFKA_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rk = rd_kafka_new(type, conf, err, errsz);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

static void cmd_topic(const char *cmd, const char *name, const char *parts)
{
	int n = atoi(parts);
	rd_kafka_resp_err_t e;

	if (!name || n <= 0) {
		reply("error %s: usage: topic NAME PARTITIONS", cmd);
		return;
	}
	e = rd_kafka_mock_topic_create(mc, name, n, nbrokers < 3 ? nbrokers : 3);
	if (e)
		reply("error %s: %s", cmd, rd_kafka_err2str(e));
	else
		reply("ok %s", cmd);
}

static void cmd_produce(const char *cmd, const char *topic, const char *part, const char *count)
{
	char err[256];
	int p, n, i;
	rd_kafka_resp_err_t e;

	if (!topic || !part || !count || (p = atoi(part)) < 0 || (n = atoi(count)) < 0) {
		reply("error %s: usage: produce TOPIC PARTITION COUNT", cmd);
		return;
	}
	if (!producer && !(producer = client(RD_KAFKA_PRODUCER, NULL, err, sizeof err))) {
		reply("error %s: %s", cmd, err);
		return;
	}
	dr_fail = 0;
	dr_last = -1;
	for (i = 0; i < n; i++) {
		char val[64];
		int len = snprintf(val, sizeof val, "job-%d", i);

		e = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
				      RD_KAFKA_V_VALUE(val, (size_t)len),
				      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(producer, 100);
			i--;
			continue;
		}
		if (e) {
			reply("error %s: %s", cmd, rd_kafka_err2str(e));
			return;
		}
	}
	/* Every message is delivered or failed (message.timeout.ms) by then. */
	e = rd_kafka_flush(producer, atoi(MSG_TIMEOUT_MS) + 2000);
	if (e || rd_kafka_outq_len(producer) > 0) {
		rd_kafka_purge(producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(producer, 1000);
		reply("error %s: %s", cmd, e ? rd_kafka_err2str(e) : "not all delivered");
	} else if (dr_fail)
		reply("error %s: %d of %d not delivered: %s", cmd, dr_fail, n, dr_err);
	else if (n == 0)
		reply("ok %s", cmd);
	else	/* Our messages are acked: the log end is at least this. */
		reply("ok %s -> hwm=%lld", cmd, (long long)dr_last + 1);
}

static rd_kafka_t *group_client(const char *name, char *err, size_t errsz)
{
	struct group *g;

	for (g = groups; g; g = g->next)
		if (!strcmp(g->name, name))
			return g->rk;
	g = calloc(1, sizeof *g);
	if (!g || !(g->name = strdup(name)))
		die("out of memory");
	if (!(g->rk = client(RD_KAFKA_CONSUMER, name, err, errsz))) {
		free(g->name);
		free(g);
		return NULL;
	}
	g->next = groups;
	groups = g;
	return g->rk;
}

static void cmd_commit(const char *cmd, const char *group, const char *topic, const char *part,
		       const char *off)
{
	char err[256];
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_queue_t *q;
	rd_kafka_resp_err_t e;

	if (!group || !topic || !part || !off) {
		reply("error %s: usage: commit GROUP TOPIC PARTITION OFFSET", cmd);
		return;
	}
	if (!(rk = group_client(group, err, sizeof err))) {
		reply("error %s: %s", cmd, err);
		return;
	}
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, atoi(part))->offset = strtoll(off, NULL, 10);
	/* Asynchronous commit on a private queue, so a dead cluster costs a
	 * bounded wait rather than a hang. */
	q = rd_kafka_queue_new(rk);
	e = rd_kafka_commit_queue(rk, l, q, NULL, NULL);
	if (!e) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, OP_TIMEOUT_MS);

		if (!ev)
			e = RD_KAFKA_RESP_ERR__TIMED_OUT;
		else {
			const rd_kafka_topic_partition_list_t *r = rd_kafka_event_topic_partition_list(ev);

			e = rd_kafka_event_error(ev);
			if (!e && r && r->cnt > 0)
				e = r->elems[0].err;
			rd_kafka_event_destroy(ev);
		}
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		reply("error %s: %s", cmd, rd_kafka_err2str(e));
	else
		reply("ok %s", cmd);
}

static void cmd_broker(const char *cmd, const char *id, int up)
{
	int b = id ? atoi(id) : 0, lo = b, hi = b, i;
	rd_kafka_resp_err_t e = 0;

	if (!id) {
		lo = 1;
		hi = nbrokers;
	} else if (b < 1 || b > nbrokers) {
		reply("error %s: broker id must be 1..%d", cmd, nbrokers);
		return;
	}
	for (i = lo; i <= hi && !e; i++)
		e = up ? rd_kafka_mock_broker_set_up(mc, i) : rd_kafka_mock_broker_set_down(mc, i);
	if (e)
		reply("error %s: %s", cmd, rd_kafka_err2str(e));
	else
		reply("ok %s", cmd);
}

/* coordinator GROUP ID, leader TOPIC PARTITION ID: pin a group's
 * coordinator or a partition's leader on one broker, so a test can take
 * down the one without the other. */
static void cmd_pin(const char *cmd, const char *what, const char *a, const char *b, const char *c)
{
	int id = atoi(!strcmp(what, "coordinator") ? b : c);
	rd_kafka_resp_err_t e;

	if (id < 1 || id > nbrokers) {
		reply("error %s: broker id must be 1..%d", cmd, nbrokers);
		return;
	}
	if (!strcmp(what, "coordinator"))
		e = rd_kafka_mock_coordinator_set(mc, "group", a, id);
	else
		e = rd_kafka_mock_partition_set_leader(mc, a, atoi(b), id);
	if (e)
		reply("error %s: %s", cmd, rd_kafka_err2str(e));
	else
		reply("ok %s", cmd);
}

/* errors APIKEY CODE COUNT: the next COUNT requests of that ApiKey (raw
 * number: OffsetFetch 9, ListOffsets 2, ...) fail with CODE;
 * errors APIKEY clear: forget the ones not yet used. */
static void cmd_errors(const char *cmd, const char *key, const char *code, const char *count)
{
	int k = key ? atoi(key) : -1, n = count ? atoi(count) : 0, i;
	rd_kafka_resp_err_t errs[64];

	if (k >= 0 && code && !strcmp(code, "clear")) {
		rd_kafka_mock_clear_request_errors(mc, (int16_t)k);
		reply("ok %s", cmd);
		return;
	}
	if (k < 0 || !code || n < 1 || n > 64) {
		reply("error %s: usage: errors APIKEY CODE COUNT (COUNT 1..64)", cmd);
		return;
	}
	for (i = 0; i < n; i++)
		errs[i] = (rd_kafka_resp_err_t)atoi(code);
	rd_kafka_mock_push_request_errors_array(mc, (int16_t)k, (size_t)n, errs);
	reply("ok %s", cmd);
}

/* Returns 0 to stop. */
static int run(char *line)
{
	char cmd[1024], *w[6] = { 0 }, *save = NULL, *t;
	int n = 0;

	line[strcspn(line, "\r\n")] = 0;
	snprintf(cmd, sizeof cmd, "%s", line);
	for (t = strtok_r(line, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n == 0)
		return 1;
	if (!strcmp(w[0], "ping"))
		reply("ok ping -> %s", bootstraps);
	else if (!strcmp(w[0], "topic"))
		cmd_topic(cmd, w[1], w[2]);
	else if (!strcmp(w[0], "produce"))
		cmd_produce(cmd, w[1], w[2], w[3]);
	else if (!strcmp(w[0], "commit"))
		cmd_commit(cmd, w[1], w[2], w[3], w[4]);
	else if (!strcmp(w[0], "broker-down") && w[1])
		cmd_broker(cmd, w[1], 0);
	else if (!strcmp(w[0], "broker-up") && w[1])
		cmd_broker(cmd, w[1], 1);
	else if (!strcmp(w[0], "all-down"))
		cmd_broker(cmd, NULL, 0);
	else if (!strcmp(w[0], "all-up"))
		cmd_broker(cmd, NULL, 1);
	else if (!strcmp(w[0], "errors"))
		cmd_errors(cmd, w[1], w[2], w[3]);
	else if (!strcmp(w[0], "coordinator") && w[1] && w[2])
		cmd_pin(cmd, w[0], w[1], w[2], NULL);
	else if (!strcmp(w[0], "leader") && w[1] && w[2] && w[3])
		cmd_pin(cmd, w[0], w[1], w[2], w[3]);
	else if (!strcmp(w[0], "quit")) {
		reply("ok quit");
		return 0;
	} else
		reply("error %s: unknown command", cmd);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: rp-kafka-mock [-b BROKERS] [-t TOPIC:PARTITIONS]... CTL_FIFO OUT_FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char err[256], line[1024];
	const char *topics[16];
	int ntopics = 0, c, i, run_on = 1;
	rd_kafka_conf_t *conf;
	FILE *in;

	while ((c = getopt(argc, argv, "b:t:")) != -1) {
		if (c == 'b' && (nbrokers = atoi(optarg)) >= 1)
			continue;
		if (c == 't' && ntopics < 16 && strchr(optarg, ':')) {
			topics[ntopics++] = optarg;
			continue;
		}
		usage();
	}
	if (argc - optind != 2)
		usage();
	if (!ntopics)
		topics[ntopics++] = "video-transcode:4";
	signal(SIGPIPE, SIG_IGN);

	if ((out_fd = open(argv[optind + 1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) < 0)
		die("cannot open the output file");

	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err))
		die(err);
	if (!(mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err)))
		die(err);
	if (!(mc = rd_kafka_mock_cluster_new(mock_rk, nbrokers)))
		die("cannot create the mock cluster");
	if (mock_nodelay() < nbrokers)
		die("cannot set TCP_NODELAY on the mock brokers' listeners");
	bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	for (i = 0; i < ntopics; i++) {
		char name[256];
		const char *colon = strrchr(topics[i], ':');
		int parts = atoi(colon + 1);

		snprintf(name, sizeof name, "%.*s", (int)(colon - topics[i]), topics[i]);
		if (parts <= 0 || rd_kafka_mock_topic_create(mc, name, parts, nbrokers < 3 ? nbrokers : 3))
			die("cannot create a topic");
	}
	printf("%s\n", bootstraps);
	fflush(stdout);

	while (run_on) {
		/* Blocks until a writer opens; EOF when the last one closes. */
		if (!(in = fopen(argv[optind], "r"))) {
			if (errno == EINTR)
				continue;
			die("cannot open the control fifo");
		}
		while (run_on && fgets(line, sizeof line, in))
			run_on = run(line);
		fclose(in);
	}

	for (struct group *g = groups, *nx; g; g = nx) {
		nx = g->next;
		rd_kafka_consumer_close(g->rk);
		rd_kafka_destroy(g->rk);
		free(g->name);
		free(g);
	}
	if (producer)
		rd_kafka_destroy(producer);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mock_rk);
	close(out_fd);
	return 0;
}
