/* log.h — talk on stderr as key=value lines.
 *
 * Promises:
 *  - One line per event: "ts=… level=info prog=rp-x msg=… k=v …".
 *  - Values with spaces, quotes or '=' are double-quoted and escaped.
 *  - Any string registered with rp_log_secret() is replaced by "<redacted>"
 *    wherever it would appear in a log line (and in rp_redact()).
 *  - -q sets RP_LOG_WARN, -v RP_LOG_DEBUG; default RP_LOG_INFO; the
 *    environment RP_LOG_LEVEL=debug|info|warn|error overrides the default.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

enum { RP_LOG_DEBUG, RP_LOG_INFO, RP_LOG_WARN, RP_LOG_ERROR, RP_LOG_NONE };

extern int rp_log_level;

void rp_log_secret(const char *secret);
/* Returns a newly allocated copy of s with every secret redacted. */
char *rp_redact(const char *s);
/* kv: alternating key, value strings, terminated by NULL. */
void rp_log(int level, const char *msg, ...) __attribute__((sentinel));
#define rp_debug(...) rp_log(RP_LOG_DEBUG, __VA_ARGS__, (char *)0)
#define rp_info(...)  rp_log(RP_LOG_INFO, __VA_ARGS__, (char *)0)
#define rp_logw(...)  rp_log(RP_LOG_WARN, __VA_ARGS__, (char *)0)
#define rp_loge(...)  rp_log(RP_LOG_ERROR, __VA_ARGS__, (char *)0)

#endif
