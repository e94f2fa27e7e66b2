/* yaml.c — libyaml event parser to cJSON.  The line number of each node is
 * stashed in the node's valueint (unused for strings/objects/arrays) with
 * the quoted flag in bit 30. */
#include "yamltree.h"
#include "rp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define QUOTED_BIT (1 << 30)

int rp_yaml_line(const cJSON *n)
{
	return n ? (n->valueint & ~QUOTED_BIT) : 0;
}

int rp_yaml_quoted(const cJSON *n)
{
	return n && (n->valueint & QUOTED_BIT) != 0;
}

static void mark(cJSON *n, int line, int quoted)
{
	n->valueint = line | (quoted ? QUOTED_BIT : 0);
}

struct yp {
	yaml_parser_t p;
	const char *name;
	char **err;
};

static int fail(struct yp *y, int line, const char *msg)
{
	if (y->err && !*y->err)
		*y->err = rp_xasprintf("%s:%d: %s", y->name, line, msg);
	return -1;
}

static int next(struct yp *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->p, ev)) {
		char m[300];
		snprintf(m, sizeof m, "invalid YAML: %s%s%s", y->p.problem ? y->p.problem : "syntax error",
			 y->p.context ? " " : "", y->p.context ? y->p.context : "");
		return fail(y, (int)y->p.problem_mark.line + 1, m);
	}
	return 0;
}

static cJSON *node(struct yp *y, yaml_event_t *ev, int depth);

static cJSON *node(struct yp *y, yaml_event_t *ev, int depth)
{
	int line = (int)ev->start_mark.line + 1;
	if (depth > 64) {
		fail(y, line, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		fail(y, line, "YAML aliases are not supported");
		return NULL;
	case YAML_SCALAR_EVENT: {
		cJSON *s = cJSON_CreateString((const char *)ev->data.scalar.value);
		if (!s)
			rp_fatal(RP_EXIT_FAIL, "out of memory");
		mark(s, line, ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
				     ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
		return s;
	}
	case YAML_SEQUENCE_START_EVENT: {
		cJSON *a = cJSON_CreateArray();
		mark(a, line, 0);
		for (;;) {
			yaml_event_t e;
			if (next(y, &e) < 0)
				goto bad_a;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				return a;
			}
			cJSON *c = node(y, &e, depth + 1);
			yaml_event_delete(&e);
			if (!c)
				goto bad_a;
			cJSON_AddItemToArray(a, c);
		}
	bad_a:
		cJSON_Delete(a);
		return NULL;
	}
	case YAML_MAPPING_START_EVENT: {
		cJSON *o = cJSON_CreateObject();
		mark(o, line, 0);
		for (;;) {
			yaml_event_t k, v;
			if (next(y, &k) < 0)
				goto bad_o;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				return o;
			}
			if (k.type != YAML_SCALAR_EVENT) {
				fail(y, (int)k.start_mark.line + 1, "mapping keys must be scalars");
				yaml_event_delete(&k);
				goto bad_o;
			}
			char *key = rp_xstrdup((const char *)k.data.scalar.value);
			int kline = (int)k.start_mark.line + 1;
			yaml_event_delete(&k);
			if (cJSON_GetObjectItemCaseSensitive(o, key)) {
				char m[300];
				snprintf(m, sizeof m, "duplicate key '%.200s'", key);
				free(key);
				fail(y, kline, m);
				goto bad_o;
			}
			if (next(y, &v) < 0) {
				free(key);
				goto bad_o;
			}
			cJSON *c = node(y, &v, depth + 1);
			yaml_event_delete(&v);
			if (!c) {
				free(key);
				goto bad_o;
			}
			cJSON_AddItemToObject(o, key, c);
			free(key);
		}
	bad_o:
		cJSON_Delete(o);
		return NULL;
	}
	default:
		fail(y, line, "unexpected YAML event");
		return NULL;
	}
}

cJSON *rp_yaml_parse(const char *text, size_t len, const char *name, char **err)
{
	struct yp y = { .name = name, .err = err };
	yaml_event_t ev;
	cJSON *root = NULL;
	if (err)
		*err = NULL;
	if (!yaml_parser_initialize(&y.p)) {
		fail(&y, 0, "cannot initialise YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	int docs = 0;
	for (;;) {
		if (next(&y, &ev) < 0)
			goto out;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			fail(&y, (int)ev.start_mark.line + 1, "only one YAML document is allowed");
			yaml_event_delete(&ev);
			goto out;
		}
		if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
			cJSON *n = node(&y, &ev, 0);
			yaml_event_delete(&ev);
			if (!n)
				goto out;
			root = n;
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&y.p);
	if (!root) {
		root = cJSON_CreateObject();
		mark(root, 1, 0);
	}
	return root;
out:
	cJSON_Delete(root);
	yaml_parser_delete(&y.p);
	return NULL;
}

cJSON *rp_yaml_load(const char *path, char **err)
{
	size_t len;
	char *text = rp_read_file(path, 4 << 20, &len);
	if (!text) {
		if (err)
			*err = rp_xasprintf("%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	cJSON *j = rp_yaml_parse(text, len, path, err);
	free(text);
	return j;
}
