/* extscaler.c — KEDA's external scaler over gRPC's C core (see extscaler.h).
 *
 * The messages are a handful of small proto3 types, encoded and decoded
 * here by hand (varints, length-delimited fields, one double) rather than
 * through generated code: no code generator in the build. */
#include "extscaler.h"
#include "hostport.h"
#include "log.h"
#include "rp.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <dlfcn.h>

#define METRIC "lag"
#define SVC "/externalscaler.ExternalScaler/"

enum { M_OTHER, M_ISACTIVE, M_STREAM, M_SPEC, M_METRICS };
enum { T_NEW, T_RECV, T_SEND, T_CLOSE, T_DONE };

struct call;
struct tag {
	struct call *c;
	int kind;
};

struct call {
	struct rp_extscaler *x;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *req, *resp;
	grpc_slice status_details;
	int has_details;
	int method;
	int pending;     /* batches (or the request) outstanding */
	int cancelled;   /* RECV_CLOSE_ON_SERVER's answer */
	int closed;      /* that op has completed */
	int final;       /* the status batch was started */
	int sending;     /* stream: a message in flight */
	int last_sent;   /* stream: -1 nothing yet, else 0/1 */
	int streaming;
	struct tag t_new, t_recv, t_send, t_close, t_done;
	struct call *next; /* every live call */
};

struct rp_extscaler {
	struct rp_scaler *sc;
	grpc_server *srv;
	grpc_completion_queue *cq;
	pthread_t th;
	_Atomic int stopping; /* set by rp_extscaler_stop() */
	struct call *calls;
	int shutdown_seen;
	char addr[128];
};

/* gRPC's C core is loaded when --serve-grpc is used, not linked: linked,
 * its ~50 libraries (abseil, re2, c-ares, upb) would load in every run of
 * rp-lagwatch and add ~6 MiB to its resident size.  The pointers have the
 * types of the headers the build saw. */
#define RP_GRPC_FNS \
	X(gpr_inf_future) \
	X(gpr_now) \
	X(gpr_set_log_verbosity) \
	X(gpr_time_add) \
	X(gpr_time_from_millis) \
	X(grpc_byte_buffer_destroy) \
	X(grpc_byte_buffer_reader_destroy) \
	X(grpc_byte_buffer_reader_init) \
	X(grpc_byte_buffer_reader_readall) \
	X(grpc_call_details_destroy) \
	X(grpc_call_details_init) \
	X(grpc_call_start_batch) \
	X(grpc_call_unref) \
	X(grpc_completion_queue_create_for_next) \
	X(grpc_completion_queue_destroy) \
	X(grpc_completion_queue_next) \
	X(grpc_completion_queue_shutdown) \
	X(grpc_empty_slice) \
	X(grpc_init) \
	X(grpc_insecure_server_credentials_create) \
	X(grpc_metadata_array_destroy) \
	X(grpc_metadata_array_init) \
	X(grpc_raw_byte_buffer_create) \
	X(grpc_server_add_http2_port) \
	X(grpc_server_cancel_all_calls) \
	X(grpc_server_create) \
	X(grpc_server_credentials_release) \
	X(grpc_server_destroy) \
	X(grpc_server_register_completion_queue) \
	X(grpc_server_request_call) \
	X(grpc_server_shutdown_and_notify) \
	X(grpc_server_start) \
	X(grpc_shutdown) \
	X(grpc_slice_from_copied_buffer) \
	X(grpc_slice_from_copied_string) \
	X(grpc_slice_unref)
#define X(f) static __typeof__(f) *p_##f;
RP_GRPC_FNS
#undef X
#define G(f) p_##f

static int load_grpc(char **err)
{
	static void *h;
	static const char *const names[] = { "libgrpc.so.29", "libgrpc.so" };
	for (size_t i = 0; !h && i < sizeof names / sizeof names[0]; i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*err = rp_xasprintf("cannot load gRPC's C core (Debian package libgrpc29): %s", dlerror());
		return -1;
	}
#define X(f)                                                                                 \
	if (!(*(void **)&p_##f = dlsym(h, #f))) {                                            \
		*err = rp_xasprintf("gRPC's C core has no %s: not the version rp was built for", #f); \
		return -1;                                                                   \
	}
	RP_GRPC_FNS
#undef X
	return 0;
}

/* ---- protobuf, the little of it needed ---- */

static void pb_varint(struct rp_buf *b, uint64_t v)
{
	unsigned char c[10];
	size_t n = 0;
	do {
		c[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			c[n] |= 0x80;
		n++;
	} while (v);
	rp_buf_add(b, (char *)c, n);
}

static void pb_key(struct rp_buf *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_bytes(struct rp_buf *b, unsigned field, const char *p, size_t n)
{
	pb_key(b, field, 2);
	pb_varint(b, n);
	rp_buf_add(b, p, n);
}

/* proto3: default values (0, false, "") are not written. */
static void pb_int64(struct rp_buf *b, unsigned field, int64_t v)
{
	if (!v)
		return;
	pb_key(b, field, 0);
	pb_varint(b, (uint64_t)v);
}

static void pb_double(struct rp_buf *b, unsigned field, double v)
{
	if (v == 0)
		return;
	uint64_t u;
	unsigned char c[8];
	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		c[i] = (unsigned char)(u >> (8 * i));
	pb_key(b, field, 1);
	rp_buf_add(b, (char *)c, 8);
}

static int pb_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int s = 0; s < 64; s += 7) {
		if (*p >= end)
			return -1;
		unsigned char c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* Walk a message's fields; the string field `want` (if any) is returned in
 * (*s, *sn), the embedded message `sub` is checked the same way.  0 if the
 * message is well formed, -1 if not. */
static int pb_walk(const unsigned char *p, size_t n, unsigned want, const char **s, size_t *sn, unsigned sub)
{
	const unsigned char *end = p + n;
	while (p < end) {
		uint64_t key, v;
		if (pb_get_varint(&p, end, &key) < 0 || key >> 3 == 0)
			return -1;
		switch (key & 7) {
		case 0:
			if (pb_get_varint(&p, end, &v) < 0)
				return -1;
			break;
		case 1:
			if (end - p < 8)
				return -1;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return -1;
			p += 4;
			break;
		case 2:
			if (pb_get_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -1;
			if (want && key >> 3 == want && s) {
				*s = (const char *)p;
				*sn = (size_t)v;
			}
			if (sub && key >> 3 == sub && pb_walk(p, (size_t)v, 0, NULL, NULL, 0) < 0)
				return -1;
			p += v;
			break;
		default: return -1;
		}
	}
	return 0;
}

/* ---- calls ---- */

static void new_call(struct rp_extscaler *x)
{
	struct call *c = rp_xcalloc(1, sizeof *c);
	c->x = x;
	c->last_sent = -1;
	c->t_new = (struct tag){ c, T_NEW };
	c->t_recv = (struct tag){ c, T_RECV };
	c->t_send = (struct tag){ c, T_SEND };
	c->t_close = (struct tag){ c, T_CLOSE };
	c->t_done = (struct tag){ c, T_DONE };
	G(grpc_call_details_init)(&c->details);
	G(grpc_metadata_array_init)(&c->md);
	c->next = x->calls;
	x->calls = c;
	c->pending = 1;
	if (G(grpc_server_request_call)(x->srv, &c->call, &c->details, &c->md, x->cq, x->cq, &c->t_new) != GRPC_CALL_OK)
		c->pending = 0; /* freed by maybe_free() */
}

static void maybe_free(struct call *c)
{
	if (c->pending || (c->call && !c->closed))
		return;
	struct call **pp = &c->x->calls;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	if (c->call)
		G(grpc_call_unref)(c->call);
	G(grpc_call_details_destroy)(&c->details);
	G(grpc_metadata_array_destroy)(&c->md);
	if (c->req)
		G(grpc_byte_buffer_destroy)(c->req);
	if (c->resp)
		G(grpc_byte_buffer_destroy)(c->resp);
	if (c->has_details)
		G(grpc_slice_unref)(c->status_details);
	free(c);
}

static grpc_byte_buffer *bb_of(const struct rp_buf *b)
{
	grpc_slice s = G(grpc_slice_from_copied_buffer)(b->data ? b->data : "", b->len);
	grpc_byte_buffer *bb = G(grpc_raw_byte_buffer_create)(&s, 1);
	G(grpc_slice_unref)(s);
	return bb;
}

static void start(struct call *c, grpc_op *ops, size_t n, struct tag *t)
{
	c->pending++;
	if (G(grpc_call_start_batch)(c->call, ops, n, t, NULL) != GRPC_CALL_OK) {
		c->pending--;
		rp_logw("grpc: a batch was refused");
	}
}

/* The last batch of a call: the message (body may be NULL) and status. */
static void finish(struct call *c, const struct rp_buf *body, grpc_status_code st, const char *msg)
{
	grpc_op ops[2];
	size_t n = 0;
	memset(ops, 0, sizeof ops);
	if (body && st == GRPC_STATUS_OK) {
		c->resp = bb_of(body);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = c->resp;
	}
	c->status_details = G(grpc_slice_from_copied_string)(msg ? msg : "");
	c->has_details = 1;
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = st;
	ops[n++].data.send_status_from_server.status_details = &c->status_details;
	c->final = 1;
	start(c, ops, n, &c->t_done);
}

/* GetMetricSpecResponse / GetMetricsResponse: field 1 holds one message of
 * the metric's name, its value as int64 and as double (MetricSpec and
 * MetricValue share that layout in externalscaler.proto). */
static void metric_msg(struct rp_buf *b, long long value)
{
	struct rp_buf m = { 0 };
	pb_bytes(&m, 1, METRIC, strlen(METRIC));
	pb_int64(&m, 2, value);
	pb_double(&m, 3, (double)value);
	pb_bytes(b, 1, m.data, m.len);
	rp_buf_free(&m);
}

static void is_active_msg(struct rp_buf *b, int active)
{
	if (active) { /* IsActiveResponse { bool result = 1; } */
		pb_key(b, 1, 0);
		pb_varint(b, 1);
	}
}

/* Stream: send the state if it is known and changed. */
static void stream_send(struct call *c)
{
	if (c->sending || c->final || c->closed)
		return;
	struct rp_scaler_view v;
	rp_scaler_view(c->x->sc, &v);
	if (!v.known || v.active == c->last_sent)
		return;
	struct rp_buf b = { 0 };
	is_active_msg(&b, v.active);
	if (c->resp)
		G(grpc_byte_buffer_destroy)(c->resp);
	c->resp = bb_of(&b);
	rp_buf_free(&b);
	grpc_op op;
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = c->resp;
	c->sending = 1;
	c->last_sent = v.active;
	start(c, &op, 1, &c->t_send);
}

static void answer(struct call *c)
{
	struct rp_scaler_view v;
	struct rp_buf b = { 0 };
	grpc_slice all = G(grpc_empty_slice)();
	const char *name = NULL;
	size_t nn = 0;
	if (c->req) {
		grpc_byte_buffer_reader r;
		if (G(grpc_byte_buffer_reader_init)(&r, c->req)) {
			all = G(grpc_byte_buffer_reader_readall)(&r);
			G(grpc_byte_buffer_reader_destroy)(&r);
		}
	}
	const unsigned char *p = GRPC_SLICE_START_PTR(all);
	size_t n = GRPC_SLICE_LENGTH(all);
	if (c->method == M_OTHER) {
		finish(c, NULL, GRPC_STATUS_UNIMPLEMENTED, "rp-lagwatch: method not implemented");
		goto out;
	}
	int bad = !c->req || (c->method == M_METRICS ? pb_walk(p, n, 2, &name, &nn, 1)
						      : pb_walk(p, n, 0, NULL, NULL, 0)) < 0;
	if (bad) {
		finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT, "rp-lagwatch: the request is not valid protobuf");
		goto out;
	}
	if (c->method == M_STREAM) {
		c->streaming = 1;
		stream_send(c);
		goto out;
	}
	rp_scaler_view(c->x->sc, &v);
	if (c->method == M_SPEC) { /* the spec needs no value: only the target */
		metric_msg(&b, v.lag_threshold); /* MetricSpec {name, targetSize, targetSizeFloat} */
		finish(c, &b, GRPC_STATUS_OK, NULL);
	} else if (c->method == M_METRICS && nn && (nn != strlen(METRIC) || memcmp(name, METRIC, nn))) {
		char *e = rp_xasprintf("rp-lagwatch: no metric '%.*s' (there is: " METRIC ")", (int)(nn > 100 ? 100 : nn),
				       name);
		finish(c, NULL, GRPC_STATUS_NOT_FOUND, e);
		free(e);
	} else if (!v.known) {
		char *e = rp_xasprintf("lag unknown: %s", v.err);
		finish(c, NULL, GRPC_STATUS_UNAVAILABLE, e);
		free(e);
	} else if (c->method == M_ISACTIVE) {
		is_active_msg(&b, v.active);
		finish(c, &b, GRPC_STATUS_OK, NULL);
	} else {
		metric_msg(&b, v.lag); /* MetricValue {name, metricValue, metricValueFloat} */
		finish(c, &b, GRPC_STATUS_OK, NULL);
	}
out:
	rp_buf_free(&b);
	G(grpc_slice_unref)(all);
}

static int method_of(grpc_slice m)
{
	static const struct {
		const char *name;
		int m;
	} ms[] = { { SVC "IsActive", M_ISACTIVE },
		   { SVC "StreamIsActive", M_STREAM },
		   { SVC "GetMetricSpec", M_SPEC },
		   { SVC "GetMetrics", M_METRICS } };
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
		if (GRPC_SLICE_LENGTH(m) == strlen(ms[i].name) &&
		    !memcmp(GRPC_SLICE_START_PTR(m), ms[i].name, strlen(ms[i].name)))
			return ms[i].m;
	return M_OTHER;
}

static void on_event(struct rp_extscaler *x, struct tag *t, int ok)
{
	struct call *c = t->c;
	c->pending--;
	switch (t->kind) {
	case T_NEW: {
		if (!ok) { /* the server is shutting down */
			c->call = NULL;
			break;
		}
		if (!x->stopping)
			new_call(x);
		c->method = method_of(c->details.method);
		grpc_op ops[2];
		memset(ops, 0, sizeof ops);
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_RECV_MESSAGE;
		ops[1].data.recv_message.recv_message = &c->req;
		start(c, ops, 2, &c->t_recv);
		grpc_op cl;
		memset(&cl, 0, sizeof cl);
		cl.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
		cl.data.recv_close_on_server.cancelled = &c->cancelled;
		start(c, &cl, 1, &c->t_close);
		break;
	}
	case T_RECV:
		if (ok && !c->closed)
			answer(c);
		break;
	case T_SEND:
		c->sending = 0;
		if (ok)
			stream_send(c);
		break;
	case T_CLOSE: c->closed = 1; break;
	case T_DONE: break;
	}
	maybe_free(c);
}

static void *loop(void *arg)
{
	struct rp_extscaler *x = arg;
	int shutdown_started = 0;
	static int shutdown_tag;
	for (;;) {
		if (x->stopping && !shutdown_started) {
			G(grpc_server_shutdown_and_notify)(x->srv, x->cq, &shutdown_tag);
			G(grpc_server_cancel_all_calls)(x->srv);
			shutdown_started = 1;
		}
		if (shutdown_started && x->shutdown_seen && !x->calls)
			break;
		grpc_event ev = G(grpc_completion_queue_next)(
			x->cq, G(gpr_time_add)(G(gpr_now)(GPR_CLOCK_MONOTONIC), G(gpr_time_from_millis)(200, GPR_TIMESPAN)), NULL);
		if (ev.type == GRPC_OP_COMPLETE) {
			if (ev.tag == &shutdown_tag)
				x->shutdown_seen = 1;
			else
				on_event(x, ev.tag, ev.success);
		} else if (ev.type == GRPC_QUEUE_SHUTDOWN) {
			break;
		}
		for (struct call *c = x->calls, *nx; c; c = nx) { /* each stream: changed? */
			nx = c->next;
			if (c->streaming)
				stream_send(c);
		}
	}
	return NULL;
}

struct rp_extscaler *rp_extscaler_start(const char *addr, struct rp_scaler *sc, char **err)
{
	*err = NULL;
	struct rp_hostport hp;
	if (rp_hostport_listen(addr, &hp, err) < 0)
		return NULL;
	if (load_grpc(err) < 0)
		return NULL;
	char *bind = hp.hostlen ? rp_xstrdup(addr) : rp_xasprintf("[::]:%d", hp.port);
	G(gpr_set_log_verbosity)(GPR_LOG_SEVERITY_ERROR);
	G(grpc_init)();
	struct rp_extscaler *x = rp_xcalloc(1, sizeof *x);
	x->sc = sc;
	x->cq = G(grpc_completion_queue_create_for_next)(NULL);
	x->srv = G(grpc_server_create)(NULL, NULL);
	G(grpc_server_register_completion_queue)(x->srv, x->cq, NULL);
	grpc_server_credentials *cr = G(grpc_insecure_server_credentials_create)();
	int port = G(grpc_server_add_http2_port)(x->srv, bind, cr);
	G(grpc_server_credentials_release)(cr);
	if (port <= 0) {
		*err = rp_xasprintf("listen on %s: cannot bind (address in use or not local?)", addr);
		free(bind);
		G(grpc_server_destroy)(x->srv);
		G(grpc_completion_queue_shutdown)(x->cq);
		while (G(grpc_completion_queue_next)(x->cq, G(gpr_inf_future)(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
			;
		G(grpc_completion_queue_destroy)(x->cq);
		free(x);
		G(grpc_shutdown)();
		return NULL;
	}
	snprintf(x->addr, sizeof x->addr, "%.*s:%d", (int)(strrchr(bind, ':') - bind), bind, port);
	free(bind);
	G(grpc_server_start)(x->srv);
	new_call(x);
	if (pthread_create(&x->th, NULL, loop, x)) {
		*err = rp_xasprintf("cannot start the gRPC thread");
		return NULL; /* the process exits on this error */
	}
	return x;
}

const char *rp_extscaler_addr(const struct rp_extscaler *x)
{
	return x ? x->addr : "";
}

void rp_extscaler_stop(struct rp_extscaler *x)
{
	if (!x)
		return;
	x->stopping = 1;
	pthread_join(x->th, NULL);
	G(grpc_server_destroy)(x->srv);
	G(grpc_completion_queue_shutdown)(x->cq);
	while (G(grpc_completion_queue_next)(x->cq, G(gpr_inf_future)(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	G(grpc_completion_queue_destroy)(x->cq);
	free(x);
	G(grpc_shutdown)();
}
