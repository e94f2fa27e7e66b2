/* ssh.h — the one SSH client of the toolkit (libssh2).
 *
 * Promises:
 *  - rp_ssh_connect() connects with a deadline (ssh.connect_timeout), does
 *    the handshake, checks the host key against a known_hosts file
 *    (OpenSSH format; "[host]:port" names for ports other than 22; hashed
 *    "|1|" names are understood) and authenticates with a private key file
 *    (no passphrase).  An unknown host is trusted on first use: its key is
 *    appended to the file (under state.h's rp_lock: O_NOFOLLOW, mode
 *    0600), with the comment "rp-pod=ID" when opts.pod_id is given, and
 *    logged with its fingerprint — unless opts.strict or opts.no_tofu.  A host whose key differs from the
 *    recorded one is refused (RP_SSH_EHOSTKEY) before anything is run.
 *  - Every operation has a deadline; nothing blocks forever.
 *  - Error texts are one line that starts with "HOST:PORT: " and carry no
 *    secret (the text of a remote stderr is passed through rp_redact()).
 *  - Data for a command (rp_ssh_exec's input, rp_ssh_upload's file) goes
 *    over the channel's stdin, never on the remote command line.
 *  - One session is used by one thread at a time; different sessions may
 *    live in different threads.
 */
#ifndef RP_SSH_H
#define RP_SSH_H
#include <stddef.h>
#include <libssh2.h>

enum rp_ssh_code {
	RP_SSH_OK = 0,
	RP_SSH_ECONNECT, /* unreachable, refused, connect timed out */
	RP_SSH_EHOSTKEY, /* host key changed (or unknown with strict) */
	RP_SSH_EAUTH,    /* key refused, key file unreadable */
	RP_SSH_EPROTO,   /* handshake or channel failure */
	RP_SSH_ETIMEOUT, /* a command ran past its deadline */
	RP_SSH_EDROP     /* the connection went away mid-operation */
};

struct rp_ssh_opts {
	const char *host;
	int port;                 /* 0: 22 */
	const char *user;         /* NULL: root */
	const char *identity_file;
	const char *known_hosts;  /* NULL: $RP_STATE_DIR/known_hosts */
	double connect_timeout;   /* <= 0: 10 s; covers TCP, handshake, auth */
	int strict;               /* 1: an unknown host key is refused */
	const char *pod_id;       /* the RunPod pod behind host:port, or NULL:
				   * a key recorded on first use carries it as
				   * the line's comment "rp-pod=ID" */
	const char *no_tofu;      /* non-NULL: an unknown host key is refused
				   * (RP_SSH_EHOSTKEY), this text saying why */
};

struct rp_ssh;
struct rp_config;

/* The one reading of the ssh.* keys (user, identity_file, known_hosts,
 * connect_timeout) into options for HOST:PORT (PORT 0: ssh.port) and the
 * pod POD_ID (or NULL).  The strings point into CFG. */
struct rp_ssh_opts rp_ssh_opts_cfg(const struct rp_config *cfg, const char *host, int port, const char *pod_id);

/* NULL + *code + *err (malloc'd) on failure. */
struct rp_ssh *rp_ssh_connect(const struct rp_ssh_opts *o, int *code, char **err);
void rp_ssh_close(struct rp_ssh *s);
/* "SHA256:<base64, no padding>" of the server's host key. */
const char *rp_ssh_fingerprint(const struct rp_ssh *s);
/* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", … */
const char *rp_ssh_keytype(const struct rp_ssh *s);
/* 1 if this connection recorded the key (trust on first use). */
int rp_ssh_key_new(const struct rp_ssh *s);
/* "HOST:PORT" */
const char *rp_ssh_name(const struct rp_ssh *s);

struct rp_ssh_res {
	int status;     /* exit status; -1 when killed by a signal */
	char *signal;   /* signal name ("TERM") or NULL */
	char *out, *err;/* NUL-terminated captures (capped at 16 MiB each) */
	size_t out_len, err_len;
};

/* Run cmd (a shell command line) with in[0..in_len) on its stdin (in may
 * be NULL), until it exits or `timeout` seconds pass (<= 0: 5 min).
 * 0: it ran to completion, r filled (any exit status); -1: timeout or
 * connection lost, *code and *err set (r holds what arrived). */
int rp_ssh_exec(struct rp_ssh *s, const char *cmd, const void *in, size_t in_len, double timeout,
		struct rp_ssh_res *r, int *code, char **err);
void rp_ssh_res_free(struct rp_ssh_res *r);
/* rp_ssh_exec without input, its stdout handed to sink as it arrives
 * (r->out stays empty; r->err is kept), and sink(arg, NULL, 0) at least
 * every second of silence.  The command's stdin stays open until sink
 * returns < 0: then it gets EOF, and its output is no longer read; the
 * channel is closed within 5 s more -- a command that should stop with
 * its reader watches its stdin ("tail -F F & cat >/dev/null; kill $!").
 * Return and errors as rp_ssh_exec. */
typedef int (*rp_ssh_sink)(void *arg, const char *data, size_t n);
int rp_ssh_exec_stream(struct rp_ssh *s, const char *cmd, double timeout, rp_ssh_sink sink, void *arg,
		       struct rp_ssh_res *r, int *code, char **err);
/* rp_ssh_exec whose input depends on what the command says first: once
 * its first line of stdout has arrived (without the newline; not kept in
 * r->out), answer(arg, line, &len) gives the input (malloc'd, len bytes;
 * NULL: none), which is then written and followed by EOF.  A command
 * that ends before saying a line gets no input.  One channel where a
 * question and a command that needs its answer took two (one round trip
 * and one remote shell less).  Return and errors as rp_ssh_exec. */
typedef char *(*rp_ssh_answer)(void *arg, const char *line, size_t *len);
int rp_ssh_exec_answer(struct rp_ssh *s, const char *cmd, double timeout, rp_ssh_answer answer, void *arg,
		       struct rp_ssh_res *r, int *code, char **err);
/* First non-empty line of a capture, redacted, at most 300 bytes
 * (static per-thread buffer). */
const char *rp_ssh_firstline(const char *text);

/* Write data to the remote path with the given mode (created with a
 * umask that never lets group/other read it first), via "cat >" on
 * stdin.  0, or -1 with *code and *err set. */
int rp_ssh_upload(struct rp_ssh *s, const char *path, const void *data, size_t n, unsigned mode,
		  double timeout, int *code, char **err);

/* Forget what was learnt on first use from a pod that is gone: rewrite
 * known_hosts (NULL: the default) without the lines whose comment is
 * "rp-pod=POD_ID", under the same rp_lock as the recording, atomically
 * (rp_write_atomic).  Other lines (hand-written, older entries without a
 * pod comment, other pods') stay byte for byte.  Number of lines
 * dropped (0 also when there is no file), or -1 with errno. */
int rp_ssh_forget_pod(const char *known_hosts, const char *pod_id);

/* Single-quote s for a POSIX shell (malloc'd). */
char *rp_ssh_quote(const char *s);

/* For tunnel.c: the raw session (non-blocking) and its socket, and a wait
 * for the socket in the direction libssh2 needs, up to `secs`. */
LIBSSH2_SESSION *rp_ssh_session(struct rp_ssh *s, int *fd);
int rp_ssh_wait(struct rp_ssh *s, double secs);

#endif
