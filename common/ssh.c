/* ssh.c — libssh2 sessions: connect, host keys, exec, upload. */
#include "ssh.h"
#include "config.h"
#include "log.h"
#include "rp.h"
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define CAP (16u << 20)

struct rp_ssh {
	LIBSSH2_SESSION *sess;
	int fd;
	char name[300];   /* host:port, for messages */
	char fp[80];      /* SHA256:… */
	char ktype[48];
	int key_new;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_once(void) { libssh2_init(0); }

static char *msg(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *msg(const char *name, const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	for (char *p = b; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	char *red = rp_redact(b);
	char *out = rp_xasprintf("%s: %s", name, red);
	free(red);
	return out;
}

static const char *sess_err(LIBSSH2_SESSION *s)
{
	char *m = NULL;
	libssh2_session_last_error(s, &m, NULL, 0);
	return m && *m ? m : "unknown error";
}

/* A libssh2 status that means the transport is gone. */
static int is_drop(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	       rc == LIBSSH2_ERROR_BANNER_RECV || rc == LIBSSH2_ERROR_TIMEOUT;
}

/* Wait for the socket in the direction libssh2 is blocked on.
 * 0 ready (or time left), -1 deadline passed. */
static int wait_until(struct rp_ssh *s, double deadline)
{
	double left = deadline - rp_mono();
	if (left <= 0)
		return -1;
	struct pollfd p = { .fd = s->fd };
	int dir = s->sess ? libssh2_session_block_directions(s->sess) : 0;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		p.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		p.events |= POLLOUT;
	if (!p.events)
		p.events = POLLIN;
	int ms = left > 1.0 ? 1000 : (int)(left * 1000) + 1;
	if (poll(&p, 1, ms) < 0 && errno != EINTR)
		return -1;
	return 0;
}

int rp_ssh_wait(struct rp_ssh *s, double secs)
{
	return wait_until(s, rp_mono() + secs);
}

LIBSSH2_SESSION *rp_ssh_session(struct rp_ssh *s, int *fd)
{
	if (fd)
		*fd = s->fd;
	return s->sess;
}

const char *rp_ssh_fingerprint(const struct rp_ssh *s) { return s->fp; }
const char *rp_ssh_keytype(const struct rp_ssh *s) { return s->ktype; }
int rp_ssh_key_new(const struct rp_ssh *s) { return s->key_new; }
const char *rp_ssh_name(const struct rp_ssh *s) { return s->name; }

static int tcp_connect(const char *host, int port, double deadline, char *why, size_t whyn)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *ai, *a;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	int g = getaddrinfo(host, ps, &hints, &ai);
	if (g) {
		snprintf(why, whyn, "resolve: %s", gai_strerror(g));
		return -1;
	}
	int fd = -1;
	snprintf(why, whyn, "connect: no address");
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int r;
			do {
				double left = deadline - rp_mono();
				r = left > 0 ? poll(&p, 1, (int)(left * 1000) + 1) : 0;
			} while (r < 0 && errno == EINTR);
			if (r > 0) {
				int e = 0;
				socklen_t el = sizeof e;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
				if (!e)
					break;
				snprintf(why, whyn, "connect: %s", strerror(e));
			} else {
				snprintf(why, whyn, "connect: timed out");
			}
		} else {
			snprintf(why, whyn, "connect: %s", strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* --- known_hosts ------------------------------------------------------- */

static unsigned char *b64d(const char *in, size_t n, size_t *outn)
{
	unsigned char *out = rp_xmalloc(n + 4);
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(out);
		return NULL;
	}
	while (n && in[n - 1] == '=') {
		len--;
		n--;
	}
	*outn = (size_t)len;
	return out;
}

static void b64e(const unsigned char *in, size_t n, char *out, int pad)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	if (!pad)
		for (char *p = out + strlen(out); p > out && p[-1] == '='; p--)
			p[-1] = 0;
}

/* Does one host pattern (plain or |1|salt|hash) name `name`? */
static int pat_match(const char *pat, size_t pn, const char *name)
{
	if (pn > 3 && !strncmp(pat, "|1|", 3)) {
		const char *salt = pat + 3, *bar = memchr(salt, '|', pn - 3);
		if (!bar)
			return 0;
		size_t sl, hl;
		unsigned char *sb = b64d(salt, (size_t)(bar - salt), &sl);
		unsigned char *hb = b64d(bar + 1, pn - (size_t)(bar + 1 - pat), &hl);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdl = 0;
		int ok = 0;
		if (sb && hb &&
		    HMAC(EVP_sha1(), sb, (int)sl, (const unsigned char *)name, strlen(name), md, &mdl))
			ok = mdl == hl && !memcmp(md, hb, hl);
		free(sb);
		free(hb);
		return ok;
	}
	return strlen(name) == pn && !strncmp(pat, name, pn);
}

struct known {
	char type[48];
	unsigned char *blob;
	size_t len;
};

/* Collect the keys recorded for `name` in text. */
static size_t known_scan(const char *text, const char *name, struct known *k, size_t max)
{
	size_t n = 0;
	const char *p = text;
	while (p && *p && n < max) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		char *line = rp_xmalloc(ll + 1);
		memcpy(line, p, ll);
		line[ll] = 0;
		p = eol ? eol + 1 : NULL;
		char *save = NULL, *hosts = strtok_r(line, " \t\r", &save);
		char *type = hosts ? strtok_r(NULL, " \t\r", &save) : NULL;
		char *key = type ? strtok_r(NULL, " \t\r", &save) : NULL;
		if (!key || *hosts == '#' || *hosts == '@') {
			free(line);
			continue;
		}
		int hit = 0;
		for (const char *h = hosts; *h && !hit;) {
			size_t hl = strcspn(h, ",");
			hit = pat_match(h, hl, name);
			h += hl + (h[hl] == ',');
		}
		if (hit && strlen(type) < sizeof k[n].type) {
			k[n].blob = b64d(key, strlen(key), &k[n].len);
			if (k[n].blob) {
				snprintf(k[n].type, sizeof k[n].type, "%s", type);
				n++;
			}
		}
		free(line);
	}
	return n;
}

static void known_free(struct known *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(k[i].blob);
}

/* 1 match, 0 none recorded, -1 a different key is recorded. */
static int known_check(const struct known *k, size_t n, const unsigned char *blob, size_t len)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (k[i].len == len && !memcmp(k[i].blob, blob, len))
			return 1;
	return -1;
}

static const char *hostkey_methods(const char *type)
{
	if (!strcmp(type, "ssh-rsa"))
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	return type;
}

static char *known_path(const char *given)
{
	if (given && *given)
		return rp_xstrdup(given);
	return rp_state_path(RP_STATE_KNOWN_HOSTS, NULL);
}

/* rp_lock the known_hosts file itself, and make sure the lock is on the
 * file the path names now: rp_ssh_forget_pod() replaces it by rename, so
 * a lock won on the replaced inode is dropped and taken again. */
static int known_lock(const char *path, int flags)
{
	for (int tries = 0;; tries++) {
		int fd = rp_lock(path, flags, -1);
		if (fd < 0)
			return -1;
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return fd;
		int e = errno;
		rp_unlock(fd);
		if ((e == ENOENT && (flags & RP_LOCK_NOCREATE)) || tries >= 100) {
			errno = e;
			return -1;
		}
	}
}

/* Record a first-seen key (under rp_lock; re-check what another process
 * may have written meanwhile).  1 recorded/already there, -1 refused
 * (differs), -2 I/O error (errno). */
static int known_record(const char *path, const char *name, const char *type,
			const unsigned char *blob, size_t len, const char *pod_id)
{
	char *dir = rp_xstrdup(path), *sl = strrchr(dir, '/');
	if (sl && sl != dir) {
		*sl = 0;
		if (!strcmp(dir, rp_state_dir()))
			rp_state_mkdir(dir); /* the default: the state dir's mode and checks */
		else
			rp_mkdir_p(dir, 0700); /* ssh.known_hosts names another place */
	}
	free(dir);
	int fd = known_lock(path, RP_LOCK_EX | RP_LOCK_APPEND);
	if (fd < 0)
		return -2;
	struct rp_buf b = { 0 };
	char chunk[4096];
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while ((r = read(fd, chunk, sizeof chunk)) > 0)
		rp_buf_add(&b, chunk, (size_t)r);
	struct known k[16];
	size_t n = known_scan(b.data ? b.data : "", name, k, 16);
	int rc = known_check(k, n, blob, len);
	known_free(k, n);
	if (rc == 0) {
		char *enc = rp_xmalloc(len * 2 + 8);
		b64e(blob, len, enc, 1);
		char *line = rp_xasprintf("%s%s %s %s%s%s\n", b.len && b.data[b.len - 1] != '\n' ? "\n" : "",
					  name, type, enc, pod_id ? " rp-pod=" : "", pod_id ? pod_id : "");
		size_t ln = strlen(line);
		rc = write(fd, line, ln) == (ssize_t)ln && fsync(fd) == 0 ? 1 : -2;
		free(line);
		free(enc);
	}
	rp_buf_free(&b);
	rp_unlock(fd);
	return rc;
}

/* Is this known_hosts line one recorded for pod_id (its comment)? */
static int line_of_pod(const char *p, size_t ll, const char *pod_id)
{
	char *line = rp_xmalloc(ll + 1);
	memcpy(line, p, ll);
	line[ll] = 0;
	char *save = NULL, *f[4] = { 0 };
	f[0] = strtok_r(line, " \t\r", &save);
	for (int i = 1; i < 4 && f[i - 1]; i++)
		f[i] = strtok_r(NULL, " \t\r", &save);
	int hit = f[3] && *f[0] != '#' && !strncmp(f[3], "rp-pod=", 7) && !strcmp(f[3] + 7, pod_id) &&
		  !strtok_r(NULL, " \t\r", &save);
	free(line);
	return hit;
}

int rp_ssh_forget_pod(const char *known_hosts, const char *pod_id)
{
	if (!pod_id || !*pod_id)
		return 0;
	char *path = known_path(known_hosts);
	int fd = known_lock(path, RP_LOCK_EX | RP_LOCK_NOCREATE);
	if (fd < 0) {
		int e = errno;
		free(path);
		errno = e;
		return e == ENOENT ? 0 : -1;
	}
	struct rp_buf b = { 0 }, out = { 0 };
	char chunk[4096];
	ssize_t r;
	while ((r = read(fd, chunk, sizeof chunk)) > 0)
		rp_buf_add(&b, chunk, (size_t)r);
	int dropped = 0, rc = 0;
	if (r < 0)
		rc = -1;
	for (const char *p = b.data; rc == 0 && p && p < b.data + b.len;) {
		const char *eol = memchr(p, '\n', (size_t)(b.data + b.len - p));
		size_t ll = eol ? (size_t)(eol - p) : (size_t)(b.data + b.len - p);
		if (line_of_pod(p, ll, pod_id))
			dropped++;
		else
			rp_buf_add(&out, p, ll + (eol ? 1 : 0));
		p = eol ? eol + 1 : NULL;
	}
	if (rc == 0 && dropped && rp_write_atomic(path, out.data ? out.data : "", out.len, 0600) < 0)
		rc = -1;
	int e = errno;
	rp_buf_free(&b);
	rp_buf_free(&out);
	rp_unlock(fd);
	free(path);
	errno = e;
	return rc < 0 ? -1 : dropped;
}

/* --- connect ----------------------------------------------------------- */

void rp_ssh_close(struct rp_ssh *s)
{
	if (!s)
		return;
	if (s->sess) {
		/* Blocking, bounded: a non-blocking free returns EAGAIN while a
		 * channel still closes, and would leave the session allocated. */
		libssh2_session_set_timeout(s->sess, 2000);
		libssh2_session_set_blocking(s->sess, 1);
		libssh2_session_disconnect(s->sess, "bye");
		libssh2_session_free(s->sess);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

static struct rp_ssh *fail(struct rp_ssh *s, int *code, int c, char **err, char *m)
{
	*code = c;
	*err = m;
	rp_ssh_close(s);
	return NULL;
}

struct rp_ssh *rp_ssh_connect(const struct rp_ssh_opts *o, int *code, char **err)
{
	pthread_once(&once, init_once);
	int port = o->port > 0 ? o->port : 22;
	double tmo = o->connect_timeout > 0 ? o->connect_timeout : 10;
	double dl = rp_mono() + tmo;
	const char *user = o->user && *o->user ? o->user : "root";
	int dummy;
	if (!code)
		code = &dummy;

	struct rp_ssh *s = rp_xcalloc(1, sizeof *s);
	s->fd = -1;
	snprintf(s->name, sizeof s->name, "%s:%d", o->host, port);
	char why[300];
	s->fd = tcp_connect(o->host, port, dl, why, sizeof why);
	if (s->fd < 0)
		return fail(s, code, RP_SSH_ECONNECT, err, msg(s->name, "%s", why));

	/* What do we know of this host?  Prefer its recorded key types. */
	char kname[300];
	if (port == 22)
		snprintf(kname, sizeof kname, "%s", o->host);
	else
		snprintf(kname, sizeof kname, "[%s]:%d", o->host, port);
	char *kpath = known_path(o->known_hosts);
	char *ktext = rp_read_file(kpath, 4u << 20, NULL);
	if (!ktext && errno != ENOENT) {
		char *m = msg(s->name, "known hosts %s: %s", kpath, strerror(errno));
		free(kpath);
		return fail(s, code, RP_SSH_EHOSTKEY, err, m);
	}
	struct known k[16];
	size_t nk = known_scan(ktext ? ktext : "", kname, k, 16);
	free(ktext);

	s->sess = libssh2_session_init();
	if (!s->sess) {
		known_free(k, nk);
		free(kpath);
		return fail(s, code, RP_SSH_EPROTO, err, msg(s->name, "libssh2 session init failed"));
	}
	libssh2_session_set_blocking(s->sess, 0);
	if (nk) {
		struct rp_buf pref = { 0 };
		for (size_t i = 0; i < nk; i++) {
			const char *m = hostkey_methods(k[i].type);
			if (pref.len && strstr(pref.data, m))
				continue;
			rp_buf_addf(&pref, "%s%s", pref.len ? "," : "", m);
		}
		libssh2_session_method_pref(s->sess, LIBSSH2_METHOD_HOSTKEY, pref.data);
		rp_buf_free(&pref);
	}
	int rc;
	while ((rc = libssh2_session_handshake(s->sess, s->fd)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_until(s, dl))
			break;
	if (rc) {
		int c = rc == LIBSSH2_ERROR_EAGAIN || is_drop(rc) ? RP_SSH_ECONNECT : RP_SSH_EPROTO;
		char *m = rc == LIBSSH2_ERROR_EAGAIN ? msg(s->name, "handshake: timed out")
		        : msg(s->name, "handshake: %s", sess_err(s->sess));
		if (nk && rc == LIBSSH2_ERROR_KEX_FAILURE) {
			free(m);
			c = RP_SSH_EHOSTKEY;
			m = msg(s->name, "host key type changed (recorded: %s in %s); refused", k[0].type, kpath);
		}
		known_free(k, nk);
		free(kpath);
		return fail(s, code, c, err, m);
	}

	size_t klen = 0;
	int ktype = 0;
	const char *blob = libssh2_session_hostkey(s->sess, &klen, &ktype);
	const char *hash = libssh2_hostkey_hash(s->sess, LIBSSH2_HOSTKEY_HASH_SHA256);
	if (!blob || klen < 8 || !hash) {
		known_free(k, nk);
		free(kpath);
		return fail(s, code, RP_SSH_EPROTO, err, msg(s->name, "no host key"));
	}
	char enc[64];
	b64e((const unsigned char *)hash, 32, enc, 0);
	snprintf(s->fp, sizeof s->fp, "SHA256:%s", enc);
	uint32_t tl = (uint32_t)(unsigned char)blob[0] << 24 | (uint32_t)(unsigned char)blob[1] << 16 |
		      (uint32_t)(unsigned char)blob[2] << 8 | (unsigned char)blob[3];
	if (tl == 0 || tl >= sizeof s->ktype || tl + 4 > klen) {
		known_free(k, nk);
		free(kpath);
		return fail(s, code, RP_SSH_EPROTO, err, msg(s->name, "malformed host key"));
	}
	memcpy(s->ktype, blob + 4, tl);
	s->ktype[tl] = 0;

	int kc = known_check(k, nk, (const unsigned char *)blob, klen);
	known_free(k, nk);
	if (kc < 0) {
		char *m = msg(s->name, "host key changed (now %s %s; %s has another); refused", s->ktype,
			      s->fp, kpath);
		free(kpath);
		return fail(s, code, RP_SSH_EHOSTKEY, err, m);
	}
	if (kc == 0) {
		if (o->strict) {
			char *m = msg(s->name, "host key %s %s not in %s (strict); refused", s->ktype, s->fp,
				      kpath);
			free(kpath);
			return fail(s, code, RP_SSH_EHOSTKEY, err, m);
		}
		if (o->no_tofu) {
			char *m = msg(s->name, "host key %s %s not in %s, and not trusted on first use: %s; refused",
				      s->ktype, s->fp, kpath, o->no_tofu);
			free(kpath);
			return fail(s, code, RP_SSH_EHOSTKEY, err, m);
		}
		int r = known_record(kpath, kname, s->ktype, (const unsigned char *)blob, klen,
				     o->pod_id && *o->pod_id && !strpbrk(o->pod_id, " \t\r\n") ? o->pod_id : NULL);
		if (r == -1) {
			char *m = msg(s->name, "host key changed (now %s %s; %s has another); refused",
				      s->ktype, s->fp, kpath);
			free(kpath);
			return fail(s, code, RP_SSH_EHOSTKEY, err, m);
		}
		if (r == -2) {
			char *m = msg(s->name, "known hosts %s: %s", kpath, strerror(errno));
			free(kpath);
			return fail(s, code, RP_SSH_EHOSTKEY, err, m);
		}
		s->key_new = 1;
		rp_info("ssh host key recorded (trust on first use)", "host", s->name, "type", s->ktype,
			"fingerprint", s->fp, "known_hosts", kpath);
	}
	free(kpath);

	if (!o->identity_file || !*o->identity_file)
		return fail(s, code, RP_SSH_EAUTH, err, msg(s->name, "no ssh.identity_file"));
	if (access(o->identity_file, R_OK) < 0)
		return fail(s, code, RP_SSH_EAUTH, err,
			    msg(s->name, "identity %s: %s", o->identity_file, strerror(errno)));
	while ((rc = libssh2_userauth_publickey_fromfile_ex(s->sess, user, (unsigned)strlen(user), NULL,
							     o->identity_file, NULL)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if (wait_until(s, dl))
			break;
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return fail(s, code, RP_SSH_ECONNECT, err, msg(s->name, "authentication: timed out"));
	if (rc)
		return fail(s, code, is_drop(rc) ? RP_SSH_EDROP : RP_SSH_EAUTH, err,
			    msg(s->name, "authentication as %s with %s: %s", user, o->identity_file,
				sess_err(s->sess)));
	*code = RP_SSH_OK;
	return s;
}

/* --- exec -------------------------------------------------------------- */

void rp_ssh_res_free(struct rp_ssh_res *r)
{
	free(r->out);
	free(r->err);
	free(r->signal);
	memset(r, 0, sizeof *r);
}

const char *rp_ssh_firstline(const char *text)
{
	static __thread char buf[304];
	const char *p = text ? text : "";
	while (*p == '\n' || *p == '\r' || *p == ' ')
		p++;
	size_t n = strcspn(p, "\r\n");
	if (n > 300)
		n = 300;
	char tmp[304];
	memcpy(tmp, p, n);
	tmp[n] = 0;
	char *red = rp_redact(tmp);
	snprintf(buf, sizeof buf, "%s", red);
	free(red);
	return buf;
}

static void keep(struct rp_buf *b, const char *p, size_t n)
{
	if (b->len + n > CAP)
		n = b->len < CAP ? CAP - b->len : 0;
	if (n)
		rp_buf_add(b, p, n);
}

/* rp_ssh_exec's loop; with a sink, stdout goes to it as it arrives and
 * stdin stays open until the sink says stop; with an answer, the input is
 * what it makes of stdout's first line, written once that line is in. */
static int run(struct rp_ssh *s, const char *cmd, const void *in, size_t in_len, double timeout, rp_ssh_sink sink,
	       void *arg, rp_ssh_answer answer, struct rp_ssh_res *r, int *code, char **err)
{
	char *owned = NULL; /* the answer's input */
	int asking = answer != NULL;
	int dummy;
	if (!code)
		code = &dummy;
	memset(r, 0, sizeof *r);
	r->status = -1;
	double dl = rp_mono() + (timeout > 0 ? timeout : 300);
	LIBSSH2_CHANNEL *ch = NULL;
	struct rp_buf ob = { 0 }, eb = { 0 };
	int rc = 0, c = RP_SSH_OK;
	const char *what = "open channel";

	while (!(ch = libssh2_channel_open_session(s->sess))) {
		rc = libssh2_session_last_errno(s->sess);
		if (rc != LIBSSH2_ERROR_EAGAIN || wait_until(s, dl))
			goto bad;
	}
	what = "exec";
	while ((rc = libssh2_channel_exec(ch, cmd)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_until(s, dl))
			goto bad;
	if (rc)
		goto bad;
	what = "run";
	size_t off = 0;
	int eof_sent = 0, stopped = 0;
	if (!in || !in_len) {
		in_len = 0;
	}
	for (;;) {
		int progress = 0;
		if (!asking && !eof_sent && off < in_len) {
			ssize_t w = libssh2_channel_write(ch, (const char *)in + off, in_len - off);
			if (w > 0) {
				off += (size_t)w;
				progress = 1;
			} else if (w != LIBSSH2_ERROR_EAGAIN) {
				rc = (int)w;
				goto bad;
			}
		}
		if (!asking && !eof_sent && off >= in_len && (!sink || stopped)) {
			rc = libssh2_channel_send_eof(ch);
			if (rc == 0) {
				eof_sent = 1;
				progress = 1;
			} else if (rc != LIBSSH2_ERROR_EAGAIN) {
				goto bad;
			}
		}
		char buf[4096]; /* 16 KiB here put one more page of each join thread's stack in RSS */
		for (int stream = 0; stream < 2; stream++) {
			ssize_t n;
			while ((n = libssh2_channel_read_ex(ch, stream, buf, sizeof buf)) > 0) {
				if (sink && !stream && !stopped)
					stopped = sink(arg, buf, (size_t)n) < 0;
				else if (!sink || stream)
					keep(stream ? &eb : &ob, buf, (size_t)n);
				progress = 1;
			}
			if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				rc = (int)n;
				goto bad;
			}
		}
		char *nl = asking && ob.len ? memchr(ob.data, '\n', ob.len) : NULL;
		if (nl) {
			*nl = 0;
			owned = answer(arg, ob.data, &in_len);
			in = owned;
			if (!in)
				in_len = 0;
			ob.len -= (size_t)(nl + 1 - ob.data);
			memmove(ob.data, nl + 1, ob.len + 1);
			asking = 0;
			progress = 1;
		}
		if (libssh2_channel_eof(ch))
			break;
		if (sink && !progress && !stopped)
			stopped = sink(arg, NULL, 0) < 0;
		if (stopped && eof_sent) {
			dl = rp_mono() + 5; /* the command had its EOF: it ends on its own */
			break;
		}
		if (!progress && wait_until(s, dl)) {
			rc = LIBSSH2_ERROR_EAGAIN;
			goto bad;
		}
	}
	what = "close";
	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_until(s, dl))
			goto bad;
	while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if (wait_until(s, dl))
			goto bad;
	r->status = libssh2_channel_get_exit_status(ch);
	char *sig = NULL;
	size_t siglen = 0;
	libssh2_channel_get_exit_signal(ch, &sig, &siglen, NULL, NULL, NULL, NULL);
	if (sig) {
		r->signal = rp_xstrdup(sig);
		r->status = -1;
		libssh2_free(s->sess, sig);
	}
	libssh2_channel_free(ch);
	free(owned);
	r->out = ob.data ? ob.data : rp_xstrdup("");
	r->out_len = ob.len;
	r->err = eb.data ? eb.data : rp_xstrdup("");
	r->err_len = eb.len;
	return 0;

bad:
	if (rc == LIBSSH2_ERROR_EAGAIN) {
		c = RP_SSH_ETIMEOUT;
		*err = msg(s->name, "%s timed out after %.0fs", what, timeout > 0 ? timeout : 300);
	} else if (is_drop(rc) || rc == LIBSSH2_ERROR_CHANNEL_CLOSED) {
		c = RP_SSH_EDROP;
		*err = msg(s->name, "connection lost during %s: %s", what, sess_err(s->sess));
	} else {
		c = RP_SSH_EPROTO;
		*err = msg(s->name, "%s: %s", what, sess_err(s->sess));
	}
	*code = c;
	if (ch)
		libssh2_channel_free(ch);
	free(owned);
	r->out = ob.data ? ob.data : rp_xstrdup("");
	r->out_len = ob.len;
	r->err = eb.data ? eb.data : rp_xstrdup("");
	r->err_len = eb.len;
	return -1;
}

int rp_ssh_exec(struct rp_ssh *s, const char *cmd, const void *in, size_t in_len, double timeout,
		struct rp_ssh_res *r, int *code, char **err)
{
	return run(s, cmd, in, in_len, timeout, NULL, NULL, NULL, r, code, err);
}

int rp_ssh_exec_answer(struct rp_ssh *s, const char *cmd, double timeout, rp_ssh_answer answer, void *arg,
		       struct rp_ssh_res *r, int *code, char **err)
{
	return run(s, cmd, NULL, 0, timeout, NULL, arg, answer, r, code, err);
}

int rp_ssh_exec_stream(struct rp_ssh *s, const char *cmd, double timeout, rp_ssh_sink sink, void *arg,
		       struct rp_ssh_res *r, int *code, char **err)
{
	return run(s, cmd, NULL, 0, timeout, sink, arg, NULL, r, code, err);
}

char *rp_ssh_quote(const char *s)
{
	struct rp_buf b = { 0 };
	rp_buf_add(&b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			rp_buf_adds(&b, "'\\''");
		else
			rp_buf_add(&b, s, 1);
	}
	rp_buf_add(&b, "'", 1);
	return b.data;
}

int rp_ssh_upload(struct rp_ssh *s, const char *path, const void *data, size_t n, unsigned mode,
		  double timeout, int *code, char **err)
{
	int dummy;
	if (!code)
		code = &dummy;
	char *q = rp_ssh_quote(path);
	char *cmd = rp_xasprintf("umask 077 && rm -f %s && cat > %s && chmod %o %s", q, q, mode & 07777, q);
	struct rp_ssh_res r;
	int rc = rp_ssh_exec(s, cmd, data, n, timeout, &r, code, err);
	if (rc == 0 && r.status != 0) {
		*code = RP_SSH_EPROTO;
		*err = msg(s->name, "upload %s: %s", path,
			   r.err_len ? rp_ssh_firstline(r.err) : "failed");
		rc = -1;
	}
	rp_ssh_res_free(&r);
	free(cmd);
	free(q);
	return rc;
}

struct rp_ssh_opts rp_ssh_opts_cfg(const struct rp_config *cfg, const char *host, int port, const char *pod_id)
{
	return (struct rp_ssh_opts){
		.host = host,
		.port = port ? port : (int)rp_cfg_int(cfg, "ssh.port"),
		.user = rp_cfg_str(cfg, "ssh.user"),
		.identity_file = rp_cfg_str(cfg, "ssh.identity_file"),
		.known_hosts = rp_cfg_str(cfg, "ssh.known_hosts"),
		.connect_timeout = rp_cfg_dur(cfg, "ssh.connect_timeout"),
		.pod_id = pod_id,
	};
}
