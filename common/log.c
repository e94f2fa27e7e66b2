/* log.c — key=value lines on stderr, with secrets redacted. */
#include "log.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>

int rp_log_level = RP_LOG_INFO;

static char **secrets;
static size_t nsecrets;

void rp_log_secret(const char *s)
{
	if (!s || strlen(s) < 4)
		return;
	for (size_t i = 0; i < nsecrets; i++)
		if (!strcmp(secrets[i], s))
			return; /* already known: the list only grows with new ones */
	secrets = rp_xrealloc(secrets, (nsecrets + 1) * sizeof *secrets);
	secrets[nsecrets++] = rp_xstrdup(s);
}

/* One pass over the text: at each position the longest secret that
 * starts there is replaced and skipped (no tail of a longer secret is
 * left behind by a shorter one it begins with).  The output is never
 * searched again, so a secret that occurs in the marker itself ("acted")
 * or in another secret cannot make it loop or mangle a marker. */
char *rp_redact(const char *s)
{
	if (!s)
		s = "";
	if (!nsecrets)
		return rp_xstrdup(s);
	struct rp_buf b = { 0 };
	rp_buf_add(&b, "", 0);
	const char *run = s;
	for (const char *p = s; *p;) {
		size_t hit = 0;
		for (size_t i = 0; i < nsecrets; i++) {
			size_t n = strlen(secrets[i]);
			if (n > hit && *p == secrets[i][0] && !strncmp(p, secrets[i], n))
				hit = n;
		}
		if (!hit) {
			p++;
			continue;
		}
		rp_buf_add(&b, run, (size_t)(p - run));
		rp_buf_adds(&b, "<redacted>");
		p += hit;
		run = p;
	}
	rp_buf_adds(&b, run);
	return b.data;
}

static void addval(struct rp_buf *b, const char *v)
{
	int quote = (*v == 0);
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p < 32)
			quote = 1;
	if (!quote) {
		rp_buf_adds(b, v);
		return;
	}
	rp_buf_add(b, "\"", 1);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			rp_buf_add(b, "\\", 1);
			rp_buf_add(b, p, 1);
		} else if (*p == '\n') {
			rp_buf_adds(b, "\\n");
		} else if ((unsigned char)*p < 32) {
			rp_buf_add(b, " ", 1);
		} else {
			rp_buf_add(b, p, 1);
		}
	}
	rp_buf_add(b, "\"", 1);
}

static void init_level(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	const char *e = getenv("RP_LOG_LEVEL");
	if (!e)
		return;
	if (!strcmp(e, "debug"))
		rp_log_level = RP_LOG_DEBUG;
	else if (!strcmp(e, "warn"))
		rp_log_level = RP_LOG_WARN;
	else if (!strcmp(e, "error"))
		rp_log_level = RP_LOG_ERROR;
}

void rp_log(int level, const char *msg, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	init_level();
	if (level < rp_log_level || level >= RP_LOG_NONE)
		return;
	struct rp_buf b = { 0 };
	char ts[40];
	rp_buf_addf(&b, "ts=%s level=%s prog=%s msg=", rp_rfc3339(rp_now(), ts, sizeof ts),
		    names[level], rp_prog);
	addval(&b, msg);
	va_list ap;
	va_start(ap, msg);
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		rp_buf_addf(&b, " %s=", k);
		addval(&b, v ? v : "");
	}
	va_end(ap);
	char *red = rp_redact(b.data);
	fflush(stdout);
	fprintf(stderr, "%s\n", red);
	free(red);
	rp_buf_free(&b);
}
