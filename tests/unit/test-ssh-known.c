/* test-ssh-known.c — rp_ssh_forget_pod() (ssh.h): a terminated pod's
 * known_hosts lines (comment "rp-pod=ID") go; every other line stays byte
 * for byte; no file, no pod id: nothing to do. */
#include "rp.h"
#include "ssh.h"
#include "state.h"
#include "t.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rp-test-ssh-known.XXXXXX";

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	setenv("RP_STATE_DIR", dir, 1);
	char *kh = rp_xasprintf("%s/kh", dir);
	const char *text = "# a comment rp-pod=abc\n"
			   "[127.0.0.1]:2222 ssh-ed25519 AAAAKEY1 rp-pod=abc\n"
			   "[127.0.0.1]:2223 ssh-ed25519 AAAAKEY2 rp-pod=abcd\n"
			   "[127.0.0.1]:2224 ssh-ed25519 AAAAKEY3\n"
			   "[127.0.0.1]:2225 ssh-ed25519 AAAAKEY4 hand written rp-pod=abc\n"
			   "10.0.0.1 ssh-rsa AAAAKEY5 rp-pod=abc\n"
			   "[127.0.0.1]:2226 ssh-ed25519 AAAAKEY6 rp-pod=xyz";
	const char *want = "# a comment rp-pod=abc\n"
			   "[127.0.0.1]:2223 ssh-ed25519 AAAAKEY2 rp-pod=abcd\n"
			   "[127.0.0.1]:2224 ssh-ed25519 AAAAKEY3\n"
			   "[127.0.0.1]:2225 ssh-ed25519 AAAAKEY4 hand written rp-pod=abc\n"
			   "[127.0.0.1]:2226 ssh-ed25519 AAAAKEY6 rp-pod=xyz";

	T_INT(rp_ssh_forget_pod(kh, "abc"), 0, "no file: nothing to forget");
	T_OK(access(kh, F_OK) < 0 && errno == ENOENT, "and no file is made");

	T_INT(rp_write_atomic(kh, text, strlen(text), 0600), 0, "fixture written");
	T_INT(rp_ssh_forget_pod(kh, NULL), 0, "no pod id: nothing");
	T_INT(rp_ssh_forget_pod(kh, ""), 0, "empty pod id: nothing");
	T_INT(rp_ssh_forget_pod(kh, "nosuch"), 0, "an unknown pod: nothing");
	char *got = rp_read_file(kh, 1 << 20, NULL);
	T_STR(got, text, "untouched when nothing matched");
	free(got);

	T_INT(rp_ssh_forget_pod(kh, "abc"), 2, "the pod's two lines go");
	got = rp_read_file(kh, 1 << 20, NULL);
	T_STR(got, want, "only they: comments, other pods, hand-written lines stay");
	free(got);
	struct stat st;
	T_OK(stat(kh, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	T_INT(rp_ssh_forget_pod(kh, "xyz"), 1, "a last line without a newline goes too");
	got = rp_read_file(kh, 1 << 20, NULL);
	T_OK(got && !strstr(got, "xyz") && strstr(got, "AAAAKEY3\n"), "and the rest stays");
	free(got);

	/* the default path: $RP_STATE_DIR/known_hosts */
	char *def = rp_xasprintf("%s/known_hosts", dir);
	const char *one = "h ssh-ed25519 K rp-pod=p1\n";
	T_INT(rp_write_atomic(def, one, strlen(one), 0600), 0, "default file written");
	T_INT(rp_ssh_forget_pod(NULL, "p1"), 1, "NULL: the state dir's known_hosts");
	got = rp_read_file(def, 1 << 20, NULL);
	T_STR(got, "", "now empty");
	free(got);

	unlink(kh);
	unlink(def);
	rmdir(dir);
	free(kh);
	free(def);
	return T_DONE();
}
