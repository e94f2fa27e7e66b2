/* kwire.h — a small Kafka wire-protocol client: request framing, bounded
 * response reading, and one poll() loop driving several broker
 * connections at once (kafka.c asks it for consumer-group lag).
 *
 * Promises:
 *  - Requests: int32 size, int16 api_key, int16 api_version, int32
 *    correlation_id, client_id "rp-lagwatch" (request header v1), then the
 *    body an encoder writes for the version chosen; responses: int32 size,
 *    int32 correlation_id (response header v0), then the body.  Only
 *    non-flexible versions (no compact strings, no tagged fields).
 *  - Versions: each connection sends ApiVersions v0 first and encodes its
 *    other requests once that answer is in (one loopback round trip, once
 *    per connection, which a long-lived client keeps): each API goes out
 *    at the highest version both sides support within KW_VERSIONS below.
 *    Those ranges hold versions both a Kafka 4.x broker (KIP-896 removed
 *    Metadata v0-v3, FindCoordinator, OffsetFetch and ListOffsets v0) and
 *    librdkafka 2.0.2's mock cluster (Metadata <= 2, FindCoordinator <= 2,
 *    OffsetFetch <= 5) accept; ListOffsets stops at v3 because that mock
 *    answers v4+ with an 8-byte LeaderEpoch where the spec has int32
 *    (rdkafka_mock_handlers.c), and we have no epoch to fence with.  A broker with no version in range fails that request with
 *    KW_EVERSION and a one-line error naming the API and the broker.
 *  - Per connection, requests are written in order and pipelined; Kafka
 *    answers in order, so the head of the in-flight queue must carry the
 *    next answer's correlation id: anything else (or a size < 4 or > 64
 *    MiB) is a broken connection, never a mismatched answer.
 *  - Reading (struct kw_rd) never leaves the buffer: a read past its end
 *    sets bad and yields 0 / an empty string from then on, and an array
 *    count larger than the bytes left is bad at once (so loops over
 *    counts are bounded by the response size).  A decoder that sees bad
 *    reports a malformed response: an error, never a crash; so does one
 *    with bytes left after its last field (kw_rend).
 *  - Connections are non-blocking (resolution with getaddrinfo, every
 *    address tried in turn); kw_poll() never waits past its deadline.  A
 *    connection that fails (refused, reset, closed, malformed) fails every
 *    request on it with KW_ETRANSPORT and is closed; the next kw_send()
 *    on it reconnects.  kw_abandon() drops every request still pending
 *    without a callback and closes each connection that still owes an
 *    answer (or is still connecting), so a client outlives a poll that
 *    gave up and never takes an old answer for a new request.
 *  - Every callback runs exactly once per kw_send() (unless abandoned),
 *    from kw_poll() only.
 *  - Resolution is getaddrinfo's (blocking; bootstrap and advertised
 *    listeners are addresses or local names in practice).
 *  - Errors are one line: "kafka broker HOST:PORT: WHY".
 */
#ifndef RP_KWIRE_H
#define RP_KWIRE_H
#include <stddef.h>
#include <stdint.h>

enum {
	KW_LISTOFFSETS = 2,
	KW_METADATA = 3,
	KW_OFFSETFETCH = 9,
	KW_FINDCOORDINATOR = 10,
	KW_APIVERSIONS = 18,
	KW_NAPI = 19
};

/* Our [min, max] per API key: see the promise above. */
#define KW_VERSIONS                                                                       \
	X(KW_LISTOFFSETS, "ListOffsets", 1, 3) X(KW_METADATA, "Metadata", 1, 4)             \
	X(KW_OFFSETFETCH, "OffsetFetch", 1, 5) X(KW_FINDCOORDINATOR, "FindCoordinator", 1, 2) \
	X(KW_APIVERSIONS, "ApiVersions", 0, 0)

/* The outcome a callback gets. */
enum { KW_OK, KW_ETRANSPORT, KW_EVERSION };

/* ---- encoding ---- */
struct kw_buf {
	unsigned char *p;
	size_t len, cap;
};
void kw_i8(struct kw_buf *b, int8_t v);
void kw_i16(struct kw_buf *b, int16_t v);
void kw_i32(struct kw_buf *b, int32_t v);
void kw_i64(struct kw_buf *b, int64_t v);
void kw_str(struct kw_buf *b, const char *s); /* int16 length + bytes; NULL: -1 */

/* ---- bounded reading ---- */
struct kw_rd {
	const unsigned char *p;
	size_t len, off;
	int bad;
};
int8_t kw_r8(struct kw_rd *r);
int16_t kw_r16(struct kw_rd *r);
int32_t kw_r32(struct kw_rd *r);
int64_t kw_r64(struct kw_rd *r);
/* A string: *s points into the buffer (not NUL-terminated), *n its length;
 * a null string gives n 0.  Returns 0, or -1 (and bad) when it does not fit. */
int kw_rstr(struct kw_rd *r, const char **s, size_t *n);
/* An array count: -1 (null) and 0.. as read; a count larger than the bytes
 * left (each element takes one at least) sets bad and gives 0. */
int32_t kw_rarr(struct kw_rd *r);
/* The end of a body: bytes left after the last field make it bad (a
 * broker and we disagree on the layout).  Returns !bad. */
int kw_rend(struct kw_rd *r);
/* A string equal to the NUL-terminated want. */
int kw_streq(const char *s, size_t n, const char *want);

/* The librdkafka-compatible text of a Kafka error code ("Broker: Not
 * coordinator"), "Broker: error N" for codes we do not name. */
const char *kw_errstr(int code);
/* "Metadata", … or "api N". */
const char *kw_apiname(int api);

/* ---- the client ---- */
struct kw_client;
struct kw_conn;

/* Writes a request body for version ver. */
typedef void (*kw_enc_fn)(void *arg, struct kw_buf *b, int ver);
/* Gets the answer: how KW_OK/KW_ETRANSPORT/KW_EVERSION, err one line (NULL
 * on KW_OK), r the body (NULL unless KW_OK), ver its version. */
typedef void (*kw_dec_fn)(void *arg, int how, const char *err, struct kw_rd *r, int ver);

struct kw_client *kw_client_new(void);
void kw_client_free(struct kw_client *c);
/* The connection to host:port (made, or found again); NULL only for a port
 * out of range. */
struct kw_conn *kw_conn(struct kw_client *c, const char *host, int port);
const char *kw_conn_name(const struct kw_conn *k); /* "host:port" */
/* Queues one request (connecting first when needed). */
void kw_send(struct kw_conn *k, int api, kw_enc_fn enc, kw_dec_fn dec, void *arg);
/* Drives every connection until `until` (rp_mono() seconds) or until a
 * callback ran, whichever first.  Returns how many callbacks ran. */
int kw_poll(struct kw_client *c, double until);
/* Requests in flight or queued on any connection. */
size_t kw_pending(const struct kw_client *c);
/* Forget every pending callback (see the promises). */
void kw_abandon(struct kw_client *c);

/* The request bytes kw_send would write (framing included) with
 * correlation id corr: for the contract test. */
void kw_frame(struct kw_buf *out, int api, int ver, int32_t corr, kw_enc_fn enc, void *arg);

#endif
