/* config.h — the one configuration of every rp binary.
 *
 * Promises:
 *  - Loaded from the path given, else $RP_CONFIG, else /etc/rp/config.yaml
 *    (that default may be absent: then only defaults apply; a path named
 *    explicitly must exist).
 *  - Every key is declared once in config.c's schema with its type and
 *    default (the defaults match the seed: lag 5, p95 30 s, idle 60 s,
 *    max_nodes 50, …).  An unknown key, a wrong type or a bad duration is a
 *    one-line error "FILE:LINE: key 'a.b': reason"; callers exit 2.
 *  - rp_cfg_set() applies a flag (or --set key=value) with the same checks;
 *    flags override the file.
 *  - Secrets are never config values: rp_cfg_secret() reads them from the
 *    file a *_file key names (it must not be readable by group or others)
 *    or, when no file is configured, from an environment variable.
 *  - Durations are "60s", "5m", "1h", "1h30m", "250ms", or plain seconds.
 *  - rp_config_check() refuses a URL that credentials travel to
 *    (runpod.api_url, runpod.graphql_url, s3.endpoint) unless it passes
 *    http.h's one rule (https://, or a loopback host); it refuses a
 *    cost.throughput that is not a number >= 0 and a scale.warm_pool that
 *    rp_warm_pool_parse() refuses (warmpool.h), and warns (stderr) when
 *    runpod.gpu_types lists a type whose throughput is 0 (not when both
 *    keys hold their shipped defaults).
 */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H
#include <stdio.h>
#include <cjson/cJSON.h>

struct rp_config;

/* NULL path: $RP_CONFIG or /etc/rp/config.yaml. NULL + *err on error. */
struct rp_config *rp_config_load(const char *path, char **err);
/* The same from text in memory (name is used in messages). */
struct rp_config *rp_config_parse(const char *text, size_t len, const char *name, char **err);
void rp_config_free(struct rp_config *c);
const char *rp_config_path(const struct rp_config *c); /* or "(defaults)" */

/* Checks across the final values (after flags): 0, or -1 and *err, one
 * line "FILE:LINE: key 'a.b': reason" (or "key 'a.b' (flag): reason"). */
int rp_config_check(const struct rp_config *c, char **err);

/* Jobs one GPU of type gpu encodes at once, from cost.throughput: 1 when
 * the type is not listed (-1 for a value that is not a number; the
 * check refuses those). */
double rp_gpu_throughput(const struct rp_config *c, const char *gpu);

/* Set a key from a flag ("kafka.group", "x"). Lists take comma-separated
 * values; maps take JSON. 0 ok, -1 + *err. */
int rp_cfg_set(struct rp_config *c, const char *key, const char *value, char **err);
/* Append to a list key (repeatable flags); the first append after the
 * file's value replaces it. */
int rp_cfg_append(struct rp_config *c, const char *key, const char *value, char **err);

/* Getters: the key must be declared in the schema (a programming error
 * otherwise: abort). */
const char *rp_cfg_str(const struct rp_config *c, const char *key); /* NULL if unset */
double rp_cfg_num(const struct rp_config *c, const char *key);
long rp_cfg_int(const struct rp_config *c, const char *key);
int rp_cfg_bool(const struct rp_config *c, const char *key);
double rp_cfg_dur(const struct rp_config *c, const char *key); /* seconds */
/* Lists (array of strings) and maps (objects): borrowed cJSON. */
const cJSON *rp_cfg_json(const struct rp_config *c, const char *key);
/* Where a key's value came from: "FILE:LINE", "flag" or "default". */
const char *rp_cfg_where(const struct rp_config *c, const char *key);

/* Read a secret: the file named by file_key (mode must deny group/other
 * access), else env var envname. Returns malloc'd trimmed secret; NULL and
 * *err (one line naming the key/file) if absent or unsafe. The secret is
 * registered with the log redactor. */
char *rp_cfg_secret(const struct rp_config *c, const char *file_key, const char *envname,
		    char **err);

/* Parse a duration; 0 ok, -1 bad. */
int rp_parse_duration(const char *s, double *secs);

/* Print every key, its value and its origin (for `--show-config`). */
void rp_config_dump(const struct rp_config *c, FILE *f);

/* Write the example configuration: every key of the schema with its
 * default (keys with none commented out) and one line of meaning, as YAML
 * that rp_config_load() accepts as is.  0 ok; -1 if a key has no
 * description (or a description no key). */
int rp_config_example(FILE *f);

#endif
