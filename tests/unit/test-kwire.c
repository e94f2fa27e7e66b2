/* test-kwire.c — the Kafka wire client (kwire.c) and the lag poll over it
 * (kafka.c) against a fake broker in a thread: the bytes of every request
 * we send checked field by field against Apache Kafka's message specs
 * (tests/vendor/kafka, by tests/unit/kwire-contract.py) at every version
 * we may choose; every answer cut short at every byte is an error and a
 * retry, never a crash; answers out of order break the connection;
 * version negotiation; the bounded reader itself. */
#include "kafka.h"
#include "kwire.h"
#include "rp.h"
#include "t.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the fake broker: node 1, topic "t" (2 partitions), group "g" ---- */
static int lport;
static int vmax[KW_NAPI]; /* versions it offers: 0..vmax */
static int cut_api = -1;  /* answer of this api cut short ... */
static size_t cut_at;     /* ... to this many body bytes, once */
static int cut_all;       /* ... every time */
static int pad_api = -1;  /* answer of this api with 4 bytes too many, once */
static int swap_next;     /* answer the next two requests in reverse order, once */
static int naccepts, ncloses;
static int err_api = -1, err_code; /* answer this api with this error, once */
static int huge_api = -1, huge_all; /* answer this api with a frame of huge_size bytes, once (or always) */
static uint32_t huge_size;          /* ... announced in its size field, its body streamed ... */
static size_t huge_sent;            /* ... bytes written before the client stopped reading */
static int huge_cut;                /* ... and the write failed: the client closed */
static int nreqs[KW_NAPI];         /* requests seen per api */
static FILE *rec;         /* frames for kwire-contract.py */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void hex(FILE *f, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static int readn(int fd, void *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)b + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* The answer body (after the correlation id) to one request. */
static void answer(int api, int ver, struct kw_rd *q, struct kw_buf *b)
{
	const char *s;
	size_t n;
	switch (api) {
	case KW_APIVERSIONS: {
		static const int apis[] = { KW_LISTOFFSETS, KW_METADATA, KW_OFFSETFETCH, KW_FINDCOORDINATOR, KW_APIVERSIONS };
		kw_i16(b, 0);
		int k = 0;
		for (int i = 0; i < 5; i++)
			k += vmax[apis[i]] >= 0;
		kw_i32(b, k);
		for (int i = 0; i < 5; i++)
			if (vmax[apis[i]] >= 0) {
				kw_i16(b, (int16_t)apis[i]);
				kw_i16(b, 0);
				kw_i16(b, (int16_t)vmax[apis[i]]);
			}
		break;
	}
	case KW_METADATA:
		if (ver >= 3)
			kw_i32(b, 0);
		kw_i32(b, 1);
		kw_i32(b, 1);
		kw_str(b, "127.0.0.1");
		kw_i32(b, lport);
		if (ver >= 1)
			kw_str(b, NULL);
		if (ver >= 2)
			kw_str(b, "cluster");
		if (ver >= 1)
			kw_i32(b, 1);
		kw_i32(b, 2);
		for (int t = 0; t < 2; t++) {
			kw_i16(b, 0);
			kw_str(b, t ? "t" : "other");
			if (ver >= 1)
				kw_i8(b, 0);
			kw_i32(b, 2);
			for (int p = 1; p >= 0; p--) { /* not in order */
				kw_i16(b, 0);
				kw_i32(b, p);
				kw_i32(b, 1);
				kw_i32(b, 1);
				kw_i32(b, 1);
				kw_i32(b, 1);
				kw_i32(b, 1);
			}
		}
		break;
	case KW_FINDCOORDINATOR:
		kw_i32(b, 0);
		kw_i16(b, 0);
		kw_str(b, NULL);
		kw_i32(b, 1);
		kw_str(b, "127.0.0.1");
		kw_i32(b, lport);
		break;
	case KW_OFFSETFETCH: {
		int e = err_api == api ? err_code : 0;
		if (e)
			err_api = -1;
		if (ver >= 3)
			kw_i32(b, 0);
		kw_i32(b, 1);
		kw_str(b, "t");
		kw_i32(b, 2);
		for (int p = 0; p < 2; p++) {
			kw_i32(b, p);
			kw_i64(b, p ? -1 : 5); /* p0 committed 5, p1 none */
			if (ver >= 5)
				kw_i32(b, -1);
			kw_str(b, p ? NULL : "");
			kw_i16(b, (int16_t)e);
		}
		if (ver >= 2)
			kw_i16(b, (int16_t)e);
		break;
	}
	case KW_LISTOFFSETS: {
		/* Read the request: which timestamp, which partitions. */
		kw_r32(q);
		if (ver >= 2)
			kw_r8(q);
		int32_t nt = kw_rarr(q);
		int e = err_api == api ? err_code : 0;
		if (e)
			err_api = -1;
		if (ver >= 2)
			kw_i32(b, 0);
		kw_i32(b, nt);
		for (int32_t t = 0; t < nt; t++) {
			kw_rstr(q, &s, &n);
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)n, s);
			kw_str(b, name);
			int32_t np = kw_rarr(q);
			kw_i32(b, np);
			for (int32_t i = 0; i < np; i++) {
				int32_t p = kw_r32(q);
				if (ver >= 4)
					kw_r32(q);
				int64_t ts = kw_r64(q);
				kw_i32(b, p);
				kw_i16(b, (int16_t)e);
				kw_i64(b, -1);
				kw_i64(b, ts == -1 ? (p ? 3 : 10) : (p ? 0 : 2)); /* hi 10/3, lo 2/0 */
				if (ver >= 4)
					kw_i32(b, 0);
			}
		}
		break;
	}
	}
}

static void *broker(void *arg)
{
	int ls = *(int *)arg;
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			return NULL;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_mutex_lock(&mu);
		naccepts++;
		pthread_mutex_unlock(&mu);
		struct kw_buf held = { 0 }; /* an answer held back (swap) */
		for (;;) {
			unsigned char h[4];
			if (readn(fd, h, 4) < 0)
				break;
			uint32_t size = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
			unsigned char *req = malloc(size + 4);
			memcpy(req, h, 4);
			if (size > (1 << 20) || readn(fd, req + 4, size) < 0) {
				free(req);
				break;
			}
			struct kw_rd q = { .p = req + 4, .len = size };
			int api = kw_r16(&q), ver = kw_r16(&q);
			int32_t corr = kw_r32(&q);
			const char *cid;
			size_t cn;
			kw_rstr(&q, &cid, &cn);
			pthread_mutex_lock(&mu);
			if (api >= 0 && api < KW_NAPI)
				nreqs[api]++;
			if (rec) {
				fprintf(rec, "req ");
				hex(rec, req, size + 4);
				fprintf(rec, "\n");
			}
			struct kw_buf body = { 0 }, out = { 0 };
			answer(api, ver, &q, &body);
			size_t blen = body.len;
			if (api == cut_api && (cut_all || cut_at < blen)) {
				blen = cut_at < blen ? cut_at : blen;
				if (!cut_all)
					cut_api = -1;
			}
			int pad = api == pad_api ? 4 : 0;
			if (pad)
				pad_api = -1;
			kw_i32(&out, (int32_t)(blen + 4 + (size_t)pad));
			kw_i32(&out, corr);
			for (size_t i = 0; i < blen; i++)
				kw_i8(&out, (int8_t)body.p[i]);
			if (pad)
				kw_i32(&out, -1);
			if (rec && blen == body.len) {
				fprintf(rec, "resp %d %d ", api, ver);
				hex(rec, out.p, out.len);
				fprintf(rec, "\n");
			}
			int swap = swap_next && api != KW_APIVERSIONS;
			int huge = api == huge_api;
			uint32_t hsize = huge_size;
			if (huge && !huge_all)
				huge_api = -1;
			pthread_mutex_unlock(&mu);
			if (huge) { /* the size field says hsize; the body follows for as long as the client reads */
				unsigned char chunk[65536] = { 0 };
				size_t sent = 0, left = (size_t)hsize + 4;
				ssize_t w2 = 0;
				chunk[0] = (unsigned char)(hsize >> 24), chunk[1] = (unsigned char)(hsize >> 16);
				chunk[2] = (unsigned char)(hsize >> 8), chunk[3] = (unsigned char)hsize;
				memcpy(chunk + 4, out.p + 4, 4); /* the right correlation id */
				while (left > 0) {
					w2 = write(fd, chunk, left < sizeof chunk ? left : sizeof chunk);
					if (w2 <= 0)
						break;
					sent += (size_t)w2;
					left -= (size_t)w2;
					memset(chunk, 0, 8);
				}
				pthread_mutex_lock(&mu);
				huge_sent = sent;
				huge_cut = w2 < 0;
				pthread_mutex_unlock(&mu);
				free(req);
				free(body.p);
				free(out.p);
				if (w2 < 0)
					break;
				continue;
			}
			free(req);
			free(body.p);
			if (swap && !held.len) {
				held = out;
				continue;
			}
			ssize_t wr = write(fd, out.p, out.len);
			free(out.p);
			if (wr < 0)
				break;
			if (held.len) {
				swap_next = 0;
				wr = write(fd, held.p, held.len);
				free(held.p);
				held = (struct kw_buf){ 0 };
				if (wr < 0)
					break;
			}
		}
		free(held.p);
		close(fd);
		pthread_mutex_lock(&mu);
		ncloses++;
		pthread_mutex_unlock(&mu);
	}
}

static void offer(int lo, int md, int of, int fc)
{
	pthread_mutex_lock(&mu);
	vmax[KW_LISTOFFSETS] = lo;
	vmax[KW_METADATA] = md;
	vmax[KW_OFFSETFETCH] = of;
	vmax[KW_FINDCOORDINATOR] = fc;
	vmax[KW_APIVERSIONS] = 2;
	pthread_mutex_unlock(&mu);
}

static char boot[64];

/* Wait until the broker has answered what the last handle left on its
 * connection (and seen it closed): the next mode applies to the next poll. */
static void quiesce(void)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&mu);
		int done = naccepts == ncloses;
		pthread_mutex_unlock(&mu);
		if (done)
			return;
		usleep(1000);
	}
}

/* One poll on a fresh handle: rc, lag in *lag, error in err (or ""). */
static int poll1(double timeout, int64_t *lag, char *err, size_t en)
{
	char *e = NULL;
	struct rp_kafka *k = rp_kafka_open(boot, timeout, &e);
	if (!k) {
		snprintf(err, en, "%s", e);
		free(e);
		return -1;
	}
	struct rp_kafka_watch w = { "g", "t" };
	struct rp_kafka_lag *l = NULL;
	size_t n = 0;
	int rc = rp_kafka_poll(k, &w, 1, RP_KAFKA_LATEST, &l, &n, &e);
	*lag = rc == 0 && n == 1 ? l[0].lag : -1;
	snprintf(err, en, "%s", e ? e : "");
	free(e);
	rp_kafka_lags_free(l, n);
	rp_kafka_close(k);
	return rc;
}

static void reader_tests(void)
{
	unsigned char b[] = { 0, 3, 'a', 'b', 'c', 0, 0, 0, 9, 0xff, 0xff };
	struct kw_rd r = { .p = b, .len = sizeof b };
	const char *s;
	size_t n;
	T_INT(kw_rstr(&r, &s, &n), 0, "a string that fits");
	T_OK(n == 3 && !memcmp(s, "abc", 3) && !r.bad, "its bytes");
	T_INT(kw_rarr(&r), 0, "an array count larger than the bytes left: 0 ...");
	T_INT(r.bad, 1, "... and bad");
	T_INT(kw_r64(&r), 0, "after bad, reads give 0");
	struct kw_rd r2 = { .p = b + 9, .len = 2 };
	T_INT(kw_r16(&r2), -1, "int16 -1");
	T_INT(kw_r8(&r2), 0, "past the end: 0");
	T_INT(r2.bad, 1, "past the end: bad");
	unsigned char nul[] = { 0xff, 0xff };
	struct kw_rd r3 = { .p = nul, .len = 2 };
	T_INT(kw_rstr(&r3, &s, &n), 0, "a null string");
	T_OK(n == 0 && !r3.bad, "null: empty, not bad");
	unsigned char big[] = { 0x7f, 0xff, 'x' };
	struct kw_rd r4 = { .p = big, .len = 3 };
	T_INT(kw_rstr(&r4, &s, &n), -1, "a string longer than the buffer: -1");
	T_INT(r4.bad, 1, "... and bad");
	unsigned char neg[] = { 0xff, 0xff, 0xff, 0xfe };
	struct kw_rd r5 = { .p = neg, .len = 4 };
	kw_rarr(&r5);
	T_INT(r5.bad, 1, "an array count < -1: bad");
	T_STR(kw_errstr(16), "Broker: Not coordinator", "librdkafka's text for NOT_COORDINATOR");
	T_STR(kw_errstr(15), "Broker: Coordinator not available", "... COORDINATOR_NOT_AVAILABLE");
	T_STR(kw_errstr(12345), "Broker: error 12345", "a code we do not name");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	reader_tests();

	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 8) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		return 2;
	lport = ntohs(a.sin_port);
	snprintf(boot, sizeof boot, " 127.0.0.1:%d ", lport);
	pthread_t th;
	pthread_create(&th, NULL, broker, &ls);

	char err[512], path[] = "/tmp/test-kwire.XXXXXX";
	int64_t lag;
	int fd = mkstemp(path);
	rec = fdopen(fd, "w");

	/* Every version profile we may choose: the mock's and a 4.x broker's. */
	static const int prof[][4] = { { 1, 1, 1, 1 }, { 2, 2, 2, 2 }, { 3, 3, 3, 2 }, { 4, 4, 4, 2 },
				       { 5, 4, 5, 2 }, { 5, 2, 5, 2 }, { 10, 12, 9, 6 } };
	for (size_t i = 0; i < sizeof prof / sizeof prof[0]; i++) {
		offer(prof[i][0], prof[i][1], prof[i][2], prof[i][3]);
		int rc = poll1(5, &lag, err, sizeof err);
		T_OK(rc == 0, "versions offered %d/%d/%d/%d: poll ok (rc %d %s)", prof[i][0], prof[i][1],
		     prof[i][2], prof[i][3], rc, err);
		T_INT(lag, 6, "lag: p0 10-5, p1 uncommitted with messages: 1");
	}
	pthread_mutex_lock(&mu);
	fclose(rec);
	rec = NULL;
	pthread_mutex_unlock(&mu);

	/* The contract: what we sent, decoded with the upstream specs. */
	char cmd[256];
	snprintf(cmd, sizeof cmd, "python3 tests/unit/kwire-contract.py %s", path);
	FILE *p = popen(cmd, "r");
	char line[4096];
	int nreq = 0, nresp = 0, nerr = 0;
	static const char *const want[] = {
		"ApiVersions v0 {}",
		"Metadata v1 {\"Topics\":null}",
		"Metadata v2 {\"Topics\":null}",
		"Metadata v3 {\"Topics\":null}",
		"Metadata v4 {\"Topics\":[{\"Name\":\"t\"}],\"AllowAutoTopicCreation\":false}",
		"FindCoordinator v1 {\"Key\":\"g\",\"KeyType\":0}",
		"FindCoordinator v2 {\"Key\":\"g\",\"KeyType\":0}",
		"OffsetFetch v1 {\"GroupId\":\"g\",\"Topics\":[{\"Name\":\"t\",\"PartitionIndexes\":[0,1]}]}",
		"OffsetFetch v5 {\"GroupId\":\"g\",\"Topics\":[{\"Name\":\"t\",\"PartitionIndexes\":[0,1]}]}",
		"ListOffsets v1 {\"ReplicaId\":-1,\"Topics\":[{\"Name\":\"t\",\"Partitions\":[{\"PartitionIndex\":0,\"Timestamp\":-1},{\"PartitionIndex\":1,\"Timestamp\":-1}]}]}",
		"ListOffsets v1 {\"ReplicaId\":-1,\"Topics\":[{\"Name\":\"t\",\"Partitions\":[{\"PartitionIndex\":0,\"Timestamp\":-2},{\"PartitionIndex\":1,\"Timestamp\":-2}]}]}",
		"ListOffsets v2 {\"ReplicaId\":-1,\"IsolationLevel\":0,\"Topics\":[{\"Name\":\"t\",\"Partitions\":[{\"PartitionIndex\":0,\"Timestamp\":-1},{\"PartitionIndex\":1,\"Timestamp\":-1}]}]}",
		"ListOffsets v3 {\"ReplicaId\":-1,\"IsolationLevel\":0,\"Topics\":[{\"Name\":\"t\",\"Partitions\":[{\"PartitionIndex\":0,\"Timestamp\":-1},{\"PartitionIndex\":1,\"Timestamp\":-1}]}]}",
		"ListOffsets v3 {\"ReplicaId\":-1,\"IsolationLevel\":0,\"Topics\":[{\"Name\":\"t\",\"Partitions\":[{\"PartitionIndex\":0,\"Timestamp\":-2},{\"PartitionIndex\":1,\"Timestamp\":-2}]}]}",
	};
	int seen[sizeof want / sizeof want[0]] = { 0 };
	int maxv[KW_NAPI] = { 0 };
	while (p && fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "ERROR", 5)) {
			nerr++;
			T_OK(0, "contract: %s", line);
			continue;
		}
		if (strstr(line, "Response v"))
			nresp++;
		else
			nreq++;
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
			if (!strcmp(line, want[i]))
				seen[i]++;
		static const char *const names[KW_NAPI] = { [KW_LISTOFFSETS] = "ListOffsets ", [KW_METADATA] = "Metadata ",
						     [KW_OFFSETFETCH] = "OffsetFetch ",
						     [KW_FINDCOORDINATOR] = "FindCoordinator " };
		for (int a2 = 0; a2 < KW_NAPI; a2++)
			if (names[a2] && !strncmp(line, names[a2], strlen(names[a2])))
				if (atoi(line + strlen(names[a2]) + 1) > maxv[a2])
					maxv[a2] = atoi(line + strlen(names[a2]) + 1);
	}
	T_INT(p ? pclose(p) : -1, 0, "kwire-contract.py ran");
	T_INT(nerr, 0, "every frame decodes exactly with the upstream spec");
	T_OK(nreq >= 7 * 6, "requests checked: %d", nreq);
	T_OK(nresp >= 7 * 6, "the fake broker's answers checked too: %d", nresp);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		T_OK(seen[i] > 0, "sent, field by field: %s", want[i]);
	T_INT(maxv[KW_METADATA], 4, "Metadata: v4 at most (allow_auto_topic_creation, non-flexible)");
	T_INT(maxv[KW_LISTOFFSETS], 3, "ListOffsets: v3 at most (the 2.0.2 mock's v4+ answers are off by 4 bytes)");
	T_INT(maxv[KW_OFFSETFETCH], 5, "OffsetFetch: v5 at most (non-flexible)");
	T_INT(maxv[KW_FINDCOORDINATOR], 2, "FindCoordinator: v2 at most (non-flexible)");
	unlink(path);

	/* A broker without a version of ours: one line, exit 75. */
	offer(0, 4, 5, 2);
	T_INT(poll1(2, &lag, err, sizeof err), RP_EXIT_TEMP, "ListOffsets v0 only: 75");
	T_OK(strstr(err, "supports ListOffsets v0-v0, rp-lagwatch needs one of v1-v3") && !strchr(err, '\n'),
	     "one line naming the API and the versions (%s)", err);
	offer(5, -1, 5, 2);
	T_INT(poll1(2, &lag, err, sizeof err), RP_EXIT_TEMP, "no Metadata at all: 75");
	T_OK(strstr(err, "does not support Metadata") != NULL, "... says so (%s)", err);

	/* Answers cut short at every byte: an error and a retry, never a crash
	 * nor a wrong lag; cut for good: lag unknown. */
	offer(3, 2, 5, 2);
	static const int apis[] = { KW_APIVERSIONS, KW_METADATA, KW_FINDCOORDINATOR, KW_OFFSETFETCH, KW_LISTOFFSETS };
	for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
		struct kw_buf body = { 0 };
		struct kw_rd q = { 0 };
		if (apis[i] == KW_LISTOFFSETS) { /* as we ask it: both partitions */
			struct kw_buf rq = { 0 };
			kw_i32(&rq, -1), kw_i8(&rq, 0), kw_i32(&rq, 1), kw_str(&rq, "t"), kw_i32(&rq, 2);
			for (int x = 0; x < 2; x++)
				kw_i32(&rq, x), kw_i32(&rq, -1), kw_i64(&rq, -1);
			q = (struct kw_rd){ .p = rq.p, .len = rq.len };
			answer(apis[i], vmax[apis[i]], &q, &body);
			free(rq.p);
		} else {
			answer(apis[i], apis[i] == KW_APIVERSIONS ? 0 : vmax[apis[i]], &q, &body);
		}
		/* Every byte, with a timeout shorter than the first backoff: the
		 * malformed answer ends the poll at once, with its error. */
		int bad = 0;
		for (size_t at = 0; at < body.len; at++) {
			quiesce();
			pthread_mutex_lock(&mu);
			cut_api = apis[i];
			cut_at = at;
			pthread_mutex_unlock(&mu);
			int rc = poll1(0.09, &lag, err, sizeof err);
			if (rc != RP_EXIT_TEMP || !strstr(err, "malformed") || lag != -1) {
				bad++;
				T_OK(0, "%s cut to %zu of %zu bytes: rc %d lag %lld (%s)", kw_apiname(apis[i]), at,
				     body.len, rc, (long long)lag, err);
			}
		}
		T_OK(bad == 0, "%s answer cut at each of its %zu bytes: malformed, lag unknown", kw_apiname(apis[i]),
		     body.len);
		/* With time to retry: the next answer is whole, the lag exact. */
		size_t cuts[] = { 0, body.len / 2, body.len - 1 };
		for (size_t c = 0; c < 3; c++) {
			quiesce();
			pthread_mutex_lock(&mu);
			cut_api = apis[i];
			cut_at = cuts[c];
			pthread_mutex_unlock(&mu);
			int rc = poll1(3, &lag, err, sizeof err);
			T_OK(rc == 0 && lag == 6, "%s cut to %zu bytes once: retried, lag exact (rc %d %s)",
			     kw_apiname(apis[i]), cuts[c], rc, err);
		}
		free(body.p);
	}
	quiesce();
	pthread_mutex_lock(&mu);
	cut_api = KW_OFFSETFETCH;
	cut_at = 7;
	cut_all = 1;
	pthread_mutex_unlock(&mu);
	T_INT(poll1(0.5, &lag, err, sizeof err), RP_EXIT_TEMP, "OffsetFetch always cut short: 75 (lag unknown)");
	T_STR(err, "kafka group 'g': malformed OffsetFetch response", "the error names the group");
	T_INT(lag, -1, "no lag");
	pthread_mutex_lock(&mu);
	cut_api = -1;
	cut_all = 0;
	pthread_mutex_unlock(&mu);

	/* Errors that move things: NOT_COORDINATOR on OffsetFetch looks the
	 * coordinator up again; NOT_LEADER on ListOffsets asks Metadata again;
	 * COORDINATOR_LOAD_IN_PROGRESS only asks again. */
	static const struct {
		int api, code, again_api;
		const char *what;
	} moves[] = {
		{ KW_OFFSETFETCH, 16, KW_FINDCOORDINATOR, "NOT_COORDINATOR: FindCoordinator again" },
		{ KW_OFFSETFETCH, 15, KW_FINDCOORDINATOR, "COORDINATOR_NOT_AVAILABLE: FindCoordinator again" },
		{ KW_OFFSETFETCH, 14, KW_OFFSETFETCH, "COORDINATOR_LOAD_IN_PROGRESS: OffsetFetch again" },
		{ KW_LISTOFFSETS, 6, KW_METADATA, "NOT_LEADER_OR_FOLLOWER: Metadata again" },
		{ KW_LISTOFFSETS, 5, KW_METADATA, "LEADER_NOT_AVAILABLE: Metadata again" },
	};
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		quiesce();
		pthread_mutex_lock(&mu);
		err_api = moves[i].api;
		err_code = moves[i].code;
		memset(nreqs, 0, sizeof nreqs);
		pthread_mutex_unlock(&mu);
		int mrc = poll1(5, &lag, err, sizeof err);
		T_OK(mrc == 0 && lag == 6, "%s once: retried, lag exact (rc %d %s)", moves[i].what, mrc, err);
		T_INT(nreqs[moves[i].again_api], 2, moves[i].what);
		if (moves[i].again_api == KW_OFFSETFETCH)
			T_INT(nreqs[KW_FINDCOORDINATOR], 1, "... and the coordinator is not looked up again");
	}
	quiesce();
	pthread_mutex_lock(&mu);
	err_api = KW_LISTOFFSETS;
	err_code = 29; /* TOPIC_AUTHORIZATION_FAILED: no retry mends it */
	pthread_mutex_unlock(&mu);
	int arc = poll1(5, &lag, err, sizeof err);
	T_OK(arc == RP_EXIT_TEMP && strstr(err, "kafka watermarks of t: Broker: Topic authorization failed"),
	     "an error no retry mends: at once, one line (rc %d %s)", arc, err);

	/* Bytes left after the last field (what librdkafka 2.0.2's mock does
	 * to ListOffsets v4+): malformed, never a lag read off by 4 bytes. */
	static const int papis[] = { KW_APIVERSIONS, KW_METADATA, KW_FINDCOORDINATOR, KW_OFFSETFETCH, KW_LISTOFFSETS };
	for (size_t i = 0; i < sizeof papis / sizeof papis[0]; i++) {
		quiesce();
		pthread_mutex_lock(&mu);
		pad_api = papis[i];
		pthread_mutex_unlock(&mu);
		int prc = poll1(0.09, &lag, err, sizeof err);
		T_OK(prc == RP_EXIT_TEMP && strstr(err, "malformed"), "%s answer with 4 bytes too many: malformed (rc %d %s)",
		     kw_apiname(papis[i]), prc, err);
	}
	pthread_mutex_lock(&mu);
	pad_api = -1;
	pthread_mutex_unlock(&mu);

	/* Answers out of order: the connection is broken (a second one is
	 * opened), never an answer taken for another request's. */
	quiesce();
	pthread_mutex_lock(&mu);
	naccepts = ncloses = 0;
	swap_next = 1;
	pthread_mutex_unlock(&mu);
	int rc = poll1(5, &lag, err, sizeof err);
	T_OK(rc == 0, "answers out of order: poll ok after a reconnect (rc %d %s)", rc, err);
	T_INT(lag, 6, "lag exact");
	T_INT(naccepts, 2, "the connection that answered out of order was closed and reopened");

	/* An answer longer than a frame may be (64 MiB): refused from its
	 * size field, the connection closed at once, never buffered; the
	 * broker could have streamed all of it. */
	static const uint32_t huge_sizes[] = { (64u << 20) + 1, 0x7fffffffu };
	for (size_t i = 0; i < sizeof huge_sizes / sizeof huge_sizes[0]; i++) {
		quiesce();
		pthread_mutex_lock(&mu);
		naccepts = ncloses = 0;
		huge_api = KW_METADATA;
		huge_size = huge_sizes[i];
		huge_sent = 0;
		huge_cut = 0;
		pthread_mutex_unlock(&mu);
		rc = poll1(5, &lag, err, sizeof err);
		quiesce();
		T_OK(rc == 0 && lag == 6, "Metadata answer of %u bytes once: poll ok after a reconnect (rc %d %s)",
		     huge_sizes[i], rc, err);
		T_INT(naccepts, 2, "... its connection closed and reopened");
		T_INT(huge_cut, 1, "... the client closed while the broker was still sending");
		T_OK(huge_sent < (16u << 20), "... after %zu of its %u bytes (< 16 MiB: no more than socket buffers)",
		     huge_sent, huge_sizes[i]);
	}
	quiesce();
	pthread_mutex_lock(&mu);
	huge_api = KW_METADATA;
	huge_all = 1;
	huge_size = (64u << 20) + 1;
	pthread_mutex_unlock(&mu);
	rc = poll1(0.5, &lag, err, sizeof err);
	T_INT(rc, RP_EXIT_TEMP, "Metadata answers always over 64 MiB: 75 (lag unknown)");
	T_OK(strstr(err, "bad response size 67108865") && !strchr(err, '\n'), "... one line naming the size (%s)", err);
	T_INT(lag, -1, "... no lag");
	quiesce();
	pthread_mutex_lock(&mu);
	huge_api = -1;
	huge_all = 0;
	pthread_mutex_unlock(&mu);

	/* Bootstrap lists. */
	char *e = NULL;
	struct rp_kafka *k = rp_kafka_open("[::1]:9092, h2:9093,h3", 1, &e);
	T_OK(k && !e, "IPv6, spaces, a default port: accepted");
	rp_kafka_close(k);
	k = rp_kafka_open("h:99999", 1, &e);
	T_OK(!k && e && strstr(e, "bad bootstrap server 'h:99999'"), "a bad port: refused (%s)", e ? e : "");
	free(e);
	e = NULL;
	k = rp_kafka_open(" , ", 1, &e);
	T_OK(!k && e, "no server: refused");
	free(e);
	shutdown(ls, SHUT_RDWR);
	close(ls);
	pthread_join(th, NULL);
	return T_DONE();
}
