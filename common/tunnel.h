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
 *
 * The life of one pod's tunnel (`rp-join --tunnel ID`, rp-tunnel@ID):
 *  - rp_tunnel_find() reads the pod's ssh_host/ssh_port from the ledger
 *    (the last line of the pod that has them).
 *  - rp_tunnel_run() writes $RP_STATE_DIR/tunnel/ID.pid (directory 0700),
 *    holds the forwards until SIGTERM, SIGINT or SIGHUP, and removes the
 *    pid file however the hold ended.
 *  - rp_tunnel_alive() says whether it runs (a tunnelled join needs it:
 *    the pod reaches the API server only through it, kube.api_server_tunnel).
 *  - rp_tunnel_stop() stops it: `systemctl stop rp-tunnel@ID.service` when
 *    systemctl exists and says the unit is active; otherwise SIGTERM (then
 *    SIGKILL after 5 s) to the pid in the pid file, only if that live
 *    process's command line names rp-join; the pid file goes.
 *  - ID must pass rp_safe_name() (it becomes a file name).
 */
#ifndef RP_TUNNEL_H
#define RP_TUNNEL_H
#include <signal.h>
#include <stddef.h>
#include <cjson/cJSON.h>
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

/* kube.forwards (a list of strings) into *f (caller frees): the count,
 * or -1 + *err. */
int rp_fwd_parse_list(const cJSON *list, struct rp_fwd **f, char **err);

/* 1 and *host (caller frees), *port when the ledger knows the pod's SSH
 * address; 0 when it does not; -1 + *err when the ledger cannot be read. */
int rp_tunnel_find(const char *id, char **host, int *port, char **err);
/* Path of ID's pid file (malloc'd). */
char *rp_tunnel_pidfile(const char *id);
/* Hold ID's tunnel until a signal: 0; RP_EXIT_FAIL + *err from
 * rp_tunnel_hold(); -1 + *err when the pid file cannot be written
 * (nothing started). */
int rp_tunnel_run(const struct rp_ssh_opts *o, const char *id, const struct rp_fwd *f, size_t n,
		  char **err);
/* 1 when ID's tunnel runs (its pid file names a live rp-join), else 0. */
int rp_tunnel_alive(const char *id);
/* Stop ID's tunnel: 0 stopped, 1 none running, -1 + *err. */
int rp_tunnel_stop(const char *id, char **err);

#endif
