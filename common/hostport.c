/* hostport.c — split "HOST:PORT" / "[IPv6]:PORT" (see hostport.h). */
#include "hostport.h"
#include "rp.h"

#include <stdio.h>
#include <string.h>

static int bad_char(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 1;
	return 0;
}

int rp_hostport(const char *s, size_t n, unsigned flags, int defport, struct rp_hostport *hp)
{
	const char *end = s + n, *rest; /* rest: what follows the host */
	int host_only = !!(flags & RP_HP_HOST_ONLY);
	memset(hp, 0, sizeof *hp);
	hp->port = defport;
	if (!host_only && bad_char(s, n))
		return RP_HP_ECHAR;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return RP_HP_EBRACKET;
		if (!host_only && rb + 1 < end && rb[1] != ':')
			return RP_HP_EJUNK;
		hp->host = s + 1;
		hp->hostlen = (size_t)(rb - s - 1);
		hp->bracketed = 1;
		rest = rb + 1;
	} else {
		const char *colon = memchr(s, ':', n);
		hp->host = s;
		hp->hostlen = colon ? (size_t)(colon - s) : n;
		rest = s + hp->hostlen;
	}
	if (host_only && bad_char(hp->host, hp->hostlen)) {
		hp->host = NULL;
		hp->hostlen = 0;
		return RP_HP_ECHAR;
	}
	if (memchr(hp->host, '[', hp->hostlen) || memchr(hp->host, ']', hp->hostlen))
		return RP_HP_ESTRAY;
	if (!hp->hostlen && !(flags & RP_HP_HOST_EMPTY))
		return RP_HP_ENOHOST;
	if (host_only)
		return RP_HP_OK;
	/* rest is the end, or ':' and the port */
	if (rest == end)
		return flags & RP_HP_PORT_OPTIONAL ? RP_HP_OK : RP_HP_ENOPORT;
	const char *p = rest + 1;
	if (!hp->bracketed && memchr(p, ':', (size_t)(end - p)))
		return RP_HP_EV6;
	if (p == end)
		return flags & RP_HP_PORT_EMPTY ? RP_HP_OK : RP_HP_ENOPORT;
	long v = 0;
	for (; p < end; p++)
		if (*p < '0' || *p > '9' || (v = v * 10 + (*p - '0')) > 65535)
			return RP_HP_EPORT;
	if (v == 0 && !(flags & RP_HP_PORT_ZERO))
		return RP_HP_EPORT;
	hp->port = (int)v;
	return RP_HP_OK;
}

const char *rp_hostport_strerror(int code)
{
	switch (code) {
	case RP_HP_OK: return "ok";
	case RP_HP_ECHAR: return "a space or control character in it";
	case RP_HP_EBRACKET: return "an IPv6 address without ']'";
	case RP_HP_EJUNK: return "junk after the IPv6 address";
	case RP_HP_ESTRAY: return "a '[' or ']' outside an IPv6 address's brackets";
	case RP_HP_ENOHOST: return "no host";
	case RP_HP_EV6: return "more than one ':' (an IPv6 address goes in brackets: [ADDR]:PORT)";
	case RP_HP_ENOPORT: return "no port";
	case RP_HP_EPORT: return "bad port";
	}
	return "unknown error";
}

int rp_hostport_host(const struct rp_hostport *hp, char *buf, size_t size)
{
	if (!size || hp->hostlen >= size)
		return -1;
	if (hp->hostlen)
		memcpy(buf, hp->host, hp->hostlen);
	buf[hp->hostlen] = 0;
	return 0;
}

int rp_hostport_fmt(char *buf, size_t size, const char *host, int port)
{
	const char *o = strchr(host, ':') ? "[" : "", *c = *o ? "]" : "";
	if (port < 0)
		return snprintf(buf, size, "%s%s%s", o, host, c);
	return snprintf(buf, size, "%s%s%s:%d", o, host, c, port);
}

int rp_hostport_listen(const char *addr, struct rp_hostport *hp, char **err)
{
	int r = rp_hostport(addr, strlen(addr), RP_HP_HOST_EMPTY | RP_HP_PORT_ZERO, 0, hp);
	*err = NULL;
	if (r == RP_HP_OK)
		return 0;
	*err = r == RP_HP_ENOPORT ? rp_xasprintf("listen address '%s': want HOST:PORT", addr)
				  : rp_xasprintf("listen address '%s': %s", addr, rp_hostport_strerror(r));
	return -1;
}
