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
 *  - rp_prom_label() is the one escaping of a label value in the text
 *    exposition format (\ " and newline), for every exporter here.
 */
#ifndef RP_PROM_H
#define RP_PROM_H
#include "rp.h"

enum { RP_PROM_OK, RP_PROM_NONE, RP_PROM_ERROR };

int rp_prom_query(const char *url, const char *query, double timeout, double *value, char **note);
/* Parse an /api/v1/query answer (exposed for tests). */
int rp_prom_parse(const char *body, const char *query, double *value, char **note);
/* Append v to b as a label value of the text format (escaped). */
void rp_prom_label(struct rp_buf *b, const char *v);

#endif
