/* prom.h — one instant query against the Prometheus HTTP API.
 *
 * Promises:
 *  - GET URL/api/v1/query?query=Q over the toolkit's HTTP client (GET
 *    retried on 5xx/transport errors), within timeout.
 *  - The answer must be a scalar or a vector of at most one series; more
 *    than one series is an error naming the query (wrap it in sum() or
 *    another aggregation).
 *  - An empty vector, NaN (histogram_quantile at zero traffic) is
 *    RP_PROM_NONE with a note: "no latency signal", never 0.  +Inf is a
 *    value (the quantile lies in the +Inf bucket: above every bound).
 *  - Returns RP_PROM_OK (*value set), RP_PROM_NONE (*note), or
 *    RP_PROM_ERROR (*note: one line; unreachable, HTTP error, bad answer).
 *    *note is malloc'd (caller frees) or NULL.
 */
#ifndef RP_PROM_H
#define RP_PROM_H

enum { RP_PROM_OK, RP_PROM_NONE, RP_PROM_ERROR };

int rp_prom_query(const char *url, const char *query, double timeout, double *value, char **note);
/* Parse an /api/v1/query answer (exposed for tests). */
int rp_prom_parse(const char *body, const char *query, double *value, char **note);

#endif
