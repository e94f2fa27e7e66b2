/* yamltree.h — load a YAML document into a cJSON tree, keeping line numbers.
 *
 * Promises:
 *  - Mappings become objects, sequences arrays, scalars strings (plain
 *    scalars stay strings too: the caller types them against a schema).
 *  - Every node's 1-based source line is kept: rp_yaml_line(node).
 *  - Errors are one line: "FILE:LINE: message".  Anchors/aliases and
 *    multiple documents are refused.
 */
#ifndef RP_YAMLTREE_H
#define RP_YAMLTREE_H
#include <cjson/cJSON.h>

/* Parse text (len bytes, name used in messages). NULL + *err on error. */
cJSON *rp_yaml_parse(const char *text, size_t len, const char *name, char **err);
cJSON *rp_yaml_load(const char *path, char **err);
/* Source line of a node produced by rp_yaml_parse (0 if unknown). */
int rp_yaml_line(const cJSON *node);
/* Was this scalar quoted in the source ('x' or "x")? */
int rp_yaml_quoted(const cJSON *node);

#endif
