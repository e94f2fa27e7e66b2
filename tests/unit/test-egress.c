/* test-egress: a pod's transmitted bytes from /proc/net/dev text (tx over
 * every interface but lo; anything else refused, never 0), and the rule
 * that keeps the total from going down when the pod's counters begin again. */
#include "egress.h"
#include "rp.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* window(since, until) over the ledger file at path */
static double win(const char *path, double since, double until)
{
	double b = -1;
	long lines = 0;
	char *err = NULL;
	if (rp_egress_window(path, since, until, &b, &lines, &err) < 0) {
		printf("# window: %s\n", err);
		free(err);
		return -1;
	}
	return b;
}

static const char dev[] =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	"    lo: 9000000      10    0    0    0     0          0         0  9000000      10    0    0    0     0       0          0\n"
	"  eth0: 5000 40    0    0    0     0          0         0 123456789 70    0    0    0     0       0          0\n"
	"  eth1:1000 2 0 0 0 0 0 0 18446744073709551000 3 0 0 0 0 0 0\n";

int main(void)
{
	rp_init("test-egress");
	unsigned long long tx = 7;
	char why[160] = "";
	T_INT(rp_egress_parse(dev, &tx, why, sizeof why), -1, "a sum past 2^64 is refused");
	T_OK(strstr(why, "overflow") != NULL, "and says so (%s)", why);

	const char two[] = "Inter-| x\n face | y\n    lo: 1 2 3 4 5 6 7 8 900 1 0 0 0 0 0 0\n"
			   "  eth0: 5000 40 0 0 0 0 0 0 123456789 70 0 0 0 0 0 0\n"
			   "  wg0: 1 1 0 0 0 0 0 0 11 1 0 0 0 0 0 0";
	T_INT(rp_egress_parse(two, &tx, why, sizeof why), 0, "/proc/net/dev text parses");
	T_INT(tx, 123456789ULL + 11, "tx_bytes (the 9th number) of every interface but lo, summed");

	const char only_lo[] = "    lo: 1 2 3 4 5 6 7 8 900 1 0 0 0 0 0 0\n";
	T_INT(rp_egress_parse(only_lo, &tx, why, sizeof why), 0, "only lo: a reading");
	T_INT(tx, 0, "of 0 bytes sent out");

	tx = 7;
	T_INT(rp_egress_parse("", &tx, why, sizeof why), -1, "empty text is not a reading");
	T_INT(tx, 7, "and leaves *tx alone");
	T_INT(rp_egress_parse("cat: /proc/net/dev: No such file or directory\n", &tx, why, sizeof why), -1,
	      "an error message is not a reading");
	T_INT(rp_egress_parse("  eth0: 1 2 3 4 5 6 7 8\n", &tx, why, sizeof why), -1,
	      "an interface line without a transmit column is refused");
	T_INT(rp_egress_parse("  eth0: 1 2 3 4 5 6 7 8 x9 1\n", &tx, why, sizeof why), -1, "a number that is not one");
	T_INT(rp_egress_parse(": 1 2 3 4 5 6 7 8 9 1\n", &tx, why, sizeof why), -1, "a line without an interface");

	T_INT(rp_egress_delta(0, 500), 500, "a first reading counts whole");
	T_INT(rp_egress_delta(500, 800), 300, "a later one adds what it grew");
	T_INT(rp_egress_delta(800, 800), 0, "no traffic adds nothing");
	T_INT(rp_egress_delta(800, 120), 120, "counters that began again (pod restart) add the new reading whole");

	/* a reading is ledgered only when it matters */
	const double G = RP_EGRESS_LEDGER_BYTES, H = RP_EGRESS_LEDGER_EVERY;
	T_INT(rp_egress_ledger_due(-1, 0, 100, 0, 0), 1, "a pod's first reading is ledgered (even of 0 bytes)");
	T_INT(rp_egress_ledger_due(100, 5000, 160, 5000, 0), 0, "a quiet tick is not");
	T_INT(rp_egress_ledger_due(100, 5000, 160, 5000 + G - 1, 0), 0, "nor one that moved less than the step");
	T_INT(rp_egress_ledger_due(100, 5000, 160, 5000 + G, 0), 1, "one that moved the step is");
	T_INT(rp_egress_ledger_due(100, 5000, 160, 5000, 1), 1, "a reset always is");
	T_INT(rp_egress_ledger_due(100, 5000, 100 + H - 1, 5000, 0), 0, "a last line younger than the interval: not");
	T_INT(rp_egress_ledger_due(100, 5000, 100 + H, 5000, 0), 1, "a last line the interval old: ledgered");

	/* the window over sparse lines: each pod's total at its last line at or
	 * before a bound; the arithmetic written out here */
	char path[] = "/tmp/test-egress-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f)
		return T_DONE() | 1;
	/* pod a: 1000 at 00:00, 3e9+1000 at 00:10, 3e9+1000 (quiet, interval) at 01:10;
	 * pod b: 500 at 00:05, 2e9+500 at 00:20 */
	fputs("{\"type\":\"egress\",\"ts\":\"2026-12-01T00:00:00Z\",\"id\":\"a\",\"bytes\":1000,\"raw\":1000}\n"
	      "{\"type\":\"egress\",\"ts\":\"2026-12-01T00:05:00Z\",\"id\":\"b\",\"bytes\":500,\"raw\":500}\n"
	      "{\"type\":\"egress\",\"ts\":\"2026-12-01T00:10:00Z\",\"id\":\"a\",\"bytes\":3000001000,\"raw\":3000001000}\n"
	      "{\"type\":\"egress\",\"ts\":\"2026-12-01T00:20:00Z\",\"id\":\"b\",\"bytes\":2000000500,\"raw\":2000000500}\n"
	      "{\"type\":\"egress\",\"ts\":\"2026-12-01T01:10:00Z\",\"id\":\"a\",\"bytes\":3000001000,\"raw\":3000001000}\n",
	      f);
	fclose(f);
	double t0;
	rp_parse_rfc3339("2026-12-01T00:00:00Z", &t0);
	const double m = 60;
	T_OK(win(path, 0, t0 + 2 * H) == 3000001000.0 + 2000000500.0, "the whole life: every pod's last total");
	T_OK(win(path, t0 - 1, t0 + 2 * H) == 3000001000.0 + 2000000500.0,
	     "since before a's first line: its first reading counts whole");
	T_OK(win(path, t0, t0 + 2 * H) == 3000000000.0 + 2000000500.0, "since at a's first line: its 1000 is before");
	T_OK(win(path, t0 + 15 * m, t0 + 2 * H) == 2000000000.0, "since 00:15: only b's line at 00:20 is after");
	T_OK(win(path, t0 + 10 * m, t0 + 15 * m) == 0, "between lines nothing moves: (00:10, 00:15] is 0");
	T_OK(win(path, t0, t0 + 10 * m) == 3000000000.0 + 500, "(00:00, 00:10]: a's step, b's first line");
	double parts = win(path, 0, t0 + 7 * m) + win(path, t0 + 7 * m, t0 + 20 * m) + win(path, t0 + 20 * m, t0 + 2 * H);
	T_OK(parts == win(path, 0, t0 + 2 * H), "adjacent windows add up to the whole (%.0f)", parts);
	unlink(path);
	return T_DONE();
}
