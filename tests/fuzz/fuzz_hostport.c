/* fuzz_hostport — rp_hostport() (hostport.c), the one HOST:PORT reader of
 * kafka.c, httpwire.c, http.c, runpod.c, httpd.c and extscaler.c, on any
 * bytes.  The first byte picks the flags.  Properties: the answer is one
 * of the promised codes, each with a one-line text; a reported host lies
 * inside the input; an accepted host has no control byte and no bracket,
 * a bare one no ':'; an accepted port is in range (0 only when allowed,
 * the default only when absent or not read); what is accepted, written
 * back as HOST:PORT or [HOST]:PORT (by hand and by rp_hostport_fmt),
 * reads back the same; more lenient
 * flags never refuse what stricter ones accept; with HOST_ONLY the same
 * host comes back; the listen-address wrapper agrees with the engine. */
#include "fuzz.h"
#include "hostport.h"

#define DEF 4242
#define ALL (RP_HP_PORT_OPTIONAL | RP_HP_PORT_EMPTY | RP_HP_PORT_ZERO | RP_HP_HOST_EMPTY | RP_HP_HOST_ONLY)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	rp_init("fuzz_hostport");
	return 0;
}

static void check_answer(const char *s, size_t n, unsigned flags, int r, const struct rp_hostport *hp)
{
	FZ_CHECK(r <= RP_HP_OK && r >= RP_HP_EPORT);
	const char *e = rp_hostport_strerror(r);
	FZ_CHECK(e && *e && !strchr(e, '\n'));
	if (hp->host)
		FZ_CHECK(hp->host >= s && hp->host + hp->hostlen <= s + n);
	else
		FZ_CHECK(hp->hostlen == 0);
	if (r != RP_HP_OK)
		return;
	FZ_CHECK(hp->host);
	FZ_CHECK(hp->hostlen > 0 || (flags & RP_HP_HOST_EMPTY));
	for (size_t i = 0; i < hp->hostlen; i++) {
		unsigned char c = (unsigned char)hp->host[i];
		FZ_CHECK(c > ' ' && c != 0x7f && c != '[' && c != ']');
		FZ_CHECK(hp->bracketed || c != ':');
	}
	if (flags & RP_HP_HOST_ONLY) {
		FZ_CHECK(hp->port == DEF);
		return;
	}
	FZ_CHECK(hp->port == DEF || (hp->port >= 0 && hp->port <= 65535));
	FZ_CHECK(hp->port != 0 || (flags & RP_HP_PORT_ZERO));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	unsigned flags = fz_byte(&data, &size) & ALL;
	const char *s = (const char *)data;
	struct rp_hostport hp, h2;
	int r = rp_hostport(s, size, flags, DEF, &hp);
	check_answer(s, size, flags, r, &hp);

	/* more lenient flags never refuse what these accept */
	int rl = rp_hostport(s, size, flags | (ALL & ~RP_HP_HOST_ONLY), DEF, &h2);
	check_answer(s, size, flags | (ALL & ~RP_HP_HOST_ONLY), rl, &h2);
	FZ_CHECK(r != RP_HP_OK || rl == RP_HP_OK);

	if (r == RP_HP_OK && !(flags & RP_HP_HOST_ONLY)) {
		/* HOST_ONLY finds the same host */
		FZ_CHECK(rp_hostport(s, size, flags | RP_HP_HOST_ONLY, DEF, &h2) == RP_HP_OK);
		FZ_CHECK(h2.host == hp.host && h2.hostlen == hp.hostlen && h2.bracketed == hp.bracketed);
		/* written back, it reads back the same */
		char *w = rp_xasprintf(hp.bracketed ? "[%.*s]:%d" : "%.*s:%d", (int)hp.hostlen, hp.host, hp.port);
		int rw = rp_hostport(w, strlen(w), flags, DEF + 1, &h2);
		FZ_CHECK(rw == RP_HP_OK);
		FZ_CHECK(h2.hostlen == hp.hostlen && !memcmp(h2.host, hp.host, hp.hostlen));
		FZ_CHECK(h2.port == hp.port && h2.bracketed == hp.bracketed);
		free(w);
		/* and rp_hostport_fmt's writing too (brackets only for a ':') */
		char *host = rp_xasprintf("%.*s", (int)hp.hostlen, hp.host), fw[1100];
		size_t fl = (size_t)rp_hostport_fmt(fw, sizeof fw, host, hp.port);
		FZ_CHECK(fl < sizeof fw && fl == strlen(fw));
		if (!memchr(hp.host, 0, hp.hostlen)) {
			FZ_CHECK(rp_hostport(fw, fl, flags, DEF + 1, &h2) == RP_HP_OK);
			FZ_CHECK(h2.hostlen == hp.hostlen && !memcmp(h2.host, hp.host, hp.hostlen) && h2.port == hp.port);
		}
		free(host);
	}

	/* the listen wrapper: the engine's answer with HOST_EMPTY | PORT_ZERO */
	char *str = fz_str(data, size);
	char *err = NULL;
	int rs = rp_hostport(str, strlen(str), RP_HP_HOST_EMPTY | RP_HP_PORT_ZERO, 0, &h2);
	int lr = rp_hostport_listen(str, &h2, &err);
	FZ_CHECK((lr == 0) == (rs == RP_HP_OK));
	FZ_CHECK(lr == 0 ? !err : err && !strncmp(err, "listen address '", 16));
	free(err);
	free(str);
	return 0;
}
