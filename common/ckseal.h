/* ckseal.h — DRM keys in a checkpoint: the encryption key, the object
 * name of a key, AES-256-GCM sealing.
 *
 * Promises:
 *  - rp_ckpt_load_key reads s3.encryption_key_file as a secret (the
 *    config's file-mode rules) and accepts exactly 64 hex characters; the
 *    text is wiped once read.  Not configured is not an error.
 *  - A key's object name is HMAC-SHA256(HMAC-SHA256(key, "rp-checkpoint
 *    object name"), plain key): equal keys get equal names (stored once),
 *    and the name reveals nothing without the encryption key.
 *  - rp_ckpt_seal writes "RPE1", a random 12-byte nonce, the ciphertext
 *    and the 16-byte GCM tag; the object name is the additional data, so
 *    a sealed key moved to another name does not open.
 *  - rp_ckpt_open refuses (-1) a wrong key, a wrong name, any flipped bit
 *    or a short input; on refusal no plaintext is left in memory.
 *  - Manifest signing: s3.signing_key_file is read like the encryption
 *    key (0600, 64 hex).  rp_ckpt_job_key derives a job's own signing key
 *    with HKDF-SHA256 (salt "rp-checkpoint manifest signing", info the job
 *    id), so a key handed to one job signs and opens that job only;
 *    rp_ckpt_mac_hex is HMAC-SHA256 in hex.
 */
#ifndef RP_CKSEAL_H
#define RP_CKSEAL_H
#include <stddef.h>
#include "config.h"

/* s3.encryption_key_file: 1 and key[32] loaded; 0 not configured; -1 and
 * *err (bad mode, not 64 hex characters). */
int rp_ckpt_load_key(const struct rp_config *cfg, unsigned char key[32], char **err);
/* The same for any key file setting (cfgkey: s3.signing_key_file). */
int rp_ckpt_load_key_file(const struct rp_config *cfg, const char *cfgkey, unsigned char key[32], char **err);
/* HKDF-SHA256 of master for job: 0, or -1. */
int rp_ckpt_job_key(const unsigned char master[32], const char *job, unsigned char out[32]);
void rp_ckpt_mac_hex(const unsigned char key[32], const void *p, size_t n, char out[65]);

void rp_ckpt_name_key(const unsigned char key[32], const void *p, size_t n, char out[65]);
/* 0 and *out (malloc'd, *outn = n + 32), or -1. */
int rp_ckpt_seal(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn);
/* 0 and *out (malloc'd plaintext, *outn bytes), or -1. */
int rp_ckpt_open(const unsigned char key[32], const char *name, const void *p, size_t n,
		 unsigned char **out, size_t *outn);

#endif
