/* ckseal.c — see ckseal.h. */
#include "ckseal.h"
#include "ckstore.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

void rp_ckpt_name_key(const unsigned char key[32], const void *p, size_t n, char out[65])
{
	static const char label[] = "rp-checkpoint object name";
	unsigned char nk[32], md[32];
	unsigned len = 0;
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)label, sizeof label - 1, nk, &len);
	HMAC(EVP_sha256(), nk, 32, p, n, md, &len);
	OPENSSL_cleanse(nk, sizeof nk);
	rp_ck_hex(md, 32, out);
}

int rp_ckpt_seal(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn)
{
	unsigned char *o = rp_xmalloc(4 + 12 + n + 16);
	int len = 0, ok = 0;
	memcpy(o, "RPE1", 4);
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	if (cx && RAND_bytes(o + 4, 12) == 1 &&
	    EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_EncryptInit_ex(cx, NULL, NULL, key, o + 4) == 1 &&
	    EVP_EncryptUpdate(cx, NULL, &len, (const unsigned char *)name, (int)strlen(name)) == 1 &&
	    EVP_EncryptUpdate(cx, o + 16, &len, p, (int)n) == 1 && (size_t)len == n &&
	    EVP_EncryptFinal_ex(cx, o + 16 + n, &len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, o + 16 + n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(cx);
	if (!ok) {
		free(o);
		return -1;
	}
	*out = o;
	*outn = 4 + 12 + n + 16;
	return 0;
}

int rp_ckpt_open(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn)
{
	const unsigned char *in = p;
	if (n < 32 || memcmp(in, "RPE1", 4))
		return -1;
	size_t cn = n - 32;
	unsigned char *o = rp_xmalloc(cn + 1);
	unsigned char tag[16];
	memcpy(tag, in + n - 16, 16);
	int len = 0, ok = 0;
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	if (cx && EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(cx, NULL, NULL, key, in + 4) == 1 &&
	    EVP_DecryptUpdate(cx, NULL, &len, (const unsigned char *)name, (int)strlen(name)) == 1 &&
	    EVP_DecryptUpdate(cx, o, &len, in + 16, (int)cn) == 1 &&
	    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	    EVP_DecryptFinal_ex(cx, o + len, &len) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(cx);
	if (!ok) {
		OPENSSL_cleanse(o, cn);
		free(o);
		return -1;
	}
	*out = o;
	*outn = cn;
	return 0;
}

int rp_ckpt_load_key(const struct rp_config *cfg, unsigned char key[32], char **err)
{
	return rp_ckpt_load_key_file(cfg, "s3.encryption_key_file", key, err);
}

int rp_ckpt_job_key(const unsigned char master[32], const char *job, unsigned char out[32])
{
	static const char salt[] = "rp-checkpoint manifest signing";
	size_t outn = 32;
	int ok = 0;
	EVP_PKEY_CTX *px = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (px && EVP_PKEY_derive_init(px) > 0 && EVP_PKEY_CTX_set_hkdf_md(px, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(px, (const unsigned char *)salt, sizeof salt - 1) > 0 &&
	    EVP_PKEY_CTX_set1_hkdf_key(px, master, 32) > 0 &&
	    EVP_PKEY_CTX_add1_hkdf_info(px, (const unsigned char *)job, (int)strlen(job)) > 0 &&
	    EVP_PKEY_derive(px, out, &outn) > 0 && outn == 32)
		ok = 1;
	EVP_PKEY_CTX_free(px);
	if (!ok)
		OPENSSL_cleanse(out, 32);
	return ok ? 0 : -1;
}

void rp_ckpt_mac_hex(const unsigned char key[32], const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	HMAC(EVP_sha256(), key, 32, p, n, md, &len);
	rp_ck_hex(md, 32, out);
}

int rp_ckpt_load_key_file(const struct rp_config *cfg, const char *cfgkey, unsigned char key[32], char **err)
{
	const char *path = rp_cfg_str(cfg, cfgkey);
	*err = NULL;
	if (!path || !*path)
		return 0;
	char *s = rp_cfg_secret(cfg, cfgkey, NULL, err);
	if (!s)
		return -1;
	int ok = strlen(s) == 64;
	for (int i = 0; ok && i < 32; i++) {
		unsigned v;
		char two[3] = { s[2 * i], s[2 * i + 1], 0 };
		char *end;
		v = (unsigned)strtoul(two, &end, 16);
		if (*end || !((s[2 * i] >= '0' && s[2 * i] <= '9') || (s[2 * i] | 32) >= 'a'))
			ok = 0;
		key[i] = (unsigned char)v;
	}
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	if (!ok) {
		*err = rp_xasprintf("%s (%s): want 64 hex characters (32 random bytes)", cfgkey, path);
		return -1;
	}
	return 1;
}
