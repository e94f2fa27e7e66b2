/* test-launch-bid.c — the spot bid policy (launch.h rp_launch_bid and
 * runpod.spot_bid): never above runpod.max_bid_per_gpu, never under the
 * live floor, spot_price by default. */
#include "launch.h"
#include "config.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static struct rp_config *cfg_with(const char *bid, const char *max)
{
	char *err = NULL;
	char dir[] = "/tmp/rp-tlb.XXXXXX";
	if (!mkdtemp(dir))
		return NULL;
	char *p = rp_xasprintf("%s/c.yaml", dir);
	FILE *f = fopen(p, "w");
	fprintf(f, "cluster: demo\nrunpod:\n  spot: true\n");
	if (bid)
		fprintf(f, "  spot_bid: %s\n", bid);
	if (max)
		fprintf(f, "  max_bid_per_gpu: %s\n", max);
	fclose(f);
	struct rp_config *c = rp_config_load(p, &err);
	if (!c)
		printf("# load: %s\n", err);
	unlink(p);
	rmdir(dir);
	free(p);
	return c;
}

static int policy(const char *bid, const char *max, int *mode, double *fixed, char **err)
{
	struct rp_config *c = cfg_with(bid, max);
	int r = c ? rp_launch_bid_policy(c, mode, fixed, err) : -9;
	rp_config_free(c);
	return r;
}

int main(void)
{
	rp_init("test-launch-bid");
	int mode;
	double fixed, bid;
	char *err = NULL, *why = NULL;
	T_INT(policy(NULL, NULL, &mode, &fixed, &err), 0, "default policy");
	T_INT(mode, RP_BID_SPOT_PRICE, "... is spot_price");
	T_INT(policy("floor", NULL, &mode, &fixed, &err), 0, "floor");
	T_INT(mode, RP_BID_FLOOR, "... is the floor");
	T_INT(policy("0.3", "0.5", &mode, &fixed, &err), 0, "a number");
	T_INT(mode, RP_BID_FIXED, "... is a fixed bid");
	T_OK(fixed > 0.299 && fixed < 0.301, "... of 0.3");
	T_INT(policy("0.6", "0.5", &mode, &fixed, &err), -1, "a number above max_bid_per_gpu is refused");
	T_OK(err && strstr(err, "runpod.spot_bid") && strstr(err, "runpod.max_bid_per_gpu"), "... naming both keys: %s",
	     err ? err : "");
	free(err);
	T_INT(policy("cheap", NULL, &mode, &fixed, &err), -1, "a word that is no policy is refused");
	T_OK(err && strstr(err, "floor, spot_price"), "... listing the choices: %s", err ? err : "");
	free(err);
	T_INT(policy("-1", NULL, &mode, &fixed, &err), -1, "a negative bid is refused");
	free(err);

	/* floor 0.20, spot price 0.25, cap 0.30 */
	T_INT(rp_launch_bid(RP_BID_SPOT_PRICE, 0, 0.20, 0.25, 0.30, &bid, &why), 0, "spot_price: bid");
	T_OK(bid > 0.249 && bid < 0.251, "spot_price bids the spot price (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_FLOOR, 0, 0.20, 0.25, 0.30, &bid, &why), 0, "floor: bid");
	T_OK(bid > 0.199 && bid < 0.201, "floor bids the floor (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_SPOT_PRICE, 0, 0.20, -1, 0.30, &bid, &why), 0, "no spot price known");
	T_OK(bid > 0.199 && bid < 0.201, "... the floor stands in (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_SPOT_PRICE, 0, 0.20, 0.15, 0.30, &bid, &why), 0, "spot price under the floor");
	T_OK(bid > 0.199 && bid < 0.201, "... bids the floor, never under it (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_FIXED, 0.27, 0.20, 0.25, 0.30, &bid, &why), 0, "fixed: bid");
	T_OK(bid > 0.269 && bid < 0.271, "fixed bids the number (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_SPOT_PRICE, 0, 0.20, 0.35, 0.30, &bid, &why), 1, "spot price over the cap: capped");
	T_OK(bid > 0.299 && bid < 0.301, "... at max_bid_per_gpu (%.4f)", bid);
	T_INT(rp_launch_bid(RP_BID_FLOOR, 0, 0.40, 0.45, 0.30, &bid, &why), -1, "floor over the cap: skipped");
	T_OK(why && strstr(why, "over runpod.max_bid_per_gpu"), "... saying why: %s", why ? why : "");
	free(why);
	T_INT(rp_launch_bid(RP_BID_FIXED, 0.18, 0.20, 0.25, 0.30, &bid, &why), -1, "fixed under the floor: skipped");
	T_OK(why && strstr(why, "under the live floor"), "... saying why: %s", why ? why : "");
	free(why);
	return T_DONE();
}
