/* rp-checkpoint — see rp-checkpoint(1). */
#include "checkpoint.h"
#include "cli.h"
#include "log.h"
#include "record.h"
#include "rp.h"
#include "s3.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static const char usage[] =
	"usage: rp-checkpoint [-c FILE] [--set KEY=VALUE] [-o json|table] [-q|-v]\n"
	"                     [--endpoint URL] [--bucket NAME] [--parallel N] COMMAND\n"
	"       rp-checkpoint save JOB DIR [--segments-complete N] [--bitrate-level L] [--no-queue]\n"
	"       rp-checkpoint restore JOB DIR [--at SEQ] [--fallback]\n"
	"       rp-checkpoint list [JOB]\n"
	"       rp-checkpoint verify JOB [--at SEQ | --all]\n"
	"       rp-checkpoint prune JOB --keep N [--grace DURATION]\n"
	"       rp-checkpoint ping\n"
	"       rp-checkpoint retry\n";

enum {
	O_SEGS = RP_OPT_TOOL, O_LEVEL, O_AT, O_FALLBACK, O_KEEP, O_GRACE, O_NOQUEUE, O_ENDPOINT,
	O_BUCKET, O_PARALLEL, O_ALL
};

static void emit(cJSON *rec)
{
	rp_out_rec(rec);
	cJSON_Delete(rec);
}

static _Noreturn void die(int code, const char *msg)
{
	rp_out_flush();
	fflush(stdout);
	rp_fatal(code, "%s", msg);
}

static long num_arg(struct rp_cli *cli, const char *flag, const char *s, long min)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min)
		rp_cli_usage(cli, "%s wants a whole number >= %ld, got '%s'", flag, min, s);
	return v;
}

/* One JSON progress record from stdin (a pipe or a file), or NULL. */
static cJSON *progress_stdin(void)
{
	struct stat st;
	if (fstat(0, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode)))
		return NULL;
	struct rp_buf b = { 0 };
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
		rp_buf_add(&b, buf, n);
		if (b.len > (1u << 20))
			rp_fatal(RP_EXIT_USAGE, "stdin: progress record over 1 MiB");
	}
	if (!b.data)
		return NULL;
	cJSON *j = cJSON_Parse(b.data);
	if (!j) {
		/* JSON Lines: the last non-blank line counts. */
		char *end = b.data + b.len;
		while (end > b.data && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\r'))
			*--end = 0;
		char *last = strrchr(b.data, '\n');
		if (end > b.data)
			j = cJSON_Parse(last ? last + 1 : b.data);
		else {
			rp_buf_free(&b);
			return NULL;
		}
	}
	rp_buf_free(&b);
	if (!cJSON_IsObject(j))
		rp_fatal(RP_EXIT_USAGE, "stdin: want a JSON progress record {\"segments_complete\":N,\"bitrate_level\":L}");
	cJSON_DeleteItemFromObjectCaseSensitive(j, "type");
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "segments_complete");
	if (sc && (!cJSON_IsNumber(sc) || sc->valuedouble < 0))
		rp_fatal(RP_EXIT_USAGE, "stdin: segments_complete must be a number >= 0");
	return j;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		RP_CLI_LONG,
		{ "segments-complete", required_argument, NULL, O_SEGS },
		{ "bitrate-level", required_argument, NULL, O_LEVEL },
		{ "at", required_argument, NULL, O_AT },
		{ "fallback", no_argument, NULL, O_FALLBACK },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "no-queue", no_argument, NULL, O_NOQUEUE },
		{ "endpoint", required_argument, NULL, O_ENDPOINT },
		{ "bucket", required_argument, NULL, O_BUCKET },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "all", no_argument, NULL, O_ALL },
		{ 0, 0, 0, 0 }
	};
	struct rp_cli cli;
	int c;
	long segs = -1, at = -1, keep = -1;
	const char *level = NULL;
	int fallback = 0, noqueue = 0, all = 0;
	double grace = 3600;
	rp_init(argv[0]);
	rp_cli_init(&cli, usage);
	while ((c = getopt_long(argc, argv, RP_CLI_SHORT, lo, NULL)) != -1) {
		if (rp_cli_opt(&cli, c, optarg))
			continue;
		switch (c) {
		case O_SEGS: segs = num_arg(&cli, "--segments-complete", optarg, 0); break;
		case O_LEVEL: level = optarg; break;
		case O_AT: at = num_arg(&cli, "--at", optarg, 1); break;
		case O_FALLBACK: fallback = 1; break;
		case O_KEEP: keep = num_arg(&cli, "--keep", optarg, 1); break;
		case O_GRACE:
			if (rp_parse_duration(optarg, &grace) < 0)
				rp_cli_usage(&cli, "--grace wants a duration (1h, 10m, 0s), got '%s'", optarg);
			break;
		case O_NOQUEUE: noqueue = 1; break;
		case O_ENDPOINT: rp_cli_key(&cli, "s3.endpoint", optarg, 0); break;
		case O_BUCKET: rp_cli_key(&cli, "s3.bucket", optarg, 0); break;
		case O_PARALLEL: rp_cli_key(&cli, "s3.parallel", optarg, 0); break;
		case O_ALL: all = 1; break;
		default: rp_cli_usage(&cli, "unknown option");
		}
	}
	if (optind >= argc)
		rp_cli_usage(&cli, "a command is needed");
	const char *cmd = argv[optind++];
	int nargs = argc - optind;
	char **args = argv + optind;
	struct { const char *name; int min, max; } cmds[] = {
		{ "save", 2, 2 }, { "restore", 2, 2 }, { "list", 0, 1 }, { "verify", 1, 1 },
		{ "prune", 1, 1 }, { "ping", 0, 0 }, { "retry", 0, 0 }, { NULL, 0, 0 }
	};
	int k;
	for (k = 0; cmds[k].name && strcmp(cmds[k].name, cmd); k++)
		;
	if (!cmds[k].name)
		rp_cli_usage(&cli, "unknown command '%s'", cmd);
	if (nargs < cmds[k].min || nargs > cmds[k].max)
		rp_cli_usage(&cli, "%s: wrong number of arguments", cmd);
	if (all && (strcmp(cmd, "verify") || at >= 0))
		rp_cli_usage(&cli, "--all goes with verify, without --at");
	if (!strcmp(cmd, "prune") && keep < 0)
		rp_cli_usage(&cli, "prune needs --keep N");
	if (nargs >= 1 && strcmp(cmd, "ping") && strcmp(cmd, "retry") && !rp_safe_name(args[0]))
		rp_fatal(RP_EXIT_USAGE, "unsafe job id '%.100s': want [A-Za-z0-9._-], not . or ..", args[0]);

	struct rp_config *cfg = rp_cli_config(&cli);
	char *err = NULL;
	struct rp_s3 s3;
	if (rp_s3_open(&s3, cfg, &err) < 0)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	unsigned char key[32];
	int have_key = rp_ckpt_load_key(cfg, key, &err);
	if (have_key < 0)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	unsigned char sign[32];
	int have_sign = rp_ckpt_load_key_file(cfg, "s3.signing_key_file", sign, &err);
	if (have_sign < 0)
		rp_fatal(RP_EXIT_USAGE, "%s", err);
	struct rp_ckpt ck = {
		.s3 = &s3, .key = have_key ? key : NULL, .sign = have_sign ? sign : NULL, .fallback = fallback, .grace = grace,
		.bar = isatty(2) && rp_log_level <= RP_LOG_INFO,
	};
	struct rp_ckpt_err e = { 0 };
	cJSON *rec = NULL;
	int code = 0;

	if (!strcmp(cmd, "ping")) {
		struct rp_s3_err se;
		double t0 = rp_mono();
		if (rp_s3_ping(&s3, &se) < 0) {
			e.code = se.temp ? RP_EXIT_TEMP : RP_EXIT_FAIL;
			snprintf(e.msg, sizeof e.msg, "%s: %s", s3.endpoint, se.msg);
			code = e.code;
		} else {
			rec = rp_rec_new("checkpoint");
			cJSON_AddStringToObject(rec, "action", "ping");
			cJSON_AddStringToObject(rec, "endpoint", s3.endpoint);
			cJSON_AddStringToObject(rec, "bucket", s3.bucket);
			cJSON_AddNumberToObject(rec, "ms", (double)(long)((rp_mono() - t0) * 1000));
		}
	} else if (!strcmp(cmd, "save")) {
		cJSON *progress = NULL;
		if (segs >= 0 || level) {
			char ts[40];
			progress = cJSON_CreateObject();
			if (segs >= 0)
				cJSON_AddNumberToObject(progress, "segments_complete", (double)segs);
			if (level) {
				char *end;
				long l = strtol(level, &end, 10);
				if (*level && !*end)
					cJSON_AddNumberToObject(progress, "bitrate_level", (double)l);
				else
					cJSON_AddStringToObject(progress, "bitrate_level", level);
			}
			cJSON_AddStringToObject(progress, "timestamp", rp_rfc3339(rp_now(), ts, sizeof ts));
		} else {
			progress = progress_stdin();
		}
		code = rp_ckpt_save(&ck, args[0], args[1], progress, &rec, &e);
		if (code && e.queue && !noqueue && rp_ckpt_queue_add(&ck, args[0], args[1], progress, e.msg) == 0) {
			size_t l = strlen(e.msg);
			snprintf(e.msg + l, sizeof e.msg - l, " (save queued for rp-checkpoint retry)");
		}
		cJSON_Delete(progress);
	} else if (!strcmp(cmd, "restore")) {
		code = rp_ckpt_restore(&ck, args[0], args[1], at, &rec, &e);
	} else if (!strcmp(cmd, "verify") && all) {
		code = rp_ckpt_verify_all(&ck, args[0], emit, &e);
	} else if (!strcmp(cmd, "verify")) {
		code = rp_ckpt_verify(&ck, args[0], at, &rec, &e);
	} else if (!strcmp(cmd, "prune")) {
		code = rp_ckpt_prune(&ck, args[0], (int)keep, &rec, &e);
	} else if (!strcmp(cmd, "list")) {
		code = rp_ckpt_list(&ck, nargs ? args[0] : NULL, emit, &e);
	} else { /* retry */
		int drained, left;
		code = rp_ckpt_retry(&ck, emit, &drained, &left, &e);
		rec = rp_rec_new("checkpoint");
		cJSON_AddStringToObject(rec, "action", "retry");
		cJSON_AddNumberToObject(rec, "drained", drained);
		cJSON_AddNumberToObject(rec, "left", left);
		if (code) {
			size_t l = strlen(e.msg);
			snprintf(e.msg + l, sizeof e.msg - l, " (%d save%s left in the queue)", left,
				 left == 1 ? "" : "s");
		}
	}
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(sign, sizeof sign);
	if (rec)
		emit(rec);
	rp_s3_close(&s3);
	rp_config_free(cfg);
	rp_cli_free(&cli);
	if (code)
		die(code, e.msg);
	rp_out_flush();
	return rp_finish(RP_EXIT_OK);
}
