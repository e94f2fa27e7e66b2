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

/* The order of the checks: an input that breaks two rules gets the
 * first one's code (in, code, what; no flags). */
static const struct {
	const char *in;
	int code;
	const char *what;
} order[] = {
	{ "[::1 :80", RP_HP_ECHAR, "a space before a missing ']'" },
	{ "[]x", RP_HP_EJUNK, "junk after ']' before an empty host" },
	{ "[[]:80", RP_HP_ESTRAY, "a stray '[' before a bad port" },
	{ ":]:80", RP_HP_ENOHOST, "an empty host before a stray ']' after it" },
	{ ":1:2", RP_HP_ENOHOST, "an empty host before more than one ':'" },
	{ "h::x", RP_HP_EV6, "more than one ':' before a bad port" },
};

/* An input the flags accept: its host, port (the default when absent)
 * and whether the host was bracketed; the host points into the input. */
static void acc(const char *in, unsigned flags, int def, const char *host, int port, int br, const char *what)
{
	struct rp_hostport hp;
	int r = rp_hostport(in, strlen(in), flags, def, &hp);
	T_OK(r == RP_HP_OK, "%s: '%s' accepted (%d %s)", what, in, r, rp_hostport_strerror(r));
	T_OK(hp.host && hp.hostlen == strlen(host) && !memcmp(hp.host, host, hp.hostlen) && hp.host >= in &&
		     hp.host + hp.hostlen <= in + strlen(in),
	     "%s: host '%.*s' inside the input, want '%s'", what, (int)hp.hostlen, hp.host ? hp.host : "", host);
	T_OK(hp.port == port && hp.bracketed == br, "%s: port %d bracketed %d, want %d %d", what, hp.port,
	     hp.bracketed, port, br);
}

/* An input the flags refuse: its code, and the host as split (NULL:
 * none is reported). */
static void ref(const char *in, unsigned flags, int code, const char *host, const char *what)
{
	struct rp_hostport hp;
	int r = rp_hostport(in, strlen(in), flags, 0, &hp);
	T_OK(r == code, "%s: '%s' -> %d (%s), want %d", what, in, r, rp_hostport_strerror(r), code);
	if (!host)
		T_OK(!hp.host && !hp.hostlen, "%s: no host reported", what);
	else
		T_OK(hp.host && hp.hostlen == strlen(host) && !memcmp(hp.host, host, hp.hostlen),
		     "%s: host '%.*s', want '%s'", what, (int)hp.hostlen, hp.host ? hp.host : "", host);
}

int main(void)
{
	rp_init("test-hostport");
	/* acceptance */
	acc("example.com:9092", 0, 0, "example.com", 9092, 0, "NAME:PORT");
	acc("10.0.0.1:80", 0, 0, "10.0.0.1", 80, 0, "IPv4:PORT");
	acc("[::1]:8443", 0, 0, "::1", 8443, 1, "[IPv6]:PORT");
	acc("[fe80::1%eth0]:1", 0, 0, "fe80::1%eth0", 1, 1, "[IPv6%zone]:PORT: not checked to be an address");
	acc("h:1", 0, 0, "h", 1, 0, "port 1, the lowest");
	acc("h:65535", 0, 0, "h", 65535, 0, "port 65535, the highest");
	acc("h:080", 0, 0, "h", 80, 0, "leading zeros: decimal");
	acc("h", PO, 9092, "h", 9092, 0, "no port: the default, with PORT_OPTIONAL");
	acc("[::1]", PO, 443, "::1", 443, 1, "[IPv6] alone: the default, with PORT_OPTIONAL");
	acc("h:", PE, 80, "h", 80, 0, "an empty port: the default, with PORT_EMPTY");
	acc("[::1]:", PE, 80, "::1", 80, 1, "[IPv6]: with an empty port: the default, with PORT_EMPTY");
	acc("h:0", PZ, 0, "h", 0, 0, "port 0 with PORT_ZERO");
	acc(":8080", HE, 0, "", 8080, 0, ":PORT with HOST_EMPTY");
	acc("[]:8080", HE, 0, "", 8080, 1, "[]:PORT with HOST_EMPTY");
	acc("127.0.0.1:junk", HO, 7, "127.0.0.1", 7, 0, "HOST_ONLY: the port is not read");
	acc("[::1]x80", HO, 0, "::1", 0, 1, "HOST_ONLY: nor junk after ']'");
	acc("h:1 2", HO, 0, "h", 0, 0, "HOST_ONLY: nor a space after the host");
	ref("::1", HO, RP_HP_ENOHOST, "", "HOST_ONLY: a bare IPv6 address has an empty host");
	/* refusal: a NUL, space or control byte */
	ref("h :80", 0, RP_HP_ECHAR, NULL, "a space in the host");
	ref("h: 80", 0, RP_HP_ECHAR, NULL, "a space before the port");
	ref("h:80\t", 0, RP_HP_ECHAR, NULL, "a tab after the port");
	ref("h\x7f:80", 0, RP_HP_ECHAR, NULL, "DEL");
	ref("a b", HO, RP_HP_ECHAR, NULL, "HOST_ONLY: a space in the host");
	/* refusal: brackets */
	ref("[::1:80", PO, RP_HP_EBRACKET, NULL, "'[' without ']'");
	ref("[::1", HO, RP_HP_EBRACKET, NULL, "HOST_ONLY: '[' without ']'");
	ref("[::1]80", 0, RP_HP_EJUNK, NULL, "junk after ']'");
	ref("[::1]]:80", 0, RP_HP_EJUNK, NULL, "a second ']'");
	ref("h]:80", 0, RP_HP_ESTRAY, "h]", "a ']' in a bare host");
	ref("a[b:80", 0, RP_HP_ESTRAY, "a[b", "a '[' in a bare host");
	ref("[[::1]:80", 0, RP_HP_ESTRAY, "[::1", "a '[' inside the brackets");
	/* refusal: the host */
	ref(":80", 0, RP_HP_ENOHOST, "", "an empty host");
	ref("[]:80", 0, RP_HP_ENOHOST, "", "an empty bracketed host");
	ref("", PO, RP_HP_ENOHOST, "", "nothing at all");
	ref("::1:80", 0, RP_HP_ENOHOST, "", "a bare IPv6 address: no host before the first ':'");
	ref("fe80::1:80", 0, RP_HP_EV6, "fe80", "a bare IPv6 address: more than one ':'");
	ref("h:1:2", PO | PE | PZ | HE, RP_HP_EV6, "h", "two ports: more than one ':', whatever the flags");
	/* refusal: the port */
	ref("h", 0, RP_HP_ENOPORT, "h", "no port without PORT_OPTIONAL");
	ref("[::1]", 0, RP_HP_ENOPORT, "::1", "[IPv6] alone without PORT_OPTIONAL");
	ref("h:", PO, RP_HP_ENOPORT, "h", "an empty port without PORT_EMPTY");
	ref("[::1]:", PO, RP_HP_ENOPORT, "::1", "[IPv6]: without PORT_EMPTY");
	ref("h:0", 0, RP_HP_EPORT, "h", "port 0 without PORT_ZERO");
	ref("h:00", PO | PE, RP_HP_EPORT, "h", "port 00 is 0");
	ref("h:65536", PZ, RP_HP_EPORT, "h", "port 65536");
	ref("h:99999999999999999999", 0, RP_HP_EPORT, "h", "a port that would overflow");
	ref("h:+80", 0, RP_HP_EPORT, "h", "a signed port");
	ref("h:-1", 0, RP_HP_EPORT, "h", "a negative port");
	ref("h:8O", 0, RP_HP_EPORT, "h", "a letter in the port");
	ref("h:0x50", 0, RP_HP_EPORT, "h", "a hex port");
	ref("[::1]:x", 0, RP_HP_EPORT, "::1", "a bad port after [IPv6]");
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		struct rp_hostport o;
		int r = rp_hostport(order[i].in, strlen(order[i].in), 0, 0, &o);
		T_OK(r == order[i].code, "order: %s: '%s' -> %d, want %d", order[i].what, order[i].in, r, order[i].code);
	}

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

	/* writing back */
	char w[32];
	T_INT(rp_hostport_fmt(w, sizeof w, "example.com", 9092), 16, "fmt: the length written");
	T_STR(w, "example.com:9092", "fmt: NAME:PORT");
	rp_hostport_fmt(w, sizeof w, "::1", 8443);
	T_STR(w, "[::1]:8443", "fmt: an IPv6 address in brackets");
	rp_hostport_fmt(w, sizeof w, "fe80::1", -1);
	T_STR(w, "[fe80::1]", "fmt: no port, still in brackets");
	rp_hostport_fmt(w, sizeof w, "10.0.0.1", -1);
	T_STR(w, "10.0.0.1", "fmt: no port, no brackets");
	T_INT(rp_hostport_fmt(w, 4, "example.com", 1), 13, "fmt: cut short, says what it needed");
	T_STR(w, "exa", "fmt: ... NUL-terminated");
	rp_hostport_fmt(w, sizeof w, "::1", 0);
	T_OK(rp_hostport(w, strlen(w), RP_HP_PORT_ZERO, 9, &hp) == RP_HP_OK && hp.port == 0 && hp.hostlen == 3,
	     "fmt: reads back (%s)", w);

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
