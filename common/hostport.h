/* hostport.h — the one reader of "HOST:PORT": Kafka bootstrap servers,
 * listen addresses (rp-lagwatch --serve, --serve-grpc), the authority of
 * an http(s) URL, the host of a URL.
 *
 * Promises:
 *  - Accepts NAME:PORT, IPv4:PORT and [IPv6]:PORT.  The host is the text
 *    between the brackets, or before the first ':' of a bare host; it is
 *    not resolved, nor checked to be an address (the caller does that
 *    where it matters: rp_url_parse wants a real IPv6 address in
 *    brackets and a clean host name).
 *  - The port is decimal digits only (no sign, no space), 1..65535; with
 *    RP_HP_PORT_ZERO 0 too (a listener: any free port).  Leading zeros
 *    are read as decimal ("080" is 80).
 *  - The port may be absent ("NAME", "[IPv6]") only with
 *    RP_HP_PORT_OPTIONAL, and empty ("NAME:", "[IPv6]:") only with
 *    RP_HP_PORT_EMPTY (RFC 3986 URLs); it is then `defport`.
 *  - Refuses, each with its own code (rp_hostport_strerror names it):
 *      RP_HP_ECHAR     a NUL, space or control byte anywhere in the input
 *                      (with RP_HP_HOST_ONLY: in the host, once found);
 *      RP_HP_EBRACKET  a '[' without its ']';
 *      RP_HP_EJUNK     after ']' anything but ":PORT" or the end;
 *      RP_HP_ESTRAY    a '[' or ']' in the host ("h]:80", "[[::1]:80");
 *      RP_HP_ENOHOST   an empty host (":80", "[]:80"), unless
 *                      RP_HP_HOST_EMPTY (a listener: all interfaces);
 *      RP_HP_EV6       a bare host with more than one ':' ("::1:80",
 *                      "h:1:2"): an IPv6 address wants its brackets;
 *      RP_HP_ENOPORT   no port, or an empty one, where one is needed;
 *      RP_HP_EPORT     a port that is not digits or out of range.
 *    Checks run in that order, so a caller sees the first that fails.
 *  - With RP_HP_HOST_ONLY only the host is read: whatever follows it
 *    (":PORT", junk after ']') is not looked at; the port is `defport`.
 *  - On success, and on ESTRAY, ENOHOST, EV6, ENOPORT and EPORT, hp->host
 *    and hp->hostlen describe the host as split (so a caller can check
 *    the host before it reports a bad port); on ECHAR, EBRACKET and EJUNK
 *    they are NULL and 0.
 *  - Reads exactly n bytes (the input needs no NUL); never allocates:
 *    hp->host points into the input.  rp_hostport_host() copies the host
 *    into the caller's buffer; rp_hostport_listen() is the one call that
 *    allocates, and only its error text (the caller frees it).
 *  - rp_hostport_fmt() writes the other way: "[HOST]:PORT" when the host
 *    has a ':' (an IPv6 address), "HOST:PORT" otherwise; what it writes
 *    of an accepted host and port reads back as the same host and port.
 */
#ifndef RP_HOSTPORT_H
#define RP_HOSTPORT_H
#include <stddef.h>

enum {
	RP_HP_PORT_OPTIONAL = 1 << 0, /* "NAME", "[IPv6]": the port is defport */
	RP_HP_PORT_EMPTY = 1 << 1,    /* "NAME:", "[IPv6]:": the port is defport */
	RP_HP_PORT_ZERO = 1 << 2,     /* port 0 is accepted */
	RP_HP_HOST_EMPTY = 1 << 3,    /* ":PORT", "[]:PORT" are accepted */
	RP_HP_HOST_ONLY = 1 << 4,     /* only the host is read */
};

enum {
	RP_HP_OK = 0,
	RP_HP_ECHAR = -1,
	RP_HP_EBRACKET = -2,
	RP_HP_EJUNK = -3,
	RP_HP_ESTRAY = -4,
	RP_HP_ENOHOST = -5,
	RP_HP_EV6 = -6,
	RP_HP_ENOPORT = -7,
	RP_HP_EPORT = -8,
};

struct rp_hostport {
	const char *host; /* into the input, not NUL-terminated */
	size_t hostlen;
	int port;
	int bracketed; /* the host was written [IPv6] */
};

/* Split s[0..n): RP_HP_OK (0) or one of the negative codes above. */
int rp_hostport(const char *s, size_t n, unsigned flags, int defport, struct rp_hostport *hp);
/* A short lower-case phrase for a code ("bad port"); never NULL. */
const char *rp_hostport_strerror(int code);
/* Copy the host, NUL-terminated, into buf: 0, or -1 when it does not fit. */
int rp_hostport_host(const struct rp_hostport *hp, char *buf, size_t size);
/* Write host and port (port < 0: the host alone, bracketed alike) into
 * buf like snprintf: the length it needed, cut short to fit size. */
int rp_hostport_fmt(char *buf, size_t size, const char *host, int port);
/* A listen address: "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces),
 * port 0..65535.  0, or -1 and *err = "listen address 'ADDR': why"
 * (malloc'd: the caller frees it). */
int rp_hostport_listen(const char *addr, struct rp_hostport *hp, char **err);

#endif
