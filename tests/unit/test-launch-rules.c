/* test-launch-rules.c — the rules rp-launch's main and engines share
 * (launch.h): pod names, live statuses, which input records ask for pods,
 * the launcher lock. */
#include "launch.h"
#include "state.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static int decision(const char *json, long *count, const char **why)
{
	cJSON *rec = cJSON_Parse(json);
	*count = -7;
	static char wb[160];
	wb[0] = 0;
	*why = wb;
	int d = rp_launch_decision(rec, count, wb, sizeof wb);
	cJSON_Delete(rec);
	return d;
}

int main(int argc, char **argv)
{
	(void)argc;
	rp_init(argv[0]);

	/* Names: prefix + 8 of [a-z0-9], fresh each time, cut to fit. */
	char a[160], b[160], tiny[8];
	rp_launch_pod_name("demo-burst-", a, sizeof a);
	rp_launch_pod_name("demo-burst-", b, sizeof b);
	T_OK(!strncmp(a, "demo-burst-", 11), "name has the prefix: %s", a);
	T_INT(strlen(a), 11 + 8, "name is prefix + 8");
	T_INT(strspn(a + 11, "abcdefghijklmnopqrstuvwxyz0123456789"), 8, "suffix is [a-z0-9]");
	T_OK(strcmp(a, b), "two names differ (%s, %s)", a, b);
	rp_launch_pod_name("demo-burst-", tiny, sizeof tiny);
	T_STR(tiny, "demo-bu", "a short buffer is cut, not overrun");

	/* Live statuses (the max_nodes cap counts these). */
	T_INT(rp_launch_live("RUNNING"), 1, "RUNNING is live");
	T_INT(rp_launch_live("CREATED"), 1, "CREATED is live");
	T_INT(rp_launch_live(NULL), 1, "no status is live (the API did not say)");
	T_INT(rp_launch_live("EXITED"), 0, "EXITED is not");
	T_INT(rp_launch_live("ERROR"), 0, "ERROR is not");
	T_INT(rp_launch_live("TERMINATED"), 0, "TERMINATED is not");

	/* Input records. */
	long n;
	const char *why;
	T_INT(decision("{\"type\":\"decision\",\"action\":\"up\",\"count\":3}", &n, &why), 1, "up is consumed");
	T_INT(n, 3, "up's count");
	T_INT(decision("{\"type\":\"decision\",\"action\":\"up\",\"count\":0}", &n, &why), 1, "up 0 is consumed");
	T_INT(n, 0, "up 0's count");
	T_INT(decision("{\"type\":\"decision\",\"action\":\"up\",\"count\":10000}", &n, &why), 1, "up 10000 is the top");
	T_INT(decision("{\"type\":\"decision\",\"action\":\"hold\",\"count\":0}", &n, &why), 0, "hold passes through");
	T_INT(decision("{\"type\":\"decision\",\"action\":\"down\",\"count\":2}", &n, &why), 0, "down passes through");
	T_INT(n, -7, "down leaves the count alone");
	T_INT(decision("{\"type\":\"node\",\"action\":\"sideways\"}", &n, &why), 0, "other types pass through unread");
	T_INT(decision("{\"type\":\"decision\",\"action\":\"sideways\"}", &n, &why), -1, "unknown action: malformed");
	T_STR(why, "action must be up, down or hold", "unknown action: why");
	T_INT(decision("{\"type\":\"decision\",\"count\":1}", &n, &why), -1, "no action: malformed");
	T_INT(decision("{\"type\":\"decision\",\"action\":1}", &n, &why), -1, "numeric action: malformed");
	static const char *bad[] = { "\"two\"", "-1", "1.5", "10001", "null", "true" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *j = rp_xasprintf("{\"type\":\"decision\",\"action\":\"up\",\"count\":%s}", bad[i]);
		T_OK(decision(j, &n, &why) == -1, "up with count %s: malformed", bad[i]);
		T_STR(why, "count must be a whole number 0..10000", "bad count: why");
		free(j);
	}
	T_INT(decision("{\"type\":\"decision\",\"action\":\"up\"}", &n, &why), -1, "up without count: malformed");

	/* The launcher lock: launchers share it, --reap's exclusive try fails
	 * while one holds it and succeeds once it is gone. */
	char dir[] = "/tmp/rp-tlr.XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	setenv("RP_STATE_DIR", dir, 1);
	int l1 = rp_launch_lock(RP_LOCK_SH, -1);
	int l2 = rp_launch_lock(RP_LOCK_SH, 0);
	T_OK(l1 >= 0 && l2 >= 0, "two launchers share the lock");
	T_INT(rp_launch_lock(RP_LOCK_EX, 0), -1, "the reaper cannot take it from a launcher");
	rp_unlock(l1);
	T_INT(rp_launch_lock(RP_LOCK_EX, 0), -1, "nor from the last one");
	rp_unlock(l2);
	int r = rp_launch_lock(RP_LOCK_EX, 0);
	T_OK(r >= 0, "the reaper takes it once the launchers are gone");
	T_INT(rp_launch_lock(RP_LOCK_SH, 0), -1, "a launcher cannot share it with the reaper");
	rp_unlock(r);
	char *lp = rp_xasprintf("%s/launch.lock", dir);
	unlink(lp);
	free(lp);
	rmdir(dir);
	return T_DONE();
}
