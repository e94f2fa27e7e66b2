/* tunnel.h — port forwards held over one SSH session, reconnected.
 *
 * A forward is written (config kube.forwards, one string each):
 *   L:LPORT:HOST:PORT   listen on 127.0.0.1:LPORT here; each connection is
 *                       carried to HOST:PORT as seen from the pod
 *                       (SSH "direct-tcpip").
 *   R:RPORT:HOST:PORT   ask the pod's sshd to listen on 127.0.0.1:RPORT;
 *                       each connection there is carried back and
 *                       connected to HOST:PORT from here ("tcpip-forward").
 *                       E.g. R:6443:10.0.0.10:6443 gives the pod the API
 *                       server at 127.0.0.1:6443.
 *
 * Promises:
 *  - rp_tunnel_hold() connects (host key checked as rp_ssh_connect does),
 *    sets up every forward, moves bytes both ways with half-close, and
 *    when the session drops (sshd restarted, network gone) reconnects with
 *    exponential backoff (0.25 s doubling to 30 s, with jitter) and sets
 *    the forwards up again.  Local listeners stay open across reconnects.
 *  - It returns 0 when *stop becomes non-zero (a signal handler sets it),
 *    or RP_EXIT_FAIL + *err when continuing is wrong: a changed host key,
 *    a local port that cannot be bound.
 *  - Keepalives every 5 s notice a dead peer.
 */
#ifndef RP_TUNNEL_H
#define RP_TUNNEL_H
#include <signal.h>
#include <stddef.h>
#include "ssh.h"

struct rp_fwd {
	char kind;      /* 'L' or 'R' */
	int listen;     /* LPORT or RPORT */
	char host[256]; /* target */
	int port;
};

/* 0 or -1 + *err (one line naming the spec). */
int rp_fwd_parse(const char *spec, struct rp_fwd *f, char **err);

/* on_up(arg, n) is called after each (re)connect with the number of
 * forwards set up (may be NULL). */
int rp_tunnel_hold(const struct rp_ssh_opts *o, const struct rp_fwd *f, size_t n,
		   volatile sig_atomic_t *stop, void (*on_up)(void *arg, int attempt), void *arg,
		   char **err);

#endif
