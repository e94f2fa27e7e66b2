/* Ledger: concurrent appenders under flock, torn last line. */
#include "t.h"
#include "ledger.h"
#include "rp.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct count { long n, bad_ids; };

static int cb(const cJSON *rec, long line, void *arg)
{
	struct count *c = arg;
	(void)line;
	c->n++;
	const cJSON *id = cJSON_GetObjectItem(rec, "id");
	if (!cJSON_IsString(id) || strlen(id->valuestring) != 8)
		c->bad_ids++;
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/rp-test-ledger.XXXXXX", *err = NULL;
	rp_init("test-ledger");
	if (!mkdtemp(dir))
		return 2;
	setenv("RP_STATE_DIR", dir, 1);
	enum { PROCS = 8, EACH = 200 };
	for (int p = 0; p < PROCS; p++) {
		if (fork() == 0) {
			for (int i = 0; i < EACH; i++) {
				cJSON *e = rp_ledger_event("launched");
				char id[32];
				snprintf(id, sizeof id, "p%d-%05d", p, i);
				cJSON_AddStringToObject(e, "id", id);
				/* pad so lines exceed PIPE_BUF-ish sizes sometimes */
				char pad[700];
				memset(pad, 'x', sizeof pad - 1);
				pad[sizeof pad - 1] = 0;
				cJSON_AddStringToObject(e, "pad", pad);
				if (rp_ledger_append(e, &err) < 0)
					_exit(1);
				cJSON_Delete(e);
			}
			_exit(0);
		}
	}
	int ok = 1, st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ok = 0;
	T_OK(ok, "8 concurrent appenders finished");
	struct count c = { 0, 0 };
	long torn;
	T_INT(rp_ledger_read(NULL, cb, &c, &torn, &err), 0, "ledger reads");
	T_INT(c.n, PROCS * EACH, "every line present, none interleaved");
	T_INT(c.bad_ids, 0, "every line intact");
	T_INT(torn, 0, "no torn line");

	/* a torn last line (crash mid-write) is tolerated and reported */
	FILE *f = fopen(rp_ledger_path(), "a");
	fputs("{\"type\":\"ledger\",\"event\":\"laun", f);
	fclose(f);
	c.n = 0;
	T_INT(rp_ledger_read(NULL, cb, &c, &torn, &err), 0, "torn tail tolerated");
	T_INT(torn, PROCS * EACH + 1, "torn line number reported");
	T_INT(c.n, PROCS * EACH, "whole lines still read");
	/* the next append cuts the torn tail instead of gluing onto it */
	cJSON *e = rp_ledger_event("terminated");
	cJSON_AddStringToObject(e, "id", "after-to");
	T_INT(rp_ledger_append(e, &err), 0, "append after a torn line");
	cJSON_Delete(e);
	c.n = 0;
	T_INT(rp_ledger_read(NULL, cb, &c, &torn, &err), 0, "ledger reads after repair");
	T_INT(c.n, PROCS * EACH + 1, "new line is whole");
	T_INT(torn, 0, "no torn line after repair");
	/* a malformed line in the middle is an error with its line number */
	f = fopen(rp_ledger_path(), "a");
	fputs("garbage\n{\"type\":\"ledger\",\"event\":\"x\",\"id\":\"123456789\"}\n", f);
	fclose(f);
	T_INT(rp_ledger_read(NULL, cb, &c, &torn, &err), -1, "malformed middle line is an error");
	T_OK(err && strstr(err, ":1602:"), "error names the line (%s)", err ? err : "");
	free(err);
	err = NULL;
	/* an unwritable state dir is an error, not a silent loss */
	setenv("RP_STATE_DIR", "/proc/rp-nope", 1);
	e = rp_ledger_event("launched");
	T_INT(rp_ledger_append(e, &err), -1, "unwritable state dir fails");
	free(err);
	cJSON_Delete(e);
	char *cmd = rp_xasprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	free(cmd);
	return T_DONE();
}
