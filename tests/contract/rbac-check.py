#!/usr/bin/python3
"""rbac-check.py — is every Kubernetes API call the rp tools made allowed
by the RBAC in deploy/ for the ServiceAccount rp/rp?

    rbac-check.py DEPLOY_DIR REQUESTS.json

REQUESTS.json is the Kubernetes stand-in's request log (GET
/_admin/requests).  The calls checked: those of the C tools (User-Agent
rp/...) and rp-autoscale's Lease calls through kubectl.  Each is mapped to
an RBAC request (verb, API group, resource[/subresource], namespace, name)
as the API server's request-info resolver does, and checked against the
rules of every ClusterRoleBinding and RoleBinding of the ServiceAccount
(a RoleBinding grants only in its namespace; resourceNames never match a
create or a list).  Prints each call denied and exits 1 if there is one;
prints the (verb, resource) pairs used and the rules never used."""
import json
import os
import sys
import urllib.parse

import yaml

SA = ("rp", "rp")


def load(d):
    docs = []
    for f in sorted(os.listdir(d)):
        if f.endswith((".yaml", ".yml")):
            with open(os.path.join(d, f)) as fh:
                docs += [x for x in yaml.safe_load_all(fh) if x]
    return docs


def grants(docs):
    """[(namespace or None for cluster-wide, rule)] for the ServiceAccount."""
    roles = {}
    for o in docs:
        if o["kind"] in ("ClusterRole", "Role"):
            roles[(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])] = o.get("rules") or []
    out = []
    for o in docs:
        if o["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) == SA
                   for s in o.get("subjects") or []):
            continue
        ref = o["roleRef"]
        ns = o["metadata"].get("namespace") if o["kind"] == "RoleBinding" else None
        key = (ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])
        for r in roles.get(key, []):
            out.append((ns, r))
    return out


def request_info(method, path, query):
    """(verb, group, resource, namespace, name) or None (not a resource)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    ns = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        return (verb_of(method, True, query), "", "namespaces", None, rest[1])
    res = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        res += "/" + rest[2]
    return (verb_of(method, name is not None, query), group, res, ns, name)


def verb_of(method, named, query):
    q = urllib.parse.parse_qs(query or "")
    if method == "GET":
        if q.get("watch", [""])[0] in ("true", "1"):
            return "watch"
        return "get" if named else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if named else "deletecollection"}.get(method, method.lower())


def allowed(g, info):
    verb, group, res, ns, name = info
    for scope, r in g:
        if scope is not None and scope != ns:
            continue
        if not ({"*", group} & set(r.get("apiGroups") or [])):
            continue
        if not ({"*", res} & set(r.get("resources") or [])):
            continue
        if not ({"*", verb} & set(r.get("verbs") or [])):
            continue
        rn = r.get("resourceNames")
        if rn and (name is None or verb == "create" or name not in rn):
            continue
        return r
    return None


def main():
    docs = load(sys.argv[1])
    with open(sys.argv[2]) as fh:
        reqs = json.load(fh)
    g = grants(docs)
    bad, used, hit = [], set(), set()
    n = 0
    for q in reqs:
        agent, path = q.get("agent", ""), q.get("path", "")
        lease = "kubectl" in agent and "/leases" in path
        if not (agent.startswith("rp/") or lease) or path.startswith("/_admin"):
            continue
        info = request_info(q["verb"], path, q.get("query", ""))
        if info is None:
            continue
        n += 1
        used.add((info[0], (info[1] + "/" if info[1] else "") + info[2]))
        r = allowed(g, info)
        if r is None:
            bad.append("%s %s%s (%s %s in %s)" % (q["verb"], path, "?" + q["query"] if q.get("query") else "",
                                                 info[0], info[2], info[3] or "the cluster"))
        else:
            hit.add(json.dumps(r, sort_keys=True))
    print("calls checked: %d" % n)
    for v, r in sorted(used):
        print("used: %s %s" % (v, r))
    for _, r in g:
        if json.dumps(r, sort_keys=True) not in hit:
            print("rule not used by these calls: %s" % json.dumps(r, sort_keys=True))
    for b in bad:
        print("DENIED: " + b)
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
