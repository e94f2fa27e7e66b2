/* test-lease.c — leader election without a network (lease.h): client-go's
 * 15:10:2 defaults, expiry by this host's observation only, the
 * observation kept across processes (same Lease, same boot), and the
 * fence: a no-op on one host, and with RP_LOCK=lease open only for a
 * held lease renewed within the renew deadline. */
#include "t.h"
#include "lease.h"
#include "rp.h"
#include "state.h"

#include <stdlib.h>
#include <unistd.h>

static char root[256];

static void write_fence(const char *text)
{
	char *p = rp_state_path(RP_STATE_LEASE, NULL);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	free(p);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/rp-test-lease.%d", (int)getpid());
	setenv("RP_STATE_DIR", root, 1);
	rp_init("test-lease");

	struct rp_lease_opts o = { .name = "rp-autoscale", .ns = "default", .identity = "A", .duration = 15 };
	rp_lease_defaults(&o);
	T_OK(o.renew_deadline == 10 && o.retry_period == 2, "defaults from the duration: 15:10:2 (got %g:%g:%g)",
	     o.duration, o.renew_deadline, o.retry_period);

	/* expiry: observedTime + the record's duration, on our clock */
	struct rp_lease l = { .o = o };
	l.holder = rp_xstrdup("B");
	l.observed = rp_xstrdup("{\"holderIdentity\":\"B\"}");
	l.observed_dur = 3;
	l.observed_mono = 100;
	T_INT(rp_lease_taken(&l, 100), 1, "another holder's record just seen: taken");
	T_INT(rp_lease_taken(&l, 102.9), 1, "... until its duration has passed since we saw it");
	T_INT(rp_lease_taken(&l, 103), 0, "... then expired");
	free(l.holder);
	l.holder = rp_xstrdup("A");
	T_INT(rp_lease_taken(&l, 100), 0, "our own record is never taken from us");
	free(l.holder);
	l.holder = rp_xstrdup("");
	T_INT(rp_lease_taken(&l, 100), 0, "no holder: free");

	/* the observation survives the process */
	free(l.holder);
	l.holder = rp_xstrdup("B");
	l.observed_mono = 1234.5;
	T_INT(rp_lease_save(&l), 0, "the fence file is written");
	struct rp_lease m = { .o = o };
	T_INT(rp_lease_load(&m), 0, "a later process loads the observation");
	T_OK(m.observed_mono == 1234.5 && m.holder && !strcmp(m.holder, "B") && m.observed_dur == 0,
	     "... with its time and holder (duration from the record)");
	rp_lease_free(&m);
	struct rp_lease other = { .o = o };
	other.o.name = "another";
	T_INT(rp_lease_load(&other), -1, "another Lease's observation is not ours");
	rp_lease_free(&other);

	/* the fence */
	unsetenv("RP_LOCK");
	T_INT(rp_lease_fence("create"), 0, "no RP_LOCK: no fence (one host)");
	setenv("RP_LOCK", "flock", 1);
	T_INT(rp_lease_fence("create"), 0, "RP_LOCK=flock: no fence");
	setenv("RP_LOCK", "lease", 1);
	l.held = 0;
	l.renewed_mono = rp_mono();
	rp_lease_save(&l);
	T_INT(rp_lease_fence("create"), -1, "lease mode, not held: fenced");
	l.held = 1;
	rp_lease_save(&l);
	T_INT(rp_lease_fence("create"), 0, "held and just renewed: act");
	l.renewed_mono = rp_mono() - l.o.renew_deadline - 0.01;
	rp_lease_save(&l);
	T_INT(rp_lease_fence("terminate"), -1, "not renewed within the renew deadline: fenced");
	l.renewed_mono = rp_mono();
	rp_lease_save(&l);
	char *p = rp_state_path(RP_STATE_LEASE, NULL);
	char *s = rp_read_file(p, 1 << 16, NULL);
	char *b = strstr(s, "\"boot_id\":\"");
	T_OK(b != NULL, "the fence file names the boot");
	if (b)
		b[11] = b[11] == 'x' ? 'y' : 'x'; /* another boot's file */
	write_fence(s);
	T_INT(rp_lease_fence("create"), -1, "a fence file from another boot: fenced");
	write_fence("not json");
	T_INT(rp_lease_fence("create"), -1, "an unreadable fence file: fenced");
	unlink(p);
	T_INT(rp_lease_fence("create"), -1, "no fence file: fenced");
	free(s);
	free(p);
	rp_lease_free(&l);
	rmdir(root);
	return T_DONE();
}
