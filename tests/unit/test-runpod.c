/* test-runpod.c — runpod.h's pure rules: which SSH address a pod may be
 * reached at (never a private, carrier-NAT or, unless the API itself is
 * loopback, loopback one from the runtime.ports fallback). */
#include "runpod.h"
#include "config.h"
#include "rp.h"
#include "t.h"

#include <stdlib.h>
#include <unistd.h>

static struct rp_runpod *api_at(const char *url)
{
	char *err = NULL;
	char dir[] = "/tmp/rp-trp.XXXXXX";
	if (!mkdtemp(dir))
		return NULL;
	char *p = rp_xasprintf("%s/c.yaml", dir);
	FILE *f = fopen(p, "w");
	fputs("cluster: demo\n", f);
	fclose(f);
	struct rp_config *c = rp_config_load(p, &err);
	unlink(p);
	rmdir(dir);
	free(p);
	if (!c || rp_cfg_set(c, "runpod.api_url", url, &err) < 0 || rp_cfg_set(c, "runpod.api_key_file", "", &err) < 0)
		return NULL;
	struct rp_runpod *rp = rp_runpod_open(c, &err);
	if (!rp)
		printf("# open %s: %s\n", url, err);
	rp_config_free(c);
	return rp;
}

static int loopback(const char *url)
{
	struct rp_runpod *rp = api_at(url);
	int r = rp ? rp_runpod_api_loopback(rp) : -1;
	rp_runpod_free(rp);
	return r;
}

static int pub(const char *ip, int lo)
{
	const char *why;
	return rp_runpod_public_ip(ip, lo, &why);
}

int main(void)
{
	rp_init("test-runpod");
	setenv("RUNPOD_API_KEY", "rp_test_key", 1);
	T_INT(pub("203.0.113.9", 0), 1, "a public IPv4 address");
	T_INT(pub("2001:db8::7", 0), 1, "a public IPv6 address");
	T_INT(pub("10.1.2.3", 0), 0, "10/8 is private");
	T_INT(pub("172.16.0.1", 0), 0, "172.16/12 is private");
	T_INT(pub("172.31.255.1", 0), 0, "172.31 is still 172.16/12");
	T_INT(pub("172.32.0.1", 0), 1, "172.32 is not");
	T_INT(pub("192.168.7.7", 1), 0, "192.168/16 is private, loopback allowed or not");
	T_INT(pub("100.64.0.1", 0), 0, "100.64/10 is carrier-grade NAT");
	T_INT(pub("100.127.255.254", 0), 0, "100.127 is still carrier-grade NAT");
	T_INT(pub("100.128.0.1", 0), 1, "100.128 is not");
	T_INT(pub("169.254.1.1", 0), 0, "link-local");
	T_INT(pub("0.0.0.0", 0), 0, "unspecified");
	T_INT(pub("127.0.0.1", 0), 0, "loopback refused...");
	T_INT(pub("127.0.0.1", 1), 1, "... unless allowed");
	T_INT(pub("::1", 0), 0, "IPv6 loopback refused");
	T_INT(pub("::1", 1), 1, "... unless allowed");
	T_INT(pub("fd00::5", 0), 0, "fc00::/7 is private");
	T_INT(pub("fe80::1", 0), 0, "IPv6 link-local");
	T_INT(pub("::ffff:10.0.0.1", 0), 0, "an IPv4-mapped private address");
	T_INT(pub("::ffff:100.100.0.1", 0), 0, "an IPv4-mapped carrier-NAT address");
	T_INT(pub("pod.example.com", 0), 0, "a name is not an address");
	T_INT(pub("", 0), 0, "empty");
	const char *why;
	rp_runpod_public_ip("100.70.0.1", 0, &why);
	T_STR(why, "carrier-grade NAT (100.64/10)", "the reason names carrier-grade NAT");

	T_INT(loopback("http://127.0.0.1:8080/v2"), 1, "API on 127.0.0.1 is loopback");
	T_INT(loopback("http://localhost:1/v2"), 1, "API on localhost is loopback");
	T_INT(loopback("http://[::1]:9/v2"), 1, "API on [::1] is loopback");
	T_INT(loopback("https://rest.runpod.io/v2"), 0, "RunPod's API is not");
	T_INT(loopback("https://10.0.0.1/v2"), 0, "a private API address is not loopback");

	/* The fallback: ssh.direct wins; a runtime port on a private or
	 * carrier-NAT address is refused (-2), loopback only when allowed. */
	const char *h = NULL;
	int port = 0;
	cJSON *d = js("{\"ssh\":{\"direct\":{\"host\":\"198.51.100.4\",\"port\":40022,\"username\":\"root\","
		      "\"command\":\"\"}},\"runtime\":{\"ports\":[{\"ip\":\"10.0.0.2\",\"private\":22,\"public\":41000,"
		      "\"type\":\"tcp\"}]}}");
	T_INT(rp_runpod_pod_ssh(d, 0, &h, &port, &why), 0, "ssh.direct is used");
	T_STR(h, "198.51.100.4", "... its host");
	cJSON_Delete(d);
	cJSON *cg = js("{\"ssh\":{\"direct\":null},\"runtime\":{\"ports\":[{\"ip\":\"100.65.3.4\",\"private\":22,"
		       "\"public\":41000,\"type\":\"tcp\"}]}}");
	T_INT(rp_runpod_pod_ssh(cg, 1, &h, &port, &why), -2, "a carrier-NAT runtime address is refused");
	T_STR(why, "carrier-grade NAT (100.64/10)", "... saying why");
	cJSON_Delete(cg);
	cJSON *lo = js("{\"ssh\":{\"direct\":null},\"runtime\":{\"ports\":[{\"ip\":\"10.9.9.9\",\"private\":22,"
		       "\"public\":1,\"type\":\"tcp\"},{\"ip\":\"127.0.0.1\",\"private\":22,\"public\":41001,\"type\":\"tcp\"}]}}");
	T_INT(rp_runpod_pod_ssh(lo, 0, &h, &port, &why), -2, "loopback refused when the API is not loopback");
	T_INT(rp_runpod_pod_ssh(lo, 1, &h, &port, &why), 0, "loopback taken when it is");
	T_INT(port, 41001, "... the loopback port, the private one skipped");
	cJSON_Delete(lo);
	cJSON *none = js("{\"ssh\":{\"direct\":null},\"runtime\":null}");
	T_INT(rp_runpod_pod_ssh(none, 1, &h, &port, &why), -1, "no address at all: -1");
	cJSON_Delete(none);
	return T_DONE();
}
