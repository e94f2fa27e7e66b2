/* test-hostport.c — the one HOST:PORT reader: every acceptance and every
 * refusal hostport.h promises, with each flag, the order of the checks,
 * the host it reports on a refusal, the copy out, and the listen-address
 * wrapper's texts. */
#include "hostport.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

enum { PO = RP_HP_PORT_OPTIONAL, PE = RP_HP_PORT_EMPTY, PZ = RP_HP_PORT_ZERO, HE = RP_HP_HOST_EMPTY,
       HO = RP_HP_HOST_ONLY };

/* in, flags, default port -> code, host, port, bracketed */
struct c {
	const char *in;
	unsigned flags;
	int def;
	int code;
	const char *host; /* NULL: hp.host must be NULL */
	int port, br;
	const char *what;
};

static const struct c cases[] = {
	/* acceptance */
	{ "example.com:9092", 0, 0, RP_HP_OK, "example.com", 9092, 0, "NAME:PORT" },
	{ "10.0.0.1:80", 0, 0, RP_HP_OK, "10.0.0.1", 80, 0, "IPv4:PORT" },
	{ "[::1]:8443", 0, 0, RP_HP_OK, "::1", 8443, 1, "[IPv6]:PORT" },
	{ "[fe80::1%eth0]:1", 0, 0, RP_HP_OK, "fe80::1%eth0", 1, 1, "[IPv6%zone]:PORT: not checked to be an address" },
	{ "h:1", 0, 0, RP_HP_OK, "h", 1, 0, "port 1, the lowest" },
	{ "h:65535", 0, 0, RP_HP_OK, "h", 65535, 0, "port 65535, the highest" },
	{ "h:080", 0, 0, RP_HP_OK, "h", 80, 0, "leading zeros: decimal" },
	{ "h", PO, 9092, RP_HP_OK, "h", 9092, 0, "no port: the default, with PORT_OPTIONAL" },
	{ "[::1]", PO, 443, RP_HP_OK, "::1", 443, 1, "[IPv6] alone: the default, with PORT_OPTIONAL" },
	{ "h:", PE, 80, RP_HP_OK, "h", 80, 0, "an empty port: the default, with PORT_EMPTY" },
	{ "[::1]:", PE, 80, RP_HP_OK, "::1", 80, 1, "[IPv6]: with an empty port: the default, with PORT_EMPTY" },
	{ "h:0", PZ, 0, RP_HP_OK, "h", 0, 0, "port 0 with PORT_ZERO" },
	{ ":8080", HE, 0, RP_HP_OK, "", 8080, 0, ":PORT with HOST_EMPTY" },
	{ "[]:8080", HE, 0, RP_HP_OK, "", 8080, 1, "[]:PORT with HOST_EMPTY" },
	{ "127.0.0.1:junk", HO, 7, RP_HP_OK, "127.0.0.1", 7, 0, "HOST_ONLY: the port is not read" },
	{ "[::1]x80", HO, 0, RP_HP_OK, "::1", 0, 1, "HOST_ONLY: nor junk after ']'" },
	{ "h:1 2", HO, 0, RP_HP_OK, "h", 0, 0, "HOST_ONLY: nor a space after the host" },
	{ "::1", HO, 0, RP_HP_ENOHOST, "", 0, 0, "HOST_ONLY: a bare IPv6 address has an empty host" },
	/* refusal: a NUL, space or control byte */
	{ "h :80", 0, 0, RP_HP_ECHAR, NULL, 0, 0, "a space in the host" },
	{ "h: 80", 0, 0, RP_HP_ECHAR, NULL, 0, 0, "a space before the port" },
	{ "h:80\t", 0, 0, RP_HP_ECHAR, NULL, 0, 0, "a tab after the port" },
	{ "h\x7f:80", 0, 0, RP_HP_ECHAR, NULL, 0, 0, "DEL" },
	{ "a b", HO, 0, RP_HP_ECHAR, NULL, 0, 0, "HOST_ONLY: a space in the host" },
	/* refusal: brackets */
	{ "[::1:80", PO, 0, RP_HP_EBRACKET, NULL, 0, 0, "'[' without ']'" },
	{ "[::1", HO, 0, RP_HP_EBRACKET, NULL, 0, 0, "HOST_ONLY: '[' without ']'" },
	{ "[::1]80", 0, 0, RP_HP_EJUNK, NULL, 0, 0, "junk after ']'" },
	{ "[::1]]:80", 0, 0, RP_HP_EJUNK, NULL, 0, 0, "a second ']'" },
	{ "h]:80", 0, 0, RP_HP_ESTRAY, "h]", 0, 0, "a ']' in a bare host" },
	{ "a[b:80", 0, 0, RP_HP_ESTRAY, "a[b", 0, 0, "a '[' in a bare host" },
	{ "[[::1]:80", 0, 0, RP_HP_ESTRAY, "[::1", 0, 1, "a '[' inside the brackets" },
	/* refusal: the host */
	{ ":80", 0, 0, RP_HP_ENOHOST, "", 0, 0, "an empty host" },
	{ "[]:80", 0, 0, RP_HP_ENOHOST, "", 0, 1, "an empty bracketed host" },
	{ "", PO, 9, RP_HP_ENOHOST, "", 9, 0, "nothing at all" },
	{ "::1:80", 0, 0, RP_HP_ENOHOST, "", 0, 0, "a bare IPv6 address: no host before the first ':'" },
	{ "fe80::1:80", 0, 0, RP_HP_EV6, "fe80", 0, 0, "a bare IPv6 address: more than one ':'" },
	{ "h:1:2", PO | PE | PZ | HE, 0, RP_HP_EV6, "h", 0, 0, "two ports: more than one ':', whatever the flags" },
	/* refusal: the port */
	{ "h", 0, 9, RP_HP_ENOPORT, "h", 9, 0, "no port without PORT_OPTIONAL" },
	{ "[::1]", 0, 0, RP_HP_ENOPORT, "::1", 0, 1, "[IPv6] alone without PORT_OPTIONAL" },
	{ "h:", PO, 9092, RP_HP_ENOPORT, "h", 9092, 0, "an empty port without PORT_EMPTY" },
	{ "[::1]:", PO, 0, RP_HP_ENOPORT, "::1", 0, 1, "[IPv6]: without PORT_EMPTY" },
	{ "h:0", 0, 0, RP_HP_EPORT, "h", 0, 0, "port 0 without PORT_ZERO" },
	{ "h:00", PO | PE, 0, RP_HP_EPORT, "h", 0, 0, "port 00 is 0" },
	{ "h:65536", PZ, 0, RP_HP_EPORT, "h", 0, 0, "port 65536" },
	{ "h:99999999999999999999", 0, 0, RP_HP_EPORT, "h", 0, 0, "a port that would overflow" },
	{ "h:+80", 0, 0, RP_HP_EPORT, "h", 0, 0, "a signed port" },
	{ "h:-1", 0, 0, RP_HP_EPORT, "h", 0, 0, "a negative port" },
	{ "h:8O", 0, 0, RP_HP_EPORT, "h", 0, 0, "a letter in the port" },
	{ "h:0x50", 0, 0, RP_HP_EPORT, "h", 0, 0, "a hex port" },
	{ "[::1]:x", 0, 0, RP_HP_EPORT, "::1", 0, 1, "a bad port after [IPv6]" },
	/* the order of the checks */
	{ "[::1 :80", 0, 0, RP_HP_ECHAR, NULL, 0, 0, "a space before a missing ']'" },
	{ "[]x", 0, 0, RP_HP_EJUNK, NULL, 0, 0, "junk after ']' before an empty host" },
	{ "[[]:80", 0, 0, RP_HP_ESTRAY, "[", 0, 1, "a stray '[' before a bad port" },
	{ ":]:80", 0, 0, RP_HP_ENOHOST, "", 0, 0, "an empty host before a stray ']' after it" },
	{ ":1:2", 0, 0, RP_HP_ENOHOST, "", 0, 0, "an empty host before more than one ':'" },
	{ "h::x", 0, 0, RP_HP_EV6, "h", 0, 0, "more than one ':' before a bad port" },
};

static void one(const struct c *c)
{
	struct rp_hostport hp;
	int r = rp_hostport(c->in, strlen(c->in), c->flags, c->def, &hp);
	T_OK(r == c->code, "%s: '%s' -> %d (%s), want %d", c->what, c->in, r, rp_hostport_strerror(r), c->code);
	if (!c->host) {
		T_OK(!hp.host && !hp.hostlen, "%s: no host reported", c->what);
		return;
	}
	T_OK(hp.host && hp.hostlen == strlen(c->host) && !memcmp(hp.host, c->host, hp.hostlen),
	     "%s: host '%.*s', want '%s'", c->what, (int)hp.hostlen, hp.host ? hp.host : "", c->host);
	T_OK(!hp.hostlen || (hp.host >= c->in && hp.host + hp.hostlen <= c->in + strlen(c->in)),
	     "%s: the host points into the input", c->what);
	if (r == RP_HP_OK || r == RP_HP_ENOPORT)
		T_INT(hp.port, c->port, "port");
	T_INT(hp.bracketed, c->br, "bracketed");
}

int main(void)
{
	rp_init("test-hostport");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		one(&cases[i]);

	/* exactly n bytes: no NUL needed, and one inside is refused */
	struct rp_hostport hp;
	T_INT(rp_hostport("h:80junk", 4, 0, 0, &hp), RP_HP_OK, "reads exactly n bytes");
	T_INT(hp.port, 80, "the port within n");
	T_INT(rp_hostport("h:8\0" "0", 5, 0, 0, &hp), RP_HP_ECHAR, "an embedded NUL refused");
	T_INT(rp_hostport("h\0:80", 5, HO, 0, &hp), RP_HP_ECHAR, "HOST_ONLY: a NUL in the host refused");

	/* each code has its own text */
	const int codes[] = { RP_HP_OK, RP_HP_ECHAR, RP_HP_EBRACKET, RP_HP_EJUNK, RP_HP_ESTRAY,
			      RP_HP_ENOHOST, RP_HP_EV6, RP_HP_ENOPORT, RP_HP_EPORT };
	int distinct = 1;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		for (size_t j = 0; j < i; j++)
			distinct &= !!strcmp(rp_hostport_strerror(codes[i]), rp_hostport_strerror(codes[j]));
	T_OK(distinct, "every code has its own text");
	T_STR(rp_hostport_strerror(RP_HP_EPORT), "bad port", "EPORT says bad port (rp_url_parse's text)");
	T_STR(rp_hostport_strerror(RP_HP_EBRACKET), "an IPv6 address without ']'", "EBRACKET's text");
	T_STR(rp_hostport_strerror(RP_HP_EJUNK), "junk after the IPv6 address", "EJUNK's text");
	T_STR(rp_hostport_strerror(42), "unknown error", "an unknown code");

	/* the copy out */
	char b[4];
	rp_hostport("abc:1", 5, 0, 0, &hp);
	T_INT(rp_hostport_host(&hp, b, sizeof b), 0, "a host that fits is copied");
	T_STR(b, "abc", "... NUL-terminated");
	rp_hostport("abcd:1", 6, 0, 0, &hp);
	T_INT(rp_hostport_host(&hp, b, sizeof b), -1, "a host one byte too long is not");
	rp_hostport(":1", 2, HE, 0, &hp);
	T_INT(rp_hostport_host(&hp, b, sizeof b), 0, "an empty host is copied");
	T_STR(b, "", "... as an empty string");

	/* listen addresses: rp-lagwatch --serve and --serve-grpc */
	char *err = NULL;
	T_INT(rp_hostport_listen("127.0.0.1:0", &hp, &err), 0, "listen: port 0");
	T_OK(!err && hp.port == 0, "listen: no error, port 0");
	T_INT(rp_hostport_listen(":9464", &hp, &err), 0, "listen: :PORT");
	T_OK(!hp.hostlen && hp.port == 9464, "listen: all interfaces");
	T_INT(rp_hostport_listen("[::1]:9464", &hp, &err), 0, "listen: [V6]:PORT");
	T_INT(rp_hostport_listen("nope", &hp, &err), -1, "listen: no port refused");
	T_STR(err, "listen address 'nope': want HOST:PORT", "listen: the old text for no port");
	free(err);
	T_INT(rp_hostport_listen("h:", &hp, &err), -1, "listen: an empty port refused");
	T_STR(err, "listen address 'h:': want HOST:PORT", "listen: the old text for an empty port");
	free(err);
	T_INT(rp_hostport_listen("h:70000", &hp, &err), -1, "listen: port 70000 refused");
	T_STR(err, "listen address 'h:70000': bad port", "listen: names the bad port");
	free(err);
	T_INT(rp_hostport_listen("::1:80", &hp, &err), -1, "listen: a bare IPv6 address refused");
	free(err);
	return T_DONE();
}
