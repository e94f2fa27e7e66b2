/* record.c — JSON Lines reader and writer, and the table view. */
#include "record.h"
#include "rp.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE (1 << 20)

cJSON *rp_rec_new(const char *type)
{
	char ts[40];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "ts", rp_rfc3339(rp_now(), ts, sizeof ts));
	return o;
}

const char *rp_rec_type(const cJSON *rec)
{
	return rp_rec_str(rec, "type");
}

const char *rp_rec_str(const cJSON *rec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double rp_rec_num(const cJSON *rec, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int rp_rec_bool(const cJSON *rec, const char *key, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int rp_rec_get_str(const cJSON *rec, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	*out = v->valuestring;
	return 1;
}

int rp_rec_get_int(const cJSON *rec, const char *key, long min, long max, long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= (double)min && d <= (double)max) || d != (double)(long)d)
		return -1;
	*out = (long)d;
	return 1;
}

struct rp_rec_reader {
	FILE *f;
	char *name;
	int strict;
	long line, bad;
	char *buf;
	size_t cap;
};

struct rp_rec_reader *rp_rec_reader_new(FILE *f, const char *name, int strict)
{
	struct rp_rec_reader *r = rp_xcalloc(1, sizeof *r);
	r->f = f;
	r->name = rp_xstrdup(name ? name : "<stdin>");
	r->strict = strict;
	return r;
}

const char *rp_rec_name(const struct rp_rec_reader *r)
{
	return r->name;
}

long rp_rec_lineno(const struct rp_rec_reader *r)
{
	return r->line;
}

long rp_rec_malformed(const struct rp_rec_reader *r)
{
	return r->bad;
}

void rp_rec_reader_free(struct rp_rec_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->name);
	free(r);
}

/* One line into r->buf without its newline, keeping at most MAX_LINE + 1
 * bytes: the rest of a longer line is read and dropped as it comes (*over
 * set), so memory stays bounded whatever the input.  -1 at end of input. */
static ssize_t read_line(struct rp_rec_reader *r, int *over)
{
	size_t n = 0;
	int c = EOF;
	*over = 0;
	if (!r->buf)
		r->buf = rp_xmalloc(r->cap = 4096);
	while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
		if (n > MAX_LINE) {
			*over = 1;
			continue;
		}
		if (n + 2 > r->cap) {
			r->cap *= 2;
			if (r->cap > MAX_LINE + 2)
				r->cap = MAX_LINE + 2;
			r->buf = rp_xrealloc(r->buf, r->cap);
		}
		r->buf[n++] = (char)c;
	}
	if (c == EOF && !n)
		return -1;
	r->buf[n] = 0;
	return (ssize_t)n;
}

int rp_rec_read(struct rp_rec_reader *r, cJSON **rec, const char **raw)
{
	for (;;) {
		int over;
		ssize_t n = read_line(r, &over);
		if (n < 0)
			return 0;
		r->line++;
		while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
			r->buf[--n] = 0;
		const char *p = r->buf;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		const char *why = NULL;
		cJSON *o = NULL;
		if (over || n > MAX_LINE) {
			why = "line longer than 1 MiB";
		} else {
			const char *end = NULL;
			o = cJSON_ParseWithOpts(r->buf, &end, 1);
			if (!o)
				why = "not valid JSON";
			else if (!cJSON_IsObject(o))
				why = "not a JSON object";
			else if (!rp_rec_type(o))
				why = "no string \"type\" field";
		}
		if (why) {
			cJSON_Delete(o);
			r->bad++;
			fprintf(stderr, "%s: %s: %s:%ld: malformed record: %s\n", rp_prog,
				r->strict ? "fatal" : "warning", r->name, r->line, why);
			if (r->strict)
				return -1;
			continue;
		}
		*rec = o;
		if (raw)
			*raw = r->buf;
		return 1;
	}
}

/* ---- output ---- */

static int out_mode = RP_OUT_JSON;
static cJSON *table; /* array of records, table mode */

int rp_out_parse(const char *s)
{
	if (!strcmp(s, "json"))
		return RP_OUT_JSON;
	if (!strcmp(s, "table"))
		return RP_OUT_TABLE;
	return -1;
}

void rp_out_init(int mode)
{
	if (mode == RP_OUT_AUTO)
		mode = isatty(STDOUT_FILENO) ? RP_OUT_TABLE : RP_OUT_JSON;
	out_mode = mode;
}

int rp_out_mode(void)
{
	return out_mode;
}

void rp_out_rec(cJSON *rec)
{
	if (!cJSON_GetObjectItemCaseSensitive(rec, "ts")) {
		char ts[40];
		cJSON_AddStringToObject(rec, "ts", rp_rfc3339(rp_now(), ts, sizeof ts));
	}
	if (out_mode == RP_OUT_TABLE) {
		if (!table)
			table = cJSON_CreateArray();
		cJSON_AddItemToArray(table, cJSON_Duplicate(rec, 1));
		return;
	}
	char *s = cJSON_PrintUnformatted(rec);
	if (!s)
		rp_fatal(RP_EXIT_FAIL, "out of memory");
	fputs(s, stdout);
	fputc('\n', stdout);
	free(s);
	/* One record is one unit for the next tool in the pipe. */
	fflush(stdout);
}

void rp_out_raw(const char *line)
{
	if (out_mode == RP_OUT_TABLE) {
		cJSON *o = cJSON_Parse(line);
		if (o) {
			rp_out_rec(o);
			cJSON_Delete(o);
		}
		return;
	}
	fputs(line, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

static char *cell(const cJSON *v)
{
	if (!v)
		return rp_xstrdup("-");
	if (cJSON_IsString(v))
		return rp_xstrdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == (double)(long long)d && d < 1e15 && d > -1e15)
			return rp_xasprintf("%lld", (long long)d);
		return rp_xasprintf("%.4g", d);
	}
	if (cJSON_IsNull(v))
		return rp_xstrdup("-");
	char *s = cJSON_PrintUnformatted(v);
	return s ? s : rp_xstrdup("?");
}

void rp_out_flush(void)
{
	if (!table)
		return;
	/* Group by type, in order of first appearance. */
	int n = cJSON_GetArraySize(table);
	char *done = rp_xcalloc((size_t)n + 1, 1);
	for (int i = 0; i < n; i++) {
		if (done[i])
			continue;
		const char *type = rp_rec_type(cJSON_GetArrayItem(table, i));
		/* Columns: union of keys, first-seen order, without type and ts. */
		cJSON *cols = cJSON_CreateArray();
		for (int j = i; j < n; j++) {
			cJSON *r = cJSON_GetArrayItem(table, j);
			const char *t = rp_rec_type(r);
			if (!t || !type || strcmp(t, type))
				continue;
			for (cJSON *f = r->child; f; f = f->next) {
				if (!strcmp(f->string, "type") || !strcmp(f->string, "ts"))
					continue;
				int have = 0;
				for (cJSON *c = cols->child; c; c = c->next)
					if (!strcmp(c->valuestring, f->string))
						have = 1;
				if (!have)
					cJSON_AddItemToArray(cols, cJSON_CreateString(f->string));
			}
		}
		int nc = cJSON_GetArraySize(cols);
		size_t *w = rp_xcalloc((size_t)nc + 1, sizeof *w);
		for (int c = 0; c < nc; c++)
			w[c] = strlen(cJSON_GetArrayItem(cols, c)->valuestring);
		for (int j = i; j < n; j++) {
			cJSON *r = cJSON_GetArrayItem(table, j);
			const char *t = rp_rec_type(r);
			if (!t || !type || strcmp(t, type))
				continue;
			for (int c = 0; c < nc; c++) {
				char *s = cell(cJSON_GetObjectItemCaseSensitive(r, cJSON_GetArrayItem(cols, c)->valuestring));
				size_t l = strlen(s);
				if (l > 60 && c + 1 < nc)
					l = 60;
				if (l > w[c])
					w[c] = l;
				free(s);
			}
		}
		printf("%s%s\n", i ? "\n" : "", type ? type : "?");
		for (int c = 0; c < nc; c++) {
			char *h = rp_xstrdup(cJSON_GetArrayItem(cols, c)->valuestring);
			for (char *p = h; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 32);
			if (c + 1 < nc)
				printf("%-*s  ", (int)w[c], h);
			else
				printf("%s\n", h);
			free(h);
		}
		for (int j = i; j < n; j++) {
			cJSON *r = cJSON_GetArrayItem(table, j);
			const char *t = rp_rec_type(r);
			if (!t || !type || strcmp(t, type))
				continue;
			done[j] = 1;
			for (int c = 0; c < nc; c++) {
				char *s = cell(cJSON_GetObjectItemCaseSensitive(r, cJSON_GetArrayItem(cols, c)->valuestring));
				if (strlen(s) > 60 && c + 1 < nc)
					strcpy(s + 57, "...");
				if (c + 1 < nc)
					printf("%-*s  ", (int)w[c], s);
				else
					printf("%s\n", s);
				free(s);
			}
		}
		free(w);
		cJSON_Delete(cols);
	}
	free(done);
	cJSON_Delete(table);
	table = NULL;
	fflush(stdout);
}
