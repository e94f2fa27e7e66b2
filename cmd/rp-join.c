/* rp-join — see rp-join(1).  Pods in, nodes out: over SSH, join each
 * ready pod to Kubernetes (kubeadm) or start its worker (worker); or look
 * at a pod (--check); or hold a pod's tunnel (--tunnel); or be a virtual
 * node whose pods run on RunPod (--virtual); or read every pod's
 * transmitted bytes (--egress).  The join is common/join.h, the tunnel
 * common/tunnel.h, the virtual node common/vnode.h, egress common/egress.h. */
#include "cli.h"
#include "egress.h"
#include "join.h"
#include "ledger.h"
#include "log.h"
#include "record.h"
#include "records.h"
#include "rp.h"
#include "tunnel.h"
#include "vnode.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: rp-join [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"               [--bootstrap kubeadm|worker] [--label KEY=VALUE]...\n"
	"               [--user USER] [--identity FILE] [--known-hosts FILE]\n"
	"               [--concurrency N] [--timeout DURATION] [--api-tunnel PORT] [--check] < pod-records\n"
	"       rp-join [options] [--check] --host HOST [--port PORT] --id POD_ID [--name NODE]\n"
	"       rp-join [options] --tunnel POD_ID [--host HOST --port PORT] [--forward SPEC]...\n"
	"       rp-join [options] --virtual NODE [--once]\n"
	"       rp-join [options] --egress\n";

enum {
	O_HOST = RP_OPT_TOOL, O_PORT, O_ID, O_NAME, O_BOOT, O_CHECK, O_TUNNEL, O_FORWARD, O_LABEL,
	O_IDENT, O_KNOWN, O_USER, O_CONC, O_TIMEOUT, O_VIRTUAL, O_ONCE, O_EGRESS, O_API_TUNNEL
};

/* glibc keeps up to 7 freed chunks of each small size in a cache per
 * thread (tcache), which no other thread can use: 20 join threads held
 * ~0.5 MiB that way (issue 21: rp-join at most 10 MiB max RSS).  The cache
 * can only be turned off as a process starts (GLIBC_TUNABLES; there is no
 * mallopt for it), so rp-join joining on several threads executes itself
 * once more with it off, before it has read anything but its
 * configuration.  If that cannot be done, it goes on as it is. */
#define NO_TCACHE "glibc.malloc.tcache_count=0"
static void no_tcache(char **argv)
{
	const char *t = getenv("GLIBC_TUNABLES");
	if (t && strstr(t, "glibc.malloc.tcache_count="))
		return; /* done (or set by the user) */
	/* The binary's own path, not /proc/self/exe: the process would be
	 * named "exe" (ps, pgrep, top). */
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return;
	self[n] = 0;
	char *v = t && *t ? rp_xasprintf("%s:%s", t, NO_TCACHE) : rp_xstrdup(NO_TCACHE);
	if (setenv("GLIBC_TUNABLES", v, 1) == 0) {
		fflush(NULL);
		execv(self, argv);
	}
	/* not re-executed: as before */
	if (t)
		setenv("GLIBC_TUNABLES", t, 1);
	else
		unsetenv("GLIBC_TUNABLES");
	free(v);
}

/* --tunnel ID: the forwards of kube.forwards to the pod's sshd, held until
 * a signal.  The address is the command line's, else the ledger's. */
static int tunnel(const struct rp_config *cfg, const char *id, const char *host, int port)
{
	char *err = NULL, *found = NULL;
	struct rp_fwd *fw = NULL;
	if (!rp_safe_name(id))
		rp_fatal(RP_EXIT_USAGE, "--tunnel: bad pod id '%s'", id);
	if (!host) {
		int r = rp_tunnel_find(id, &found, &port, &err);
		if (r < 0)
			rp_fatal(RP_EXIT_FAIL, "ledger: %s", err);
		if (!r)
			rp_fatal(RP_EXIT_USAGE, "--tunnel %s: no ssh_host for this pod in %s; give --host and --port",
				 id, rp_ledger_path());
		host = found;
	}
	int n = rp_fwd_parse_list(rp_cfg_json(cfg, "kube.forwards"), &fw, &err);
	if (n < 0)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	if (!n)
		rp_fatal(RP_EXIT_USAGE, "--tunnel: no forwards (set kube.forwards or give --forward)");
	struct rp_ssh_opts o = rp_ssh_opts_cfg(cfg, host, port, NULL);
	int rc = rp_tunnel_run(&o, id, fw, (size_t)n, &err);
	if (rc < 0)
		rp_fatal(RP_EXIT_FAIL, "%s", err);
	if (rc)
		fprintf(stderr, "%s: error: %s:%d (%s): %s\n", rp_prog, host, port, id, err);
	free(err);
	free(fw);
	free(found);
	return rc;
}

/* Pod records from stdin become pods to join; other records pass through.
 * A field of the wrong type is an input error naming the line (exit 2). */
static void read_pods(struct rp_join *x)
{
	struct rp_rec_reader *rd = rp_rec_reader_new(stdin, "stdin", 1);
	cJSON *rec;
	const char *raw;
	int r;
	while ((r = rp_rec_read(rd, &rec, &raw)) == 1) {
		struct rp_pod p;
		char why[160];
		if (strcmp(rp_rec_type(rec), "pod") || rp_rec_str(rec, "error")) {
			rp_out_raw(raw);
			cJSON_Delete(rec);
			continue;
		}
		if (rp_pod_read(rec, &p, why, sizeof why) < 0)
			rp_recs_refuse(rd, "pod", why);
		if (!p.id || !*p.id)
			rp_fatal(RP_EXIT_USAGE, "stdin:%ld: pod record without an id", rp_rec_lineno(rd));
		rp_join_add(x, p.id, p.name, p.ssh_host, (int)p.ssh_port);
		cJSON_Delete(rec);
	}
	rp_rec_reader_free(rd);
	if (r < 0)
		exit(rp_finish(RP_EXIT_USAGE)); /* the reader said which line */
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "id", required_argument, NULL, O_ID },
		{ "name", required_argument, NULL, O_NAME },
		{ "bootstrap", required_argument, NULL, O_BOOT },
		{ "check", no_argument, NULL, O_CHECK },
		{ "tunnel", required_argument, NULL, O_TUNNEL },
		{ "forward", required_argument, NULL, O_FORWARD },
		{ "label", required_argument, NULL, O_LABEL },
		{ "identity", required_argument, NULL, O_IDENT },
		{ "known-hosts", required_argument, NULL, O_KNOWN },
		{ "user", required_argument, NULL, O_USER },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "virtual", required_argument, NULL, O_VIRTUAL },
		{ "once", no_argument, NULL, O_ONCE },
		{ "egress", no_argument, NULL, O_EGRESS },
		{ "api-tunnel", required_argument, NULL, O_API_TUNNEL },
		{ 0, 0, 0, 0 }
	};
	struct rp_cli cli;
	const char *host = NULL, *id = NULL, *name = NULL, *tunnel_id = NULL, *virt = NULL;
	int port = 0, check = 0, once = 0, egress = 0, c;
	rp_init(argv[0]);
	/* ssh.concurrency join threads would each get a malloc arena (up to
	 * 8 per core), each keeping its own high-water mark: one is enough
	 * (measured at 20 hosts: ~0.2 MiB less max RSS than two; rp-join's
	 * threads mostly wait on the network, seldom on malloc's lock). */
	mallopt(M_ARENA_MAX, 1);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_HOST: host = optarg; break;
		case O_PORT: {
			char *end;
			long p = strtol(optarg, &end, 10);
			if (*end || end == optarg || p < 1 || p > 65535)
				rp_cli_usage(&cli, "--port wants 1..65535, got '%s'", optarg);
			port = (int)p;
			break;
		}
		case O_ID: id = optarg; break;
		case O_NAME: name = optarg; break;
		case O_BOOT: rp_cli_key(&cli, "kube.bootstrap", optarg, 0); break;
		case O_CHECK: check = 1; break;
		case O_TUNNEL: tunnel_id = optarg; break;
		case O_FORWARD: rp_cli_key(&cli, "kube.forwards", optarg, 1); break;
		case O_LABEL: rp_cli_key(&cli, "kube.labels", optarg, 1); break;
		case O_IDENT: rp_cli_key(&cli, "ssh.identity_file", optarg, 0); break;
		case O_KNOWN: rp_cli_key(&cli, "ssh.known_hosts", optarg, 0); break;
		case O_USER: rp_cli_key(&cli, "ssh.user", optarg, 0); break;
		case O_CONC: rp_cli_key(&cli, "ssh.concurrency", optarg, 0); break;
		case O_TIMEOUT: rp_cli_key(&cli, "kube.join_timeout", optarg, 0); break;
		case O_VIRTUAL: virt = optarg; break;
		case O_ONCE: once = 1; break;
		case O_EGRESS: egress = 1; break;
		case O_API_TUNNEL: rp_cli_key(&cli, "kube.api_server_tunnel", optarg, 0); break;
		default: rp_cli_usage(&cli, "unknown option");
		}
	}
	if (optind < argc)
		rp_cli_usage(&cli, "unexpected argument '%s'", argv[optind]);
	if ((host || id || name) && tunnel_id == NULL && (!host || !id))
		rp_cli_usage(&cli, "--host and --id go together");
	if (tunnel_id && (check || (host && !port) || id))
		rp_cli_usage(&cli, "--tunnel takes --host and --port, nothing else");
	if (virt && (tunnel_id || check || host || id || name))
		rp_cli_usage(&cli, "--virtual takes no pod: its pods are the Kubernetes pods bound to the node");
	if (once && !virt)
		rp_cli_usage(&cli, "--once goes with --virtual");
	if (egress && (virt || tunnel_id || check || host || id || name))
		rp_cli_usage(&cli, "--egress takes no pod: its pods are the ledger's pods that are up");
	struct rp_config *cfg = rp_cli_config(&cli);
	if (cli.verbose)
		rp_log_level = RP_LOG_DEBUG;
	if (!port)
		port = (int)rp_cfg_int(cfg, "ssh.port");
	int rc = RP_EXIT_OK;
	char *err = NULL;
	if (virt) {
		struct rp_vnode *v = rp_vnode_new(cfg, virt, &err);
		if (!v)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
		rc = rp_vnode_run(v, once);
		rp_vnode_free(v);
		rp_config_free(cfg);
		rp_cli_free(&cli);
		return rp_finish(rc);
	}
	if (egress) {
		rc = rp_egress_sample(cfg, &err);
		if (rc == RP_EXIT_FAIL)
			fprintf(stderr, "%s: error: %s\n", rp_prog, err ? err : "egress sampling failed");
		free(err);
		rp_out_flush();
		rp_config_free(cfg);
		rp_cli_free(&cli);
		return rp_finish(rc);
	}
	if (tunnel_id) {
		rc = tunnel(cfg, tunnel_id, host, port);
		rp_config_free(cfg);
		rp_cli_free(&cli);
		return rp_finish(rc);
	}
	if (!host && rp_cfg_int(cfg, "ssh.concurrency") > 1)
		no_tcache(argv);
	struct rp_join *x = rp_join_new(cfg, check, &err);
	if (!x)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	if (host) {
		rp_join_manual(x); /* by hand: trusted on first use as the user asked */
		rp_join_add(x, id, name, host, port);
	}
	else
		read_pods(x);
	if (rp_join_count(x)) {
		if (rp_join_prepare(x, &err) < 0)
			rp_fatal(RP_EXIT_USAGE, "%s", err);
		rc = rp_join_run(x);
	}
	rp_out_flush();
	rp_join_free(x);
	rp_config_free(cfg);
	rp_cli_free(&cli);
	return rp_finish(rc);
}
