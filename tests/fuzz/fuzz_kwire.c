/* fuzz_kwire — kafka.c's answer decoders (Metadata, FindCoordinator,
 * OffsetFetch, ListOffsets) on any bytes, at every version kwire.c may
 * choose.  The first byte picks the API and version; the rest is the
 * answer's body.  kafka.c is included so its static decoders are reached
 * as they are (the library's kafka.o is then not linked).  Properties: no
 * read outside the input (the sanitizers), an error that ends the poll is
 * one line, a partition gets a watermark only from an answer read whole,
 * and nothing leaks. */
#include "fuzz.h"
#include "kafka.c"

static const struct {
	int api, ver;
} which[] = {
	{ KW_METADATA, 1 },    { KW_METADATA, 2 },    { KW_METADATA, 3 },    { KW_METADATA, 4 },
	{ KW_FINDCOORDINATOR, 1 }, { KW_FINDCOORDINATOR, 2 }, { KW_OFFSETFETCH, 1 }, { KW_OFFSETFETCH, 2 },
	{ KW_OFFSETFETCH, 3 }, { KW_OFFSETFETCH, 4 }, { KW_OFFSETFETCH, 5 }, { KW_LISTOFFSETS, 1 },
	{ KW_LISTOFFSETS, 2 }, { KW_LISTOFFSETS, 3 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_kwire");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	int api = which[(data[0] & 0x7f) % (sizeof which / sizeof which[0])].api;
	int ver = which[(data[0] & 0x7f) % (sizeof which / sizeof which[0])].ver;
	struct kw_rd r = { .p = data + 1, .len = size - 1 };

	static const struct rp_kafka_watch w[] = { { "g", "t" }, { "g", "u" } };
	struct rp_kafka k = { .timeout = 5 };
	struct poll P = { .k = &k, .w = w, .nw = 2, .end = rp_mono() + 5 };
	const char *topics[] = { "t", "u" };
	struct grp G = { .P = &P, .group = "g", .backoff = 0.1 };
	P.topics = topics;
	P.nt = 2;
	P.gs = &G;
	P.ng = 1;
	if (api != KW_METADATA) { /* what a first Metadata gave: t[0,1] on 1, u[0] on 2 */
		P.parts = rp_xcalloc(3, sizeof *P.parts);
		P.parts[0] = (struct part){ .t = 0, .p = 0, .leader = 1, .hi = -1, .lo = -1 };
		P.parts[1] = (struct part){ .t = 0, .p = 1, .leader = 1, .hi = -1, .lo = -1 };
		P.parts[2] = (struct part){ .t = 1, .p = 0, .leader = 2, .hi = -1, .lo = -1 };
		P.nparts = 3;
		P.have_parts = 1;
		P.meta = 2;
		G.pi = rp_xcalloc(3, sizeof *G.pi);
		G.committed = rp_xcalloc(3, sizeof *G.committed);
		for (size_t i = 0; i < 3; i++)
			G.pi[G.np++] = i;
	}
	size_t lpi[] = { 0, 1, 2 };
	struct loreq L = { .P = &P, .ts = data[0] & 0x80 ? -2 : -1, .pi = lpi, .np = 3 };

	switch (api) {
	case KW_METADATA:
		dec_metadata(&P, KW_OK, NULL, &r, ver);
		if (P.meta == 2) {
			FZ_CHECK(P.have_parts && P.nparts <= size);
			for (size_t i = 0; i < P.nparts; i++)
				FZ_CHECK(P.parts[i].t < P.nt && P.parts[i].leader >= 0);
		}
		break;
	case KW_FINDCOORDINATOR:
		G.state = G_FINDING;
		dec_findcoord(&G, KW_OK, NULL, &r, ver);
		FZ_CHECK(G.state != G_FETCH || (G.chost && kw_rend(&r)));
		break;
	case KW_OFFSETFETCH:
		G.state = G_FETCHING;
		dec_offsetfetch(&G, KW_OK, NULL, &r, ver);
		FZ_CHECK(G.state != G_DONE || !r.bad);
		break;
	case KW_LISTOFFSETS:
		P.wm_out = 1;
		dec_listoffsets(&L, KW_OK, NULL, &r, ver);
		FZ_CHECK(P.wm_out == 0);
		for (size_t i = 0; i < 3; i++)
			FZ_CHECK(r.bad ? !P.parts[i].has_hi && !P.parts[i].has_lo : 1);
		break;
	}
	FZ_CHECK(!P.rc || (P.err && !strchr(P.err, '\n')));
	FZ_CHECK(!G.err || !strchr(G.err, '\n'));

	free(P.err);
	free(P.meta_err);
	free(P.wm_err);
	free(P.wm_last);
	free(P.parts);
	free(G.pi);
	free(G.committed);
	free(G.err);
	free(G.chost);
	brokers_free(&k);
	return 0;
}
