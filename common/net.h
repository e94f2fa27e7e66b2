/* net.h — plain TCP for readiness checks: read an SSH server's
 * identification line ("SSH-2.0-…", RFC 4253 4.2).
 *
 * Promises:
 *  - Every call ends by its deadline (monotonic); no signal handlers, no
 *    threads; sockets are close-on-exec and always closed before return.
 *  - A banner is the first line starting with "SSH-" (earlier lines are
 *    allowed by the RFC and skipped), within 8 KiB; "SSH-2.0-" and
 *    "SSH-1.99-" count as SSH 2.  The line is returned without CR/LF.
 *  - rp_net_ssh_banners() probes many endpoints at once with poll(2), at
 *    most `parallel` connections open to any one host:port at a time.
 */
#ifndef RP_NET_H
#define RP_NET_H
#include <stddef.h>

struct rp_net_probe {
	const char *host;   /* in: name or address */
	int port;           /* in */
	int ok;             /* out: 1 when a banner was read */
	char banner[256];   /* out: the identification line */
	char err[160];      /* out: why not, when !ok */
};

/* One endpoint: 0 and banner (n >= 1 bytes) or -1 + *err. */
int rp_net_ssh_banner(const char *host, int port, double timeout, char *banner, size_t n, char **err);
/* Many endpoints, each with the same timeout (from its own start). */
void rp_net_ssh_banners(struct rp_net_probe *p, size_t n, double timeout, int parallel);

#endif
