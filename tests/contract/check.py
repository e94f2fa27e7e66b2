#!/usr/bin/env python3
"""check.py -- hold the RunPod traffic and the client's reads to RunPod's
v2 OpenAPI document (tests/contract/runpod-v2.openapi.json, see README).

  check.py traffic SPEC REQUESTS.jsonl [--since SEQ]
      Every /v2 call in the stand-in's request log (tests/fakes/runpod.py
      --state-dir D writes D/requests.jsonl): the path and method exist in
      the document; the query parameters and the request body match the
      operation's schemas; the response body matches the schema of its
      status (or `default`), and every 2xx object carries only properties
      the document defines (closed world: the document does not say
      additionalProperties false on Pod or GpuType, RunPod's answers have
      no others, so neither may the stand-in's).
  check.py reads SPEC SRCDIR
      Every field the client reads from a v2 object is defined by the
      document: the explicit list V2_READS below (schema + path), and a scan
      of the field-name literals in SRCDIR/common/{runpod,wave,reap,adopt}.c,
      each of which must be a v2 property, or named in NOT_V2 (GraphQL,
      ledger, our own objects) with the reason.

One line per problem on stdout; exit 0 clean, 1 problems, 2 usage.
Needs python3-jsonschema (Debian).
"""
import json
import re
import sys
import urllib.parse

import jsonschema

# Fields the client reads from v2 objects: (schema, dotted path; [] = items).
V2_READS = [
    ("ListPodsResponse", "pods"),
    ("Pod", "id"), ("Pod", "name"), ("Pod", "status"), ("Pod", "cost"), ("Pod", "dataCenterId"),
    ("Pod", "createdAt"), ("Pod", "gpu.id"),
    ("Pod", "ssh.direct.host"), ("Pod", "ssh.direct.port"),
    ("Pod", "runtime.ports[].private"), ("Pod", "runtime.ports[].public"),
    ("Pod", "runtime.ports[].ip"), ("Pod", "runtime.ports[].type"),
    ("ListGpuTypesResponse", "gpus"),
    ("GpuType", "id"), ("GpuType", "price.secure"), ("GpuType", "price.community"),
    ("GpuType", "availability"), ("GpuType", "dataCenters[].id"), ("GpuType", "dataCenters[].availability"),
    ("ErrorResponse", "detail"), ("ErrorResponse", "errors"),
]

# Literal field names in the scanned sources that are not v2 reads.
NOT_V2 = {
    # GraphQL (spot create, spot price, myself.pods spot signal)
    "data": "GraphQL", "errors": "GraphQL and ErrorResponse", "message": "GraphQL error",
    "extensions": "GraphQL error", "code": "GraphQL error code", "podRentInterruptable": "GraphQL",
    "desiredStatus": "GraphQL Pod", "gpuCount": "GraphQL Pod", "machine": "GraphQL Pod",
    "gpuTypeId": "GraphQL PodMachine", "gpuTypes": "GraphQL", "lowestPrice": "GraphQL GpuType",
    "minimumBidPrice": "GraphQL LowestPrice", "stockStatus": "GraphQL LowestPrice",
    "secureSpotPrice": "GraphQL GpuType (spot price query)",
    "communitySpotPrice": "GraphQL GpuType (spot price query)",
    "myself": "GraphQL", "podType": "GraphQL Pod",
    "lastStatusChange": "GraphQL Pod (myself.pods spot signal)",
    # ledger records and our own pod records
    "event": "ledger", "why": "ledger", "gpu": "ledger (also a Pod field)",
    "replica": "ledger (fleetlog: the replica that wrote the line)", "ts": "ledger (when the line was written)",
    "spot": "ledger (launched: a spot pod; adopt.c)",
}

# Known reads outside the document, left to issue 16 item 4 (spot prices
# from GraphQL only): rp_runpod_catalog_price still falls back to these
# names on a catalog entry.  Listed so the gap is visible; remove with it.
KNOWN_GAPS = {"securePrice", "communityPrice", "secureSpot", "communitySpot"}


def load(path):
    with open(path) as f:
        return json.load(f)


def ref(doc, r):
    node = doc
    for part in r.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(doc, s):
    while isinstance(s, dict) and "$ref" in s:
        s = ref(doc, s["$ref"])
    return s


def validator(doc, schema):
    root = dict(schema)
    root["components"] = doc["components"]
    return jsonschema.Draft202012Validator(root)


def valid(doc, schema, inst):
    return validator(doc, schema).is_valid(inst)


def props(doc, s):
    """Properties declared by s (through $ref and allOf); (dict, additional)."""
    s = deref(doc, s)
    out, addl = {}, None
    if not isinstance(s, dict):
        return out, addl
    out.update(s.get("properties", {}))
    if isinstance(s.get("additionalProperties"), dict):
        addl = s["additionalProperties"]
    for sub in s.get("allOf", []):
        p, a = props(doc, sub)
        out.update(p)
        addl = addl or a
    return out, addl


def closed(doc, s, inst, where, probs):
    """Every object property in inst is declared by its schema."""
    s = deref(doc, s)
    if not isinstance(s, dict):
        return
    for key in ("anyOf", "oneOf"):
        if key in s:
            for alt in s[key]:
                if valid(doc, alt, inst):
                    closed(doc, alt, inst, where, probs)
                    break
            return
    if isinstance(inst, dict):
        p, addl = props(doc, s)
        if not p and addl is None and s.get("type") != "object" and not s.get("allOf"):
            return
        for k, v in inst.items():
            if k in p:
                closed(doc, p[k], v, "%s.%s" % (where, k), probs)
            elif addl is not None:
                closed(doc, addl, v, "%s.%s" % (where, k), probs)
            else:
                probs.append("%s.%s: not defined by the document" % (where, k))
    elif isinstance(inst, list):
        items = s.get("items")
        if items is None:
            for sub in s.get("allOf", []):
                items = items or deref(doc, sub).get("items")
        if items is not None:
            for i, v in enumerate(inst):
                closed(doc, items, v, "%s[%d]" % (where, i), probs)


def templates(doc):
    out = []
    for tpl in doc["paths"]:
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(tpl)) + "$"
        out.append((re.compile(rx), tpl))
    return out


def param_value(schema, vals):
    t = schema.get("type")
    if t == "array":
        items = []
        for v in vals:
            items.extend(v.split(","))
        return [param_value(schema.get("items", {}), [x]) for x in items]
    v = vals[-1]
    if t == "integer" and re.fullmatch(r"-?\d+", v):
        return int(v)
    if t == "boolean" and v in ("true", "false"):
        return v == "true"
    return v


def check_traffic(doc, log, since):
    probs, n = [], 0
    tpls = templates(doc)
    with open(log) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    for e in entries:
        if e.get("seq", 0) <= since or not e["path"].startswith("/v2"):
            continue
        n += 1
        where = "#%s %s %s" % (e.get("seq"), e["method"], e["path"])
        tpl = next((t for rx, t in tpls if rx.match(e["path"])), None)
        if tpl is None:
            probs.append("%s: path not in the document" % where)
            continue
        item = doc["paths"][tpl]
        op = item.get(e["method"].lower())
        if op is None:
            probs.append("%s: method not in the document for %s" % (where, tpl))
            continue
        params = {}
        for prm in item.get("parameters", []) + op.get("parameters", []):
            prm = deref(doc, prm)
            if prm["in"] == "query":
                params[prm["name"]] = prm
        for name, vals in (e.get("query") or {}).items():
            if name not in params:
                probs.append("%s: query parameter %s not in the document" % (where, name))
                continue
            sch = deref(doc, params[name]["schema"])
            v = param_value(sch, vals)
            for err in validator(doc, params[name]["schema"]).iter_errors(v):
                probs.append("%s: query %s=%s: %s" % (where, name, ",".join(vals), err.message))
        rb = op.get("requestBody")
        if rb is not None and e.get("body") is not None:
            sch = deref(doc, rb)["content"]["application/json"]["schema"]
            for err in validator(doc, sch).iter_errors(e["body"]):
                probs.append("%s: request body %s: %s" % (where, "/".join(map(str, err.path)), err.message))
        elif rb is not None and deref(doc, rb).get("required"):
            probs.append("%s: request body required" % where)
        st = e.get("status")
        if st is None:
            continue  # dropped on purpose (create_then_timeout): no answer
        resp = op["responses"].get(str(st)) or op["responses"].get("default")
        if resp is None:
            probs.append("%s: status %s not in the document" % (where, st))
            continue
        resp = deref(doc, resp)
        content = resp.get("content")
        body = e.get("response")
        if not content:
            if body is not None:
                probs.append("%s: status %s has no body in the document" % (where, st))
            continue
        ct = e.get("ctype")
        if ct not in content:
            probs.append("%s: content type %s, the document says %s" % (where, ct, "|".join(content)))
            continue
        sch = content[ct]["schema"]
        for err in validator(doc, sch).iter_errors(body):
            probs.append("%s: response %s: %s" % (where, "/".join(map(str, err.path)), err.message))
        if 200 <= st < 300:
            closed(doc, sch, body, "%s: response" % where, probs)
    return probs, n


def walk(doc, schema, path):
    s = {"$ref": "#/components/schemas/" + schema}
    for part in path.split("."):
        arr = part.endswith("[]")
        name = part[:-2] if arr else part
        p, _ = props(doc, s)
        if name not in p:
            # through anyOf/oneOf (nullable objects)
            alts = [a for a in deref(doc, s).get("anyOf", []) + deref(doc, s).get("oneOf", [])]
            for a in alts:
                pa, _ = props(doc, a)
                if name in pa:
                    p = pa
                    break
        if name not in p:
            return False
        s = p[name]
        d = deref(doc, s)
        for a in d.get("anyOf", []) + d.get("allOf", []):
            if deref(doc, a).get("type") != "null" and "properties" in deref(doc, a) or "items" in deref(doc, a):
                s = a
                break
        if arr:
            s = deref(doc, s).get("items")
            if s is None:
                return False
    return True


def all_props(doc):
    names = set()

    def visit(node):
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                names.update(node["properties"])
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)
    visit(doc["components"]["schemas"])
    return names


READ_CALL = re.compile(r'(?:rp_rec_(?:str|bool|num|int)|cJSON_GetObjectItemCaseSensitive|'
                       r'cJSON_DetachItemFromObjectCaseSensitive)\([^;]*?"([A-Za-z_]+)"')


def check_reads(doc, top):
    probs = []
    for schema, path in V2_READS:
        if not walk(doc, schema, path):
            probs.append("client reads %s.%s: not defined by the document" % (schema, path))
    known = all_props(doc)
    for f in ("common/runpod.c", "common/wave.c", "common/reap.c", "common/adopt.c"):
        with open("%s/%s" % (top, f)) as fh:
            src = fh.read()
        for name in sorted(set(READ_CALL.findall(src))):
            if name in known or name in NOT_V2 or name in KNOWN_GAPS:
                continue
            probs.append("%s reads field \"%s\": not in the document (nor listed in NOT_V2)" % (f, name))
    return probs


def main(argv):
    if len(argv) >= 3 and argv[0] == "traffic":
        since = 0
        if len(argv) == 5 and argv[3] == "--since":
            since = int(argv[4])
        probs, n = check_traffic(load(argv[1]), argv[2], since)
        for p in probs:
            print(p)
        print("# %d /v2 calls checked, %d problems" % (n, len(probs)))
        return 1 if probs or n == 0 else 0
    if len(argv) == 3 and argv[0] == "reads":
        probs = check_reads(load(argv[1]), argv[2])
        for p in probs:
            print(p)
        print("# %d explicit reads and the sources checked, %d problems" % (len(V2_READS), len(probs)))
        return 1 if probs else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
