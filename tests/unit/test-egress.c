/* test-egress: a pod's transmitted bytes from /proc/net/dev text (tx over
 * every interface but lo; anything else refused, never 0), and the rule
 * that keeps the total from going down when the pod's counters begin again. */
#include "egress.h"
#include "rp.h"
#include "t.h"

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
	return T_DONE();
}
