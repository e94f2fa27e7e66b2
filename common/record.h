/* record.h — JSON Lines records on stdin/stdout.
 *
 * Promises:
 *  - A record is one JSON object per line with "type" and "ts" (RFC 3339
 *    UTC).  rp_rec_new() makes one with both set.
 *  - The reader hands back every object with its raw line, so a tool can
 *    pass through types it does not consume byte for byte, and keep
 *    fields it does not know.  A malformed line (not JSON, not an object,
 *    no string "type") is reported as "NAME:LINE: malformed record: why";
 *    strict readers stop there (caller exits 2), lenient ones count it and
 *    go on.  Lines over 1 MiB are malformed, and the reader stops keeping
 *    such a line at the cap while reading it (memory stays under ~1 MiB
 *    whatever comes in).  Blank lines are skipped.
 *  - Output is JSON (one compact line per record) or, for a person, a
 *    table: records grouped by type, one column per field.  Auto mode picks
 *    table when stdout is a terminal.
 */
#ifndef RP_RECORD_H
#define RP_RECORD_H
#include <stdio.h>
#include <cjson/cJSON.h>

cJSON *rp_rec_new(const char *type);
/* "type" of a record, or NULL. */
const char *rp_rec_type(const cJSON *rec);
/* Typed field access; defaults when absent or of another type. */
const char *rp_rec_str(const cJSON *rec, const char *key);
double rp_rec_num(const cJSON *rec, const char *key, double def);
int rp_rec_bool(const cJSON *rec, const char *key, int def);
/* Typed field access for input that must be right: 0 when KEY is absent
 * or null (*out untouched); 1 and *out when it is a string (_str) or a
 * whole number within [min, max] (_int); -1 when it is there but of
 * another type or out of range (the caller reports a line-numbered input
 * error: exit 2). */
int rp_rec_get_str(const cJSON *rec, const char *key, const char **out);
int rp_rec_get_int(const cJSON *rec, const char *key, long min, long max, long *out);

struct rp_rec_reader;
struct rp_rec_reader *rp_rec_reader_new(FILE *f, const char *name, int strict);
/* 1: *rec (caller frees) and *raw (valid until next call); 0: EOF;
 * -1: malformed line in strict mode (already reported). */
int rp_rec_read(struct rp_rec_reader *r, cJSON **rec, const char **raw);
long rp_rec_lineno(const struct rp_rec_reader *r);
/* The NAME given to rp_rec_reader_new ("<stdin>"). */
const char *rp_rec_name(const struct rp_rec_reader *r);
long rp_rec_malformed(const struct rp_rec_reader *r);
void rp_rec_reader_free(struct rp_rec_reader *r);

enum { RP_OUT_AUTO, RP_OUT_JSON, RP_OUT_TABLE };
/* Mode from "-o" text ("json", "table"); -1 if unknown. */
int rp_out_parse(const char *s);
void rp_out_init(int mode);
int rp_out_mode(void);
/* Print a record (adds "ts" if missing).  Does not take ownership. */
void rp_out_rec(cJSON *rec);
/* Pass a line through unchanged (table mode parses and tabulates it). */
void rp_out_raw(const char *line);
/* Emit buffered table output; call before exit (rp_finish does not). */
void rp_out_flush(void);

#endif
