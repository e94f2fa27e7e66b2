#!/usr/bin/python3
"""kube.py — a Kubernetes API server stand-in for the rp test stack.

Python 3 standard library only.  One process, in-memory, thread-safe.

    python3 tests/fakes/kube.py --dir D --port-file F [--ready-delay 1]

Generates a CA and two server certificates with the openssl CLI (EC
P-256), a random admin bearer token, and writes D/kubeconfig (CA data,
server, token), D/ca.crt, D/admin-token and D/ca-hash (kubeadm's sha256:
pin of the CA).  Serves HTTPS on two free loopback ports:
  - the harness's listener (port in F, written once it listens; SAN
    IP:127.0.0.1, DNS:localhost): the rp tools, kubectl, the tests;
  - the node listener (port in D/apiserver-port): the API server as
    kubeadm's nodes see it, at its advertise address 10.0.0.10:6443 (what
    cluster-info names), with kubeadm's apiserver.crt names only (cp-1,
    kubernetes, kubernetes.default, kubernetes.default.svc,
    kubernetes.default.svc.cluster.local, 10.96.0.1, 10.0.0.10; never
    127.0.0.1).  GET /_admin/network says where 10.0.0.10:6443 is here,
    for the stub kubeadm of a pod on the node network; a tunnel's R:
    forward to it is how an isolated pod reaches it.

The initial cluster: cp-1 (control plane, tainted), gpu-base-1 and
gpu-base-2 (gpu-type=local-baseline, nvidia.com/gpu=true, tainted
gpu-type=local-baseline:NoSchedule, 8 GPUs); a DaemonSet pod per node
(kube-system/nvidia-device-plugin-daemonset), the mirror pod
kube-system/kube-apiserver-cp-1, the ReplicaSet transcoder-6d4b9c7f8
(2 pods, one per baseline node) with PDB "transcoder" (minAvailable 1
over app=transcoder), segment-cache-5f8c6d9b7-h2vwd (emptyDir, on
gpu-base-1), the bare pod debug-shell (on gpu-base-2), kube-node-lease
Leases, and kube-public/cluster-info.

Implemented (enough for the real kubectl 1.32 and for rp's C client):
  discovery (/api, /apis, /api/v1, /apis/G/V, /version) in the legacy
  formats, which client-go uses when the aggregated form is not offered;
  a minimal /openapi/v3 (no schemas; every PATCH accepts fieldValidation,
  so kubectl apply leaves validation to the server and builds patches
  from its built-in types; /openapi/v2 is 404); meta.k8s.io/v1 Table
  answers for kubectl get (lists, objects, watch events);
  resourceVersion, uid, creationTimestamp, generation; Status objects for
  errors (401, 404 NotFound, 409 AlreadyExists / Conflict, 422 Invalid,
  429 TooManyRequests, 415); labelSelector (=, ==, !=, in, notin, exists,
  !exists) and fieldSelector (=, !=; unsupported fields → 400) on lists;
  limit/continue; watch=true (chunked JSON events, resourceVersion);
  PATCH strategic-merge (merge keys for containers, volumes, env,
  conditions, ownerReferences...; taints and tolerations replaced as
  lists; $patch, $retainKeys, $deleteFromPrimitiveList), merge-patch and
  json-patch, with metadata.resourceVersion as a precondition (stale →
  409); PUT with optimistic concurrency; Leases and Events may be created
  by PUT; spec/status split for kinds with a status subresource; dryRun.
  Resources: namespaces, nodes (+status), pods (+status, +eviction, +log:
  proxied to the node's kubelet API as the API server's LogLocation does --
  https://InternalIP:daemonEndpoints.kubeletEndpoint.Port/containerLogs/
  NS/POD/CONTAINER, the kubelet's certificate checked against config
  kubelet_ca (default the cluster CA), the kubelet-client certificate
  apiserver-kubelet-client.crt (made on first use, cluster CA) presented),
  secrets (stringData folded into base64 data), configmaps, events
  (empty), poddisruptionbudgets (policy/v1, status computed live from
  the pods), daemonsets / replicasets / deployments (apps/v1), leases
  (coordination.k8s.io/v1); stored only (no controller, for a dry-run
  apply of deploy/): serviceaccounts, services, RBAC's clusterroles,
  clusterrolebindings, roles, rolebindings, KEDA's scaledobjects and
  triggerauthentications (keda.sh/v1alpha1).
  Controllers: a DaemonSet pod per matching node; a ReplicaSet replaces
  pods that are evicted or deleted (admin "recreate"); a scheduler
  (Ready, schedulable, NoSchedule/NoExecute taints tolerated,
  nodeSelector; least-loaded node); a "kubelet" (bound pods run once their
  node is Ready, pods on a NotReady node turn not Ready; a node created by
  POST without status registers NotReady and turns Ready after
  ready_delay); a virtual node (label type=virtual-kubelet) has its own
  kubelet outside: this one leaves its pods alone, a graceful delete of
  one of its pods waits for that kubelet's delete with grace 0, and the
  node lifecycle controller sets its conditions Unknown
  (NodeStatusUnknown) once neither its Lease's renewTime nor its Ready
  heartbeat is newer than node_monitor_grace; the taint manager (NoExecute deletes the pods that do not
  tolerate it); the cordon taint node.kubernetes.io/unschedulable; pod GC
  on node deletion; garbage collection of owned pods; the bootstrap signer
  (jws-kubeconfig-<id> in kube-public/cluster-info, a detached JWS HS256
  keyed by the token secret, for live tokens with usage-bootstrap-signing,
  after signer_delay) and the token cleaner (expired tokens deleted).
  Pod deletion with a grace period: deletionTimestamp, Terminating, gone
  after min(grace, evict_grace) -- but on a NotReady node never, as with a
  dead kubelet that cannot confirm it, until grace 0, the node's deletion
  (pod GC) or the node is Ready again.  Evictions honour PodDisruptionBudgets
  (429 "Cannot evict pod as it would violate the pod's disruption
  budget." with a DisruptionBudget cause; 500 with several PDBs; pods not
  Running are evicted without a budget check).
  kubeadm join (via the stub, which dials, reads cluster-info and checks
  TLS from the pod's network as kubeadm does): validates like kubeadm +
  the kubelet's TLS bootstrap (token format; token discovery: a CA pin
  present, sha256, and matching, no unsafe skip, a live token with a JWS
  in cluster-info; file discovery: a live token from the discovery file;
  usage-bootstrap-authentication; the kubeadm node group;
  kubelet-forbidden kubernetes.io labels; an existing Ready node of that
  name), then registers the Node (labels, taints, GPUs = what nvidia-smi
  listed on the pod) NotReady, Ready after ready_delay.  An existing
  NotReady Node of that name is kept as a kubelet keeps it (taints,
  unschedulable and labels as they were; default labels refreshed) and
  turns Ready after ready_delay.

Not implemented: RBAC (the admin token may do everything; cluster-info
is readable without a token, as in kubeadm clusters), admission, server-
side apply (application/apply-patch+yaml → 415), protobuf bodies (so not
kubectl auth can-i, whose typed client sends protobuf), the aggregated
discovery format, OpenAPI schemas, services/endpoints, logs/exec/
port-forward, resource requests in scheduling, finalizers,
deletecollection, tolerationSeconds, field validation, Deployment
rollouts, heartbeats of the built-in kubelet (its Leases are created, not
renewed), CSRs.

Admin endpoints (same TLS + token), under /_admin:
  GET    /_admin/requests      every API request recorded (JSON list of {ts, verb,
                               path, query, params, content_type, body, accept,
                               agent, code}); filters: ?since=TS&verb=V&path=SUB&agent=SUB
  DELETE /_admin/requests      forget them
  POST   /_admin/kubeadm-join  the stub kubeadm's callback (see kubeadm_join), posted over
                               the connection its TLS bootstrap uses
  GET    /_admin/joins         the joins accepted and refused (+ listener: admin|apiserver,
                               sni: the TLS server name asked for, null for an IP)
  GET    /_admin/network       the node network: {"10.0.0.10:6443": "127.0.0.1:PORT"}
  POST   /_admin/node-status   {"node": N, "ready": true|false|null (Unknown),
                                "since": S, "allocatable": {"nvidia.com/gpu": "2", "x": null}}
                               (since: the Ready condition holds that status since S
                               seconds ago, its lastTransitionTime backdated whether or
                               not the status changed: tests judge a grace with no sleep)
  POST   /_admin/pdb           {"name": N, "namespace": "default", "allow": true|false|null}
                               (false: no disruption allowed; true: at least one; null: computed)
  POST   /_admin/config        {"ready_delay": 1, "evict_grace": 0.2, "signer_delay": 0.2,
                                "recreate": true, "node_monitor_grace": 40}
  GET    /_admin/config
  POST   /_admin/reset         back to the initial cluster (config and request log too)
"""

import argparse
import base64
import copy
import datetime
import hashlib
import heapq
import hmac
import http.client
import http.server
import json
import os
import random
import re
import secrets
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

K8S_VERSION = "v1.32.4"

# resource: (group, version, kind, namespaced, shortNames, has-status)
RES = {
    "namespaces": ("", "v1", "Namespace", False, ["ns"], True),
    "nodes": ("", "v1", "Node", False, ["no"], True),
    "pods": ("", "v1", "Pod", True, ["po"], True),
    "secrets": ("", "v1", "Secret", True, [], False),
    "configmaps": ("", "v1", "ConfigMap", True, ["cm"], False),
    "events": ("", "v1", "Event", True, ["ev"], False),
    "poddisruptionbudgets": ("policy", "v1", "PodDisruptionBudget", True, ["pdb"], True),
    "daemonsets": ("apps", "v1", "DaemonSet", True, ["ds"], True),
    "replicasets": ("apps", "v1", "ReplicaSet", True, ["rs"], True),
    "deployments": ("apps", "v1", "Deployment", True, ["deploy"], True),
    "leases": ("coordination.k8s.io", "v1", "Lease", True, [], False),
    # stored only, for deploy/ (kubectl apply --dry-run=server): no controller
    "serviceaccounts": ("", "v1", "ServiceAccount", True, ["sa"], False),
    "services": ("", "v1", "Service", True, ["svc"], True),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim", True, ["pvc"], True),
    "clusterroles": ("rbac.authorization.k8s.io", "v1", "ClusterRole", False, [], False),
    "clusterrolebindings": ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", False, [], False),
    "roles": ("rbac.authorization.k8s.io", "v1", "Role", True, [], False),
    "rolebindings": ("rbac.authorization.k8s.io", "v1", "RoleBinding", True, [], False),
    "scaledobjects": ("keda.sh", "v1alpha1", "ScaledObject", True, ["so"], True),
    "triggerauthentications": ("keda.sh", "v1alpha1", "TriggerAuthentication", True, ["ta"], False),
}
GROUPS = [("policy", "v1"), ("apps", "v1"), ("coordination.k8s.io", "v1"), ("rbac.authorization.k8s.io", "v1"),
          ("keda.sh", "v1alpha1")]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

FIELDS_COMMON = {"metadata.name", "metadata.namespace"}
FIELDS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
             "status.podIP", "status.nominatedNodeName"},
    "nodes": {"spec.unschedulable"},
    "secrets": {"type"},
    "namespaces": {"status.phase"},
    "events": None,  # anything
}

# strategic merge: list fields merged by key; others are replaced
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "ports": "containerPort",
    "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "ownerReferences": "uid", "conditions": "type",
    "addresses": "type", "hostAliases": "ip", "containerStatuses": "name",
    "initContainerStatuses": "name",
}
PRIMITIVE_MERGE = {"finalizers"}

PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


def now():
    return time.time()


def ts(t=None):
    return datetime.datetime.fromtimestamp(now() if t is None else t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(s):
    try:
        s = s.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        return datetime.datetime.fromisoformat(s).timestamp()
    except (ValueError, AttributeError):
        return None


def human_duration(d):
    s = int(d)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm" % m if s % 60 == 0 else "%dm%ds" % (m, s % 60)
    if m < 180:
        return "%dm" % m
    h = s // 3600
    if h < 8:
        return "%dh" % h if m % 60 == 0 else "%dh%dm" % (h, m % 60)
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd" % (h // 24) if h % 24 == 0 else "%dd%dh" % (h // 24, h % 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    return "%dy" % (h // 24 // 365)


def age(obj):
    t = parse_ts(obj.get("metadata", {}).get("creationTimestamp", ""))
    return "<unknown>" if t is None else human_duration(now() - t)


def rand_suffix(n=5):
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            st["details"] = self.details
        return st


def res_qual(res):
    g = RES[res][0]
    return res if not g else res + "." + g


def not_found(res, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (res_qual(res), name),
                    {"name": name, "group": RES[res][0], "kind": res} if RES[res][0] else {"name": name, "kind": res})


def conflict(res, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again" % (res_qual(res), name),
                    {"name": name, "group": RES[res][0], "kind": res} if RES[res][0] else {"name": name, "kind": res})


def invalid(res, name, field, msg, value=None):
    kind = RES[res][2]
    cause = {"reason": "FieldValueInvalid", "message": "Invalid value: %s: %s" % (json.dumps(value), msg), "field": field}
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s: %s' % (kind, name, field, cause["message"]),
                    {"name": name, "group": RES[res][0], "kind": kind, "causes": [cause]})


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


# ---------------------------------------------------------------- selectors

def split_terms(s):
    out, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        out.append(cur)
    return [t.strip() for t in out if t.strip()]


def parse_label_selector(s):
    terms = []
    for t in split_terms(s or ""):
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", t)
        if m:
            terms.append((m.group(2), m.group(1), {v.strip() for v in m.group(3).split(",") if v.strip()}))
            continue
        m = re.match(r"^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$", t)
        if m:
            op = {"==": "=", "=": "=", "!=": "!="}[m.group(2)]
            terms.append((op, m.group(1), m.group(3)))
            continue
        m = re.match(r"^(!?)\s*([^\s!=()]+)$", t)
        if m:
            terms.append(("!exists" if m.group(1) else "exists", m.group(2), None))
            continue
        raise bad_request("unable to parse requirement: invalid label selector: %r" % t)
    return terms


def label_match(terms, labels):
    labels = labels or {}
    for op, k, v in terms:
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and labels.get(k) == v and k in labels:
            return False
        if op == "in" and labels.get(k) not in v:
            return False
        if op == "notin" and k in labels and labels[k] in v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "!exists" and k in labels:
            return False
    return True


def selector_from_struct(sel):
    """A metav1.LabelSelector as terms; None selects nothing."""
    if sel is None:
        return None
    terms = [("=", k, v) for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}.get(e.get("operator"))
        if op:
            terms.append((op, e.get("key"), set(e.get("values") or []) if op in ("in", "notin") else None))
    return terms


def parse_field_selector(res, s):
    terms = []
    allowed = FIELDS.get(res, set())
    for t in split_terms(s or ""):
        m = re.match(r"^([^\s!=]+)\s*(==|=|!=)\s*(.*)$", t)
        if not m:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (s, t))
        f = m.group(1)
        if allowed is not None and f not in FIELDS_COMMON and f not in allowed:
            raise bad_request('field label not supported: %s' % f)
        terms.append(("!=" if m.group(2) == "!=" else "=", f, m.group(3)))
    return terms


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def field_match(terms, obj):
    for op, f, v in terms:
        got = field_value(obj, f)
        if f == "spec.unschedulable" and got == "":
            got = "false"
        if (got == v) != (op == "="):
            return False
    return True


# ---------------------------------------------------------------- patches

class _Delete:
    pass


DELETE = _Delete()


def strip_directives(v):
    if isinstance(v, dict):
        return {k: strip_directives(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [strip_directives(x) for x in v]
    return v


def strategic_merge(orig, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "delete":
        return DELETE
    if patch.get("$patch") == "replace":
        return strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    out = copy.deepcopy(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(out.get(f), list):
                out[f] = [x for x in out[f] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            r = strategic_merge(out.get(k), v)
            if r is DELETE:
                out.pop(k, None)
            else:
                out[k] = r
        elif isinstance(v, list) and k in MERGE_KEYS and isinstance(out.get(k), list):
            out[k] = merge_list(out[k], v, MERGE_KEYS[k])
        elif isinstance(v, list) and k in PRIMITIVE_MERGE and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        else:
            out[k] = strip_directives(v)
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def merge_list(orig, patch, key):
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [strip_directives(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    out = copy.deepcopy(orig)
    for p in patch:
        if not isinstance(p, dict):
            out.append(p)
            continue
        idx = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == p.get(key)), None)
        if p.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append(strip_directives(p))
        else:
            out[idx] = strategic_merge(out[idx], p)
    return out


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(p):
    if p == "":
        return []
    if not p.startswith("/"):
        raise ValueError("bad JSON pointer %r" % p)
    return [t.replace("~1", "/").replace("~0", "~") for t in p[1:].split("/")]


def _walk(doc, toks):
    cur = doc
    for t in toks:
        if isinstance(cur, list):
            cur = cur[int(t)]
        elif isinstance(cur, dict):
            cur = cur[t]
        else:
            raise KeyError(t)
    return cur


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ValueError("a JSON patch is a list of operations")
    for op in ops:
        o, path = op.get("op"), op.get("path", "")
        toks = _pointer(path)
        if o == "test":
            if _walk(doc, toks) != op.get("value"):
                raise ValueError("testing value %s failed" % path)
            continue
        if o in ("move", "copy"):
            ft = _pointer(op.get("from", ""))
            val = copy.deepcopy(_walk(doc, ft))
            if o == "move":
                par = _walk(doc, ft[:-1])
                if isinstance(par, list):
                    del par[int(ft[-1])]
                else:
                    del par[ft[-1]]
            o, op = "add", {"value": val}
        if not toks:
            if o in ("add", "replace"):
                doc = copy.deepcopy(op.get("value"))
                continue
            raise ValueError("cannot remove the root")
        par = _walk(doc, toks[:-1])
        last = toks[-1]
        if o == "add":
            if isinstance(par, list):
                par.insert(len(par) if last == "-" else int(last), copy.deepcopy(op.get("value")))
            else:
                par[last] = copy.deepcopy(op.get("value"))
        elif o == "replace":
            if isinstance(par, list):
                par[int(last)] = copy.deepcopy(op.get("value"))
            else:
                if last not in par:
                    raise KeyError(last)
                par[last] = copy.deepcopy(op.get("value"))
        elif o == "remove":
            if isinstance(par, list):
                del par[int(last)]
            else:
                del par[last]
        else:
            raise ValueError("unknown op %r" % o)
    return doc


# ---------------------------------------------------------------- JWS / certs

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def detached_jws(content, token_id, token_secret):
    """What the bootstrap signer writes: header..signature, HS256 keyed by the token secret."""
    header = b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    payload = b64url(content.encode())
    sig = hmac.new(token_secret.encode(), (header + "." + payload).encode(), hashlib.sha256).digest()
    return header + ".." + b64url(sig)


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


OPENSSL_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = kubernetes
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
[srv]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default
authorityKeyIdentifier = keyid
[apiserver]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:cp-1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:10.0.0.10
authorityKeyIdentifier = keyid
"""

# The API server as kubeadm's nodes see it: its advertise address (what
# cluster-info names, kubeadm's kube-apiserver.advertise-address.endpoint)
# and the names kubeadm puts in apiserver.crt (certs.GetAPIServerAltNames:
# the node name, kubernetes, kubernetes.default, kubernetes.default.svc,
# kubernetes.default.svc.<dnsDomain>, the service IP, the advertise
# address; never 127.0.0.1 or localhost).
ADVERTISE = "10.0.0.10:6443"
APISERVER_SANS = ["cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                  "kubernetes.default.svc.cluster.local", "10.96.0.1", "10.0.0.10"]


def make_certs(d):
    """CA + two server certificates (EC P-256): server.crt for the harness's
    listener (127.0.0.1), apiserver.crt with kubeadm's names for the node
    listener.  Four openssl runs, three in parallel."""
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    srv_key, srv_crt = os.path.join(d, "server.key"), os.path.join(d, "server.crt")
    api_key, api_crt = os.path.join(d, "apiserver.key"), os.path.join(d, "apiserver.crt")
    cnf = os.path.join(d, "openssl.cnf")
    with open(cnf, "w") as f:
        f.write(OPENSSL_CNF)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    old = os.umask(0o077)
    try:
        run(["openssl", "req", "-config", cnf, "-x509"] + ec +
            ["-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-extensions", "ca"])
        srv = subprocess.Popen(["openssl", "req", "-config", cnf, "-x509"] + ec +
                               ["-keyout", srv_key, "-out", srv_crt, "-subj", "/CN=kube-apiserver",
                                "-CA", ca_crt, "-CAkey", ca_key, "-days", "365", "-extensions", "srv"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        api = subprocess.Popen(["openssl", "req", "-config", cnf, "-x509"] + ec +
                               ["-keyout", api_key, "-out", api_crt, "-subj", "/CN=kube-apiserver",
                                "-CA", ca_crt, "-CAkey", ca_key, "-days", "365", "-extensions", "apiserver"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pub = subprocess.run(["openssl", "pkey", "-in", ca_key, "-pubout"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()
        _, err = srv.communicate()
        if srv.returncode != 0:
            raise subprocess.CalledProcessError(srv.returncode, "openssl req (server)", stderr=err)
        _, err = api.communicate()
        if api.returncode != 0:
            raise subprocess.CalledProcessError(api.returncode, "openssl req (apiserver)", stderr=err)
    finally:
        os.umask(old)
        os.unlink(cnf)
    os.chmod(ca_crt, 0o644)
    # a PEM "PUBLIC KEY" is the DER SubjectPublicKeyInfo in base64: kubeadm's pin is its SHA-256
    der = base64.b64decode("".join(ln for ln in pub.splitlines() if not ln.startswith("-----")))
    return ca_crt, srv_crt, srv_key, api_crt, api_key, "sha256:" + hashlib.sha256(der).hexdigest()


_kubelet_client_lock = threading.Lock()


def kubelet_client_cert(d):
    """The API server's kubelet-client certificate (--kubelet-client-certificate):
    made once, on first use, signed by the cluster CA, CN
    kube-apiserver-kubelet-client, O system:masters, clientAuth."""
    crt, key = os.path.join(d, "apiserver-kubelet-client.crt"), os.path.join(d, "apiserver-kubelet-client.key")
    with _kubelet_client_lock:
        if not os.path.exists(crt):
            old = os.umask(0o077)
            try:
                run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key, "-out", crt + ".tmp", "-days", "365",
                     "-subj", "/O=system:masters/CN=kube-apiserver-kubelet-client",
                     "-CA", os.path.join(d, "ca.crt"), "-CAkey", os.path.join(d, "ca.key"),
                     "-addext", "basicConstraints=critical,CA:FALSE",
                     "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                     "-addext", "extendedKeyUsage=clientAuth"])
                os.rename(crt + ".tmp", crt)
            finally:
                os.umask(old)
    return crt, key


# ---------------------------------------------------------------- the store

class Cluster:
    def __init__(self, server_url, ca_pem, ca_hash, ready_delay):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.server_url, self.ca_pem, self.ca_hash = server_url, ca_pem, ca_hash
        self.node_net = {}
        self.defaults = {"ready_delay": ready_delay, "evict_grace": 0.2, "signer_delay": 0.2,
                         "recreate": True, "node_monitor_grace": 40.0,
                         "kubelet_ca": ""}  # --kubelet-certificate-authority ("": the cluster CA)
        self.timers = []  # heap of (when, seq, generation, fn)
        self.seq = 0
        self.gen = 0
        threading.Thread(target=self._timer_loop, daemon=True).start()
        self.reset()

    # -- timers (the controllers' clock)
    def after(self, delay, fn):
        with self.lock:
            self.seq += 1
            heapq.heappush(self.timers, (now() + delay, self.seq, self.gen, fn))
            self.cond.notify_all()

    def _timer_loop(self):
        while True:
            with self.lock:
                while not self.timers or self.timers[0][0] > now():
                    self.cond.wait(None if not self.timers else max(0.01, self.timers[0][0] - now()))
                _, _, gen, fn = heapq.heappop(self.timers)
                if gen != self.gen:
                    continue
                try:
                    fn()
                    self.reconcile()
                except Exception:
                    traceback.print_exc()

    # -- state
    def reset(self):
        with self.lock:
            self.gen = getattr(self, "gen", 0) + 1
            self.timers = []
            self.cfg = dict(self.defaults)
            self.rv = 1000
            self.objs = {r: {} for r in RES}
            self.events = []  # (rv, type, res, obj)
            self.requests = []
            self.joins = []
            self.pdb_override = {}
            self.signed = {}  # token-id -> secret the signer last used
            seed(self)
            self.reconcile()
            self.cond.notify_all()

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _emit(self, typ, res, obj):
        self.events.append((int(obj["metadata"]["resourceVersion"]), typ, res, copy.deepcopy(obj)))
        if len(self.events) > 5000:
            del self.events[:1000]
        self.cond.notify_all()

    def get(self, res, ns, name):
        return self.objs[res].get((ns or "", name))

    def put(self, res, obj, typ=None):
        """Store obj (already validated), bump its resourceVersion, emit a watch event."""
        md = obj["metadata"]
        key = (md.get("namespace", "") if RES[res][3] else "", md["name"])
        if typ is None:
            typ = "MODIFIED" if key in self.objs[res] else "ADDED"
        md["resourceVersion"] = self.next_rv()
        self.objs[res][key] = obj
        self._emit(typ, res, obj)
        return obj

    def remove(self, res, obj):
        md = obj["metadata"]
        key = (md.get("namespace", "") if RES[res][3] else "", md["name"])
        if self.objs[res].pop(key, None) is None:
            return
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self._emit("DELETED", res, obj)
        self.on_removed(res, obj)

    def new_meta(self, md, ns=None):
        md = dict(md or {})
        if ns is not None:
            md["namespace"] = ns
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = ts()
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(k, None)
        return md

    def create(self, res, obj, ns=None):
        """Create from a client's object; raises ApiError."""
        group, version, kind = RES[res][:3]
        obj = copy.deepcopy(obj)
        md = obj.get("metadata") or {}
        if not md.get("name") and md.get("generateName"):
            for _ in range(20):
                cand = md["generateName"] + rand_suffix()
                if self.get(res, ns, cand) is None:
                    md["name"] = cand
                    break
        name = md.get("name")
        if not name:
            raise invalid(res, "", "metadata.name", "name or generateName is required", "")
        if not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", name):
            raise invalid(res, name, "metadata.name",
                          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric character", name)
        if RES[res][3]:
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            if self.get("namespaces", None, ns) is None:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns, {"name": ns, "kind": "namespaces"})
        if self.get(res, ns if RES[res][3] else None, name) is not None:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res_qual(res), name),
                           {"name": name, "group": group, "kind": res} if group else {"name": name, "kind": res})
        obj["apiVersion"] = group + "/" + version if group else version
        obj["kind"] = kind
        obj["metadata"] = self.new_meta(md, ns if RES[res][3] else None)
        if res in ("pods", "daemonsets", "replicasets", "deployments", "poddisruptionbudgets", "nodes"):
            obj["metadata"]["generation"] = 1
        self.prepare_create(res, obj)
        return obj

    def prepare_create(self, res, obj):
        name = obj["metadata"]["name"]
        if res == "pods":
            spec = obj.setdefault("spec", {})
            cs = spec.get("containers")
            if not cs:
                raise invalid(res, name, "spec.containers", "Required value", None)
            for i, c in enumerate(cs):
                if not c.get("name"):
                    raise invalid(res, name, "spec.containers[%d].name" % i, "Required value", "")
                if not c.get("image"):
                    raise invalid(res, name, "spec.containers[%d].image" % i, "Required value", "")
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            tol = spec.setdefault("tolerations", [])
            for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
                if not any(t.get("key") == k for t in tol):
                    tol.append({"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif res == "secrets":
            sd = obj.pop("stringData", None) or {}
            data = obj.setdefault("data", {}) if (obj.get("data") or sd) else obj.get("data")
            for k, v in sd.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj.setdefault("type", "Opaque")
        elif res == "nodes":
            spec = obj.setdefault("spec", {})
            st = obj.setdefault("status", {})
            if not st.get("conditions"):
                # a kubelet that just registered: NotReady, Ready after the delay
                for k, v in node_status(name, [], gpus=0, ready=False).items():
                    st.setdefault(k, v)
                st["conditions"] = node_status(name, [], gpus=0, ready=False)["conditions"]
                self.after(self.cfg["ready_delay"], lambda n=name, u=obj["metadata"]["uid"]: _ready_if(self, n, u))
            lb = obj["metadata"].setdefault("labels", {})
            lb.setdefault("kubernetes.io/hostname", name)
            spec.setdefault("podCIDR", "10.244.%d.0/24" % random.randint(10, 250))
        elif res == "namespaces":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        elif res == "poddisruptionbudgets":
            obj["status"] = {}
        elif res in ("daemonsets", "replicasets", "deployments"):
            obj["status"] = {"observedGeneration": 1}

    def on_removed(self, res, obj):
        """Garbage collection and controller side effects of a deletion."""
        md = obj["metadata"]
        if res == "nodes":
            for p in list(self.objs["pods"].values()):
                if p["spec"].get("nodeName") == md["name"]:
                    self.remove("pods", p)
        elif res in ("daemonsets", "replicasets", "deployments"):
            for p in list(self.objs["pods"].values()):
                if any(o.get("uid") == md["uid"] for o in p["metadata"].get("ownerReferences", [])):
                    self.remove("pods", p)
            for r in list(self.objs["replicasets"].values()):
                if any(o.get("uid") == md["uid"] for o in r["metadata"].get("ownerReferences", [])):
                    self.remove("replicasets", r)
        elif res == "namespaces":
            for r in RES:
                if RES[r][3]:
                    for o in list(self.objs[r].values()):
                        if o["metadata"].get("namespace") == md["name"]:
                            self.remove(r, o)
        elif res == "secrets":
            self.signer_soon()

    # -- admission
    def admit_create(self, res, ns, name):
        """NamespaceLifecycle: nothing new in a namespace being terminated
        (an eviction is a create of pods/eviction).  The cause travels in
        details.causes[].reason, as metav1.StatusCause's Type is spelled in JSON."""
        n = self.get("namespaces", None, ns) if ns else None
        if n is not None and n["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", '%s "%s" is forbidden: unable to create new content in namespace %s '
                           'because it is being terminated' % (res_qual(res), name, ns),
                           {"name": name, "kind": res, "causes": [
                               {"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns,
                                "field": "metadata.namespace"}]})

    # -- controllers
    def namespace_controller(self):
        """A terminating namespace: its pods deleted gracefully, everything
        else at once; the namespace goes when no pod is left."""
        for n in list(self.objs["namespaces"].values()):
            if not n["metadata"].get("deletionTimestamp"):
                continue
            ns = n["metadata"]["name"]
            left = 0
            for r in RES:
                if not RES[r][3]:
                    continue
                for o in list(self.objs[r].values()):
                    if o["metadata"].get("namespace") != ns:
                        continue
                    if r == "pods":
                        left += 1
                        if not o["metadata"].get("deletionTimestamp"):
                            self.delete_pod(o, None)
                    else:
                        # gone without cascading: its pods go their own graceful way
                        self.objs[r].pop((ns, o["metadata"]["name"]), None)
                        o = copy.deepcopy(o)
                        o["metadata"]["resourceVersion"] = self.next_rv()
                        self._emit("DELETED", r, o)
            if not left:
                self.remove("namespaces", n)

    def set_node_ready(self, name, ready, since=None):
        n = self.get("nodes", None, name)
        if n is None:
            return
        old, n = n, copy.deepcopy(n)
        for c in n["status"].get("conditions", []):
            if c.get("type") == "Ready":
                want = "True" if ready else "Unknown" if ready is None else "False"
                if c.get("status") != want:
                    c["status"] = want
                    c["lastTransitionTime"] = ts()
                if since is not None:
                    c["lastTransitionTime"] = ts(now() - since)
                c["lastHeartbeatTime"] = ts()
                c["reason"] = "KubeletReady" if ready else "KubeletNotReady"
                c["message"] = "kubelet is posting ready status" if ready else \
                    "container runtime network not ready: NetworkReady=false"
        g = n["metadata"].get("annotations", {}).get("rp.fake/gpus", "0")
        if ready and g not in ("", "0"):
            # the device plugin registers the GPUs once the kubelet runs
            n["status"].setdefault("capacity", {})["nvidia.com/gpu"] = g
            n["status"].setdefault("allocatable", {})["nvidia.com/gpu"] = g
        if n != old:
            self.put("nodes", n)

    def node_ready(self, n):
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (n.get("status") or {}).get("conditions", []))

    def reconcile(self):
        """One pass of the controllers; changes only what needs changing."""
        for n in list(self.objs["nodes"].values()):
            taints = n.get("spec", {}).get("taints") or []
            has = any(t.get("key") == "node.kubernetes.io/unschedulable" for t in taints)
            if bool(n["spec"].get("unschedulable")) != has:
                n = copy.deepcopy(n)
                if has:
                    n["spec"]["taints"] = [t for t in taints if t.get("key") != "node.kubernetes.io/unschedulable"]
                    if not n["spec"]["taints"]:
                        del n["spec"]["taints"]
                else:
                    n["spec"]["taints"] = taints + [{"key": "node.kubernetes.io/unschedulable",
                                                     "effect": "NoSchedule", "timeAdded": ts()}]
                self.put("nodes", n)
        self.node_leases()
        self.namespace_controller()
        self.daemonset_controller()
        self.deployment_controller()
        self.replicaset_controller()
        self.scheduler()
        self.kubelet()
        self.taint_manager()

    def taint_manager(self):
        """Pods that do not tolerate a NoExecute taint of their node are deleted (tolerationSeconds ignored)."""
        for p in list(self.objs["pods"].values()):
            node = p["spec"].get("nodeName")
            if not node or p["metadata"].get("deletionTimestamp") or p["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            n = self.get("nodes", None, node)
            if n is None:
                continue
            hard = {"spec": {"taints": [t for t in n["spec"].get("taints") or [] if t.get("effect") == "NoExecute"]}}
            if hard["spec"]["taints"] and not tolerates(p["spec"].get("tolerations") or [], hard):
                self.delete_pod(p, None)

    def node_leases(self):
        """The kubelet's heartbeat Lease in kube-node-lease, one per node (created once, not renewed)."""
        for n in self.objs["nodes"].values():
            name = n["metadata"]["name"]
            if self.get("leases", "kube-node-lease", name) is None:
                lease = self.create("leases", {"metadata": {"name": name, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": n["metadata"]["uid"]}]},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                             "renewTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
                    "kube-node-lease")
                self.put("leases", lease, "ADDED")
        for lease in list(self.objs["leases"].values()):
            if lease["metadata"].get("namespace") == "kube-node-lease" and \
                    self.get("nodes", None, lease["metadata"]["name"]) is None:
                self.remove("leases", lease)

    def daemonset_controller(self):
        for ds in list(self.objs["daemonsets"].values()):
            tmpl = ds["spec"].get("template", {})
            tspec = tmpl.get("spec", {})
            sel = (tspec.get("nodeSelector") or {})
            want = []
            for n in self.objs["nodes"].values():
                if not label_match([("=", k, v) for k, v in sel.items()], n["metadata"].get("labels")):
                    continue
                tols = (tspec.get("tolerations") or []) + [{"key": "node.kubernetes.io/unschedulable",
                                                            "operator": "Exists", "effect": "NoSchedule"}]
                if not tolerates(tols, n):
                    continue
                want.append(n["metadata"]["name"])
            have = {}
            for p in self.objs["pods"].values():
                if owner_uid(p) == ds["metadata"]["uid"]:
                    have.setdefault(p["spec"].get("nodeName"), p)
            for node in want:
                if node not in have:
                    self.put("pods", self.pod_from_template(ds, node))
            for node, p in have.items():
                if node not in want and not p["metadata"].get("deletionTimestamp"):
                    self.remove("pods", p)
            n = len(want)
            ready = sum(1 for p in self.objs["pods"].values() if owner_uid(p) == ds["metadata"]["uid"] and pod_ready(p))
            st = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
                  "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": n,
                  "observedGeneration": ds["metadata"].get("generation", 1)}
            if ds.get("status") != st:
                ds = copy.deepcopy(ds)
                ds["status"] = st
                self.put("daemonsets", ds)

    def replicaset_controller(self):
        for rs in list(self.objs["replicasets"].values()):
            uid = rs["metadata"]["uid"]
            live = [p for p in self.objs["pods"].values()
                    if owner_uid(p) == uid and not p["metadata"].get("deletionTimestamp")]
            want = int(rs["spec"].get("replicas", 1))
            if self.cfg["recreate"]:
                for _ in range(want - len(live)):
                    p = self.pod_from_template(rs, None)
                    self.put("pods", p)
                    live.append(p)
            # scaled down: the newest pods go first, each deleted gracefully
            for p in sorted(live, key=lambda q: (q["metadata"]["creationTimestamp"], q["metadata"]["name"]),
                            reverse=True)[:max(0, len(live) - want)]:
                self.delete_pod(p, None)
                live.remove(p)
            ready = sum(1 for p in live if pod_ready(p))
            st = {"replicas": len(live), "fullyLabeledReplicas": len(live), "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
            if rs.get("status") != st:
                rs = copy.deepcopy(rs)
                rs["status"] = st
                self.put("replicasets", rs)

    def deployment_controller(self):
        """A Deployment keeps one ReplicaSet of its template with its replicas
        (no rollouts: a changed template is not rolled out)."""
        for d in list(self.objs["deployments"].values()):
            md = d["metadata"]
            if md.get("deletionTimestamp"):
                continue
            want = int(d["spec"].get("replicas", 1))
            rs = next((r for r in self.objs["replicasets"].values() if owner_uid(r) == md["uid"]), None)
            if rs is None:
                tmpl = copy.deepcopy(d["spec"].get("template") or {})
                h = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:9]
                tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
                sel = copy.deepcopy(d["spec"].get("selector") or {})
                sel.setdefault("matchLabels", {})["pod-template-hash"] = h
                rs = self.create("replicasets", {
                    "metadata": {"name": md["name"] + "-" + h, "labels": dict(tmpl["metadata"]["labels"]),
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                      "name": md["name"], "uid": md["uid"], "controller": True,
                                                      "blockOwnerDeletion": True}]},
                    "spec": {"replicas": want, "selector": sel, "template": tmpl}}, md["namespace"])
                self.put("replicasets", rs, "ADDED")
            elif int(rs["spec"].get("replicas", 1)) != want:
                rs = copy.deepcopy(rs)
                rs["spec"]["replicas"] = want
                self.put("replicasets", rs)
            rst = rs.get("status") or {}
            st = {"observedGeneration": md.get("generation", 1), "replicas": rst.get("replicas", 0),
                  "updatedReplicas": rst.get("replicas", 0), "readyReplicas": rst.get("readyReplicas", 0),
                  "availableReplicas": rst.get("availableReplicas", 0)}
            if d.get("status") != st:
                d = copy.deepcopy(d)
                d["status"] = st
                self.put("deployments", d)

    def scale_of(self, o):
        """The autoscaling/v1 Scale of a Deployment or ReplicaSet."""
        md = o["metadata"]
        sel = ",".join("%s=%s" % kv for kv in sorted(((o["spec"].get("selector") or {}).get("matchLabels") or {}).items()))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in md},
                "spec": {"replicas": int(o["spec"].get("replicas", 1))},
                "status": {"replicas": (o.get("status") or {}).get("replicas", 0), "selector": sel}}

    def pod_from_template(self, owner, node):
        tmpl = copy.deepcopy(owner["spec"].get("template") or {})
        md = tmpl.get("metadata") or {}
        kind = owner["kind"]
        md["name"] = owner["metadata"]["name"] + "-" + rand_suffix()
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True,
                                  "blockOwnerDeletion": True}]
        spec = tmpl.get("spec") or {}
        if node:
            spec["nodeName"] = node
            tol = spec.setdefault("tolerations", [])
            for k, eff in (("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                           ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                           ("node.kubernetes.io/unschedulable", "NoSchedule")):
                tol.append({"key": k, "operator": "Exists", "effect": eff})
        p = self.create("pods", {"metadata": md, "spec": spec}, owner["metadata"]["namespace"])
        return p

    def scheduler(self):
        for p in list(self.objs["pods"].values()):
            if p["spec"].get("nodeName") or p["metadata"].get("deletionTimestamp"):
                continue
            if p["status"].get("phase") != "Pending":
                continue
            cands = []
            for n in self.objs["nodes"].values():
                if not self.node_ready(n) or n["spec"].get("unschedulable"):
                    continue
                if not label_match([("=", k, v) for k, v in (p["spec"].get("nodeSelector") or {}).items()],
                                   n["metadata"].get("labels")):
                    continue
                if not tolerates(p["spec"].get("tolerations") or [], n):
                    continue
                load = sum(1 for q in self.objs["pods"].values() if q["spec"].get("nodeName") == n["metadata"]["name"])
                cands.append((load, n["metadata"]["name"]))
            p = copy.deepcopy(p)
            if cands:
                p["spec"]["nodeName"] = min(cands)[1]
                p["status"]["conditions"] = [{"type": "PodScheduled", "status": "True",
                                              "lastTransitionTime": ts()}]
                self.put("pods", p)
            else:
                cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/%d nodes are available: no node fits the pod." % len(self.objs["nodes"])}
                old = [c for c in p["status"].get("conditions", []) if c.get("type") == "PodScheduled"]
                if not old or old[0].get("reason") != "Unschedulable":
                    cond["lastTransitionTime"] = ts()
                    p["status"]["conditions"] = [cond]
                    self.put("pods", p)

    def kubelet(self):
        for p in list(self.objs["pods"].values()):
            node = p["spec"].get("nodeName")
            if not node or p["metadata"].get("deletionTimestamp"):
                continue
            n = self.get("nodes", None, node)
            if n is None or is_virtual(n):
                continue
            phase = p["status"].get("phase")
            if phase in ("Succeeded", "Failed"):
                continue
            rdy = self.node_ready(n)
            if phase == "Pending" and rdy:
                p = copy.deepcopy(p)
                run_pod(p, n)
                self.put("pods", p)
            elif phase == "Running" and pod_ready(p) != rdy:
                p = copy.deepcopy(p)
                set_pod_ready(p, rdy)
                self.put("pods", p)

    def node_lifecycle(self):
        """kube-controller-manager's node monitor, for virtual nodes (the only
        ones whose kubelet heartbeats here): no Lease renewal and no status
        heartbeat for node_monitor_grace -> every condition Unknown."""
        grace = float(self.cfg.get("node_monitor_grace", 40))
        for n in list(self.objs["nodes"].values()):
            if not is_virtual(n):
                continue
            last = parse_ts(n["metadata"].get("creationTimestamp")) or 0
            lease = self.get("leases", "kube-node-lease", n["metadata"]["name"])
            if lease is not None:
                last = max(last, parse_ts((lease.get("spec") or {}).get("renewTime")) or 0)
            for c in (n.get("status") or {}).get("conditions", []):
                if c.get("type") == "Ready":
                    last = max(last, parse_ts(c.get("lastHeartbeatTime")) or 0)
            if now() - last <= grace:
                continue
            new = copy.deepcopy(n)
            for c in new["status"].get("conditions", []):
                if c.get("status") != "Unknown":
                    c["status"] = "Unknown"
                    c["reason"] = "NodeStatusUnknown"
                    c["message"] = "Kubelet stopped posting node status."
                    c["lastTransitionTime"] = ts()
            if new != n:
                self.put("nodes", new)

    # -- bootstrap signer and token cleaner
    def signer_soon(self):
        self.after(self.cfg["signer_delay"], self.sign_cluster_info)

    def live_tokens(self):
        out = {}
        for s in self.objs["secrets"].values():
            if s["metadata"].get("namespace") != "kube-system" or s.get("type") != "bootstrap.kubernetes.io/token":
                continue
            d = decode_data(s)
            tid, tsec = d.get("token-id", ""), d.get("token-secret", "")
            if s["metadata"]["name"] != "bootstrap-token-" + tid:
                continue
            if not re.match(r"^[a-z0-9]{6}$", tid) or not re.match(r"^[a-z0-9]{16}$", tsec):
                continue
            if "expiration" in d:
                exp = parse_ts(d["expiration"])
                if exp is None or exp <= now():
                    continue
            out[tid] = (tsec, d)
        return out

    def sign_cluster_info(self):
        cm = self.get("configmaps", "kube-public", "cluster-info")
        if cm is None:
            return
        data = cm.get("data") or {}
        content = data.get("kubeconfig", "")
        want = {}
        for tid, (tsec, d) in self.live_tokens().items():
            if d.get("usage-bootstrap-signing") == "true":
                want["jws-kubeconfig-" + tid] = detached_jws(content, tid, tsec)
        have = {k: v for k, v in data.items() if k.startswith("jws-kubeconfig-")}
        if have != want:
            cm = copy.deepcopy(cm)
            cm["data"] = {k: v for k, v in data.items() if not k.startswith("jws-kubeconfig-")}
            cm["data"].update(want)
            self.put("configmaps", cm)

    def token_cleaner(self):
        for s in list(self.objs["secrets"].values()):
            if s["metadata"].get("namespace") != "kube-system" or s.get("type") != "bootstrap.kubernetes.io/token":
                continue
            d = decode_data(s)
            if "expiration" in d:
                exp = parse_ts(d["expiration"])
                if exp is not None and exp <= now():
                    self.remove("secrets", s)
        self.sign_cluster_info()

    # -- PDBs
    def pdb_status(self, pdb):
        ns = pdb["metadata"]["namespace"]
        terms = selector_from_struct(pdb["spec"].get("selector"))
        pods = [p for p in self.objs["pods"].values()
                if p["metadata"].get("namespace") == ns and terms is not None and terms != []
                and label_match(terms, p["metadata"].get("labels"))
                and p["status"].get("phase") not in ("Succeeded", "Failed")]
        expected = len(pods)
        healthy = sum(1 for p in pods if pod_ready(p) and not p["metadata"].get("deletionTimestamp"))

        def intstr(v, total, round_up):
            if isinstance(v, str) and v.endswith("%"):
                x = int(v[:-1]) * total / 100.0
                return int(-(-x // 1)) if round_up else int(x)
            return int(v)
        spec = pdb["spec"]
        if "minAvailable" in spec:
            desired = intstr(spec["minAvailable"], expected, True)
        elif "maxUnavailable" in spec:
            desired = max(0, expected - intstr(spec["maxUnavailable"], expected, True))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        ov = self.pdb_override.get((ns, pdb["metadata"]["name"]))
        if ov is False:
            allowed = 0
        elif ov is True:
            allowed = max(1, allowed)
        return {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
                "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                "conditions": [{"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
                                "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                                "message": "", "observedGeneration": pdb["metadata"].get("generation", 1),
                                "lastTransitionTime": pdb["metadata"]["creationTimestamp"]}]}

    def view(self, res, obj):
        """The object as served (live-computed status)."""
        if res == "poddisruptionbudgets":
            obj = copy.deepcopy(obj)
            obj["status"] = self.pdb_status(obj)
        return obj

    def evict(self, ns, name, body, dry=False):
        p = self.get("pods", ns, name)
        if p is None:
            raise not_found("pods", name)
        if p["metadata"].get("deletionTimestamp"):
            return
        if p["status"].get("phase") not in ("Succeeded", "Failed", "Pending"):
            pdbs = [b for b in self.objs["poddisruptionbudgets"].values()
                    if b["metadata"]["namespace"] == ns
                    and selector_from_struct(b["spec"].get("selector"))
                    and label_match(selector_from_struct(b["spec"].get("selector")), p["metadata"].get("labels"))]
            if len(pdbs) > 1:
                raise ApiError(500, "InternalError",
                               "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
            if pdbs:
                st = self.pdb_status(pdbs[0])
                if st["disruptionsAllowed"] <= 0:
                    raise ApiError(429, "TooManyRequests", PDB_MESSAGE,
                                   {"causes": [{"reason": "DisruptionBudget",
                                                "message": "The disruption budget %s needs %d healthy pods and has %d currently"
                                                % (pdbs[0]["metadata"]["name"], st["desiredHealthy"], st["currentHealthy"])}]})
        grace = ((body or {}).get("deleteOptions") or {}).get("gracePeriodSeconds")
        if not dry:
            self.delete_pod(p, grace)

    def delete_pod(self, p, grace):
        if grace is None:
            grace = p["spec"].get("terminationGracePeriodSeconds", 30)
        if int(grace) <= 0 or p["status"].get("phase") == "Pending" and not p["spec"].get("nodeName"):
            self.remove("pods", p)
            return None
        p = copy.deepcopy(p)
        if not p["metadata"].get("deletionTimestamp"):
            p["metadata"]["deletionTimestamp"] = ts(now() + int(grace))
            p["metadata"]["deletionGracePeriodSeconds"] = int(grace)
            vn = self.get("nodes", None, p["spec"].get("nodeName") or "")
            if vn is not None and is_virtual(vn):
                # its kubelet stops the containers, then deletes with grace 0
                self.put("pods", p)
                return p
            set_pod_ready(p, False)
            self.put("pods", p)
            uid = p["metadata"]["uid"]
            ns, name = p["metadata"]["namespace"], p["metadata"]["name"]

            def gone():
                q = self.get("pods", ns, name)
                if q is None or q["metadata"]["uid"] != uid:
                    return
                n = self.get("nodes", None, q["spec"].get("nodeName") or "")
                if n is not None and not self.node_ready(n):
                    # no kubelet confirms: Terminating until force-deleted,
                    # the node is deleted (pod GC), or it is Ready again
                    self.after(0.5, gone)
                    return
                self.remove("pods", q)
            self.after(min(float(grace), self.cfg["evict_grace"]), gone)
        return p


def is_virtual(n):
    return ((n.get("metadata") or {}).get("labels") or {}).get("type") == "virtual-kubelet"


def owner_uid(p):
    for o in p["metadata"].get("ownerReferences") or []:
        if o.get("controller"):
            return o.get("uid")
    return None


def decode_data(s):
    out = {}
    for k, v in (s.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(v).decode()
        except Exception:
            out[k] = ""
    return out


def tolerates(tols, node):
    for t in node.get("spec", {}).get("taints") or []:
        if t.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for tol in tols:
            if tol.get("effect") and tol["effect"] != t.get("effect"):
                continue
            if tol.get("operator") == "Exists":
                if not tol.get("key") or tol["key"] == t.get("key"):
                    ok = True
            elif tol.get("key") == t.get("key") and tol.get("value", "") == t.get("value", ""):
                ok = True
        if not ok:
            return False
    return True


def pod_ready(p):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (p.get("status") or {}).get("conditions", []))


def set_pod_ready(p, ready):
    s = "True" if ready else "False"
    for c in p["status"].get("conditions", []):
        if c["type"] in ("Ready", "ContainersReady") and c["status"] != s:
            c["status"] = s
            c["lastTransitionTime"] = ts()
    for cs in p["status"].get("containerStatuses", []):
        cs["ready"] = ready


_ip_seq = [10]


def run_pod(p, n, started=None):
    t = ts(started)
    _ip_seq[0] = _ip_seq[0] % 250 + 1
    host_ip = next((a["address"] for a in n["status"].get("addresses", []) if a.get("type") == "InternalIP"), "10.0.0.1")
    host_net = p["spec"].get("hostNetwork")
    ip = host_ip if host_net else "10.244.%d.%d" % (abs(hash(n["metadata"]["name"])) % 200 + 1, _ip_seq[0])
    p["status"] = {
        "phase": "Running", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": t, "qosClass": p["status"].get("qosClass", "BestEffort"),
        "conditions": [{"type": k, "status": "True", "lastTransitionTime": t} for k in
                       ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
        "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "", "ready": True,
                               "restartCount": 0, "started": True, "containerID": "containerd://" + secrets.token_hex(32),
                               "state": {"running": {"startedAt": t}}} for c in p["spec"]["containers"]],
    }


def node_status(name, labels, gpus, ready, ip=None):
    ip = ip or "10.0.0.%d" % random.randint(20, 250)
    cap = {"cpu": "32", "memory": "263921512Ki", "pods": "110", "ephemeral-storage": "960186400Ki",
           "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    if gpus:
        cap["nvidia.com/gpu"] = str(gpus)
    alloc = dict(cap, cpu="31800m", memory="263307112Ki")
    t = ts()
    conds = []
    for typ, reason, msg in (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                             ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                             ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available")):
        conds.append({"type": typ, "status": "False", "reason": reason, "message": msg,
                      "lastHeartbeatTime": t, "lastTransitionTime": t})
    conds.append({"type": "Ready", "status": "True" if ready else "False",
                  "reason": "KubeletReady" if ready else "KubeletNotReady",
                  "message": "kubelet is posting ready status" if ready else
                  "container runtime network not ready: NetworkReady=false",
                  "lastHeartbeatTime": t, "lastTransitionTime": t})
    return {"capacity": cap, "allocatable": alloc, "conditions": conds,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": secrets.token_hex(16), "systemUUID": str(uuid.uuid4()),
                         "bootID": str(uuid.uuid4()), "kernelVersion": "6.1.0-27-amd64",
                         "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.24",
                         "kubeletVersion": K8S_VERSION, "kubeProxyVersion": K8S_VERSION,
                         "operatingSystem": "linux", "architecture": "amd64"}}


# ---------------------------------------------------------------- the seed

def seed(c):
    """The believable initial cluster."""
    born = now() - 30 * 86400

    def mk(res, obj, ns=None, when=born):
        o = c.create(res, obj, ns)
        o["metadata"]["creationTimestamp"] = ts(when)
        return c.put(res, o, "ADDED")

    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        mk("namespaces", {"metadata": {"name": ns}})
    base_labels = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                   "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
    nodes = [("cp-1", "10.0.0.10", {"node-role.kubernetes.io/control-plane": "",
                                    "node.kubernetes.io/exclude-from-external-load-balancers": ""},
              [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}], 0),
             ("gpu-base-1", "10.0.0.11", {"gpu-type": "local-baseline", "nvidia.com/gpu": "true"},
              [{"key": "gpu-type", "value": "local-baseline", "effect": "NoSchedule"}], 8),
             ("gpu-base-2", "10.0.0.12", {"gpu-type": "local-baseline", "nvidia.com/gpu": "true"},
              [{"key": "gpu-type", "value": "local-baseline", "effect": "NoSchedule"}], 8)]
    for name, ip, labels, taints, gpus in nodes:
        lb = dict(base_labels, **labels)
        lb["kubernetes.io/hostname"] = name
        mk("nodes", {"metadata": {"name": name, "labels": lb, "annotations": {
            "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
            "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"taints": taints, "podCIDR": "10.244.%s.0/24" % ip.split(".")[-1]},
            "status": node_status(name, lb, gpus, True, ip)})

    # the device plugin DaemonSet (every node; it tolerates everything)
    mk("daemonsets", {"metadata": {"name": "nvidia-device-plugin-daemonset", "labels": {"app": "nvidia-device-plugin"}},
                      "spec": {"selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}},
                               "template": {"metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
                                            "spec": {"priorityClassName": "system-node-critical",
                                                     "tolerations": [{"operator": "Exists"}],
                                                     "containers": [{"name": "nvidia-device-plugin-ctr",
                                                                     "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}]}}}},
       "kube-system")
    # the transcoder: ReplicaSet of 2, one per baseline node, a PDB minAvailable 1
    tmpl = {"metadata": {"labels": {"app": "transcoder", "pod-template-hash": "6d4b9c7f8"}},
            "spec": {"tolerations": [{"key": "gpu-type", "operator": "Equal", "value": "local-baseline",
                                      "effect": "NoSchedule"}],
                     "nodeSelector": {"nvidia.com/gpu": "true"},
                     "containers": [{"name": "transcoder", "image": "registry.example.com/ome-transcoder:2.4.1",
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    rs = mk("replicasets", {"metadata": {"name": "transcoder-6d4b9c7f8",
                                         "labels": {"app": "transcoder", "pod-template-hash": "6d4b9c7f8"}},
                            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "transcoder",
                                                                                 "pod-template-hash": "6d4b9c7f8"}},
                                     "template": tmpl}}, "default")
    for suffix, node in (("x7k2p", "gpu-base-1"), ("q9m4z", "gpu-base-2")):
        md = copy.deepcopy(tmpl["metadata"])
        md["name"] = "transcoder-6d4b9c7f8-" + suffix
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                  "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        spec = copy.deepcopy(tmpl["spec"])
        spec["nodeName"] = node
        mk("pods", {"metadata": md, "spec": spec}, "default")
    mk("poddisruptionbudgets", {"metadata": {"name": "transcoder"},
                                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "transcoder"}}}},
       "default")
    # a cache with emptyDir (ReplicaSet-owned, so only --delete-emptydir-data is needed)
    ctmpl = {"metadata": {"labels": {"app": "segment-cache", "pod-template-hash": "5f8c6d9b7"}},
             "spec": {"tolerations": tmpl["spec"]["tolerations"], "nodeSelector": {"nvidia.com/gpu": "true"},
                      "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "10Gi"}}],
                      "containers": [{"name": "cache", "image": "registry.example.com/segment-cache:1.3",
                                      "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]}}
    crs = mk("replicasets", {"metadata": {"name": "segment-cache-5f8c6d9b7", "labels": dict(ctmpl["metadata"]["labels"])},
                             "spec": {"replicas": 1, "selector": {"matchLabels": dict(ctmpl["metadata"]["labels"])},
                                      "template": ctmpl}}, "default")
    md = copy.deepcopy(ctmpl["metadata"])
    md["name"] = "segment-cache-5f8c6d9b7-h2vwd"
    md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": crs["metadata"]["name"],
                              "uid": crs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    spec = copy.deepcopy(ctmpl["spec"])
    spec["nodeName"] = "gpu-base-1"
    mk("pods", {"metadata": md, "spec": spec}, "default")
    # a bare pod (no controller: drain needs --force) on gpu-base-2
    mk("pods", {"metadata": {"name": "debug-shell", "labels": {"run": "debug-shell"}},
                "spec": {"nodeName": "gpu-base-2", "tolerations": tmpl["spec"]["tolerations"],
                         "containers": [{"name": "debug-shell", "image": "debian:12", "command": ["sleep", "infinity"]}]}},
       "default")
    # the static kube-apiserver pod's mirror on cp-1
    cp = c.get("nodes", None, "cp-1")
    mk("pods", {"metadata": {"name": "kube-apiserver-cp-1", "labels": {"component": "kube-apiserver", "tier": "control-plane"},
                             "annotations": {"kubernetes.io/config.mirror": secrets.token_hex(16),
                                             "kubernetes.io/config.hash": secrets.token_hex(16),
                                             "kubernetes.io/config.source": "file",
                                             "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "10.0.0.10:6443"},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "cp-1",
                                                  "uid": cp["metadata"]["uid"], "controller": True}]},
                "spec": {"nodeName": "cp-1", "hostNetwork": True, "priorityClassName": "system-node-critical",
                         "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                         "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:" + K8S_VERSION}]}},
       "kube-system")
    # cluster-info, as kubeadm writes it: the server is the advertise
    # address (reachable from the node network only, see ADVERTISE), not
    # the 127.0.0.1 address the harness and the rp tools use
    ca_b64 = base64.b64encode(c.ca_pem.encode()).decode()
    kc = ("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n    server: %s\n  name: \"\"\n"
          "contexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n" % (ca_b64, "https://" + ADVERTISE))
    mk("configmaps", {"metadata": {"name": "cluster-info"}, "data": {"kubeconfig": kc}}, "kube-public")
    # the kube-system DaemonSet pods come from the controller, bound to their node
    c.daemonset_controller()
    for p in list(c.objs["pods"].values()):
        if p["status"].get("phase") == "Pending" and p["spec"].get("nodeName"):
            p = copy.deepcopy(p)
            run_pod(p, c.get("nodes", None, p["spec"]["nodeName"]), born + 60)
            p["metadata"]["creationTimestamp"] = ts(born + 30)
            c.put("pods", p)
    c.after(1.0, c.periodic)


def _periodic(self):
    self.token_cleaner()
    self.node_lifecycle()
    self.after(1.0, self.periodic)


Cluster.periodic = _periodic


# ---------------------------------------------------------------- tables

def col(name, typ="string", fmt="", desc="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


def table_for(res, items, include):
    if res == "nodes":
        cols = [col("Name", fmt="name"), col("Status"), col("Roles"), col("Age"), col("Version"),
                col("Internal-IP", prio=1), col("External-IP", prio=1), col("OS-Image", prio=1),
                col("Kernel-Version", prio=1), col("Container-Runtime", prio=1)]

        def cells(o):
            st = o.get("status", {})
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions", []))
            s = "Ready" if ready else "NotReady" if any(c.get("type") == "Ready" for c in st.get("conditions", [])) else "Unknown"
            if o.get("spec", {}).get("unschedulable"):
                s += ",SchedulingDisabled"
            roles = sorted(k.split("/", 1)[1] for k in o["metadata"].get("labels", {})
                           if k.startswith("node-role.kubernetes.io/"))
            addr = {a.get("type"): a.get("address") for a in st.get("addresses", [])}
            ni = st.get("nodeInfo", {})
            return [o["metadata"]["name"], s, ",".join(roles) or "<none>", age(o), ni.get("kubeletVersion", ""),
                    addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"), ni.get("osImage", "<unknown>"),
                    ni.get("kernelVersion", "<unknown>"), ni.get("containerRuntimeVersion", "<unknown>")]
    elif res == "pods":
        cols = [col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts"), col("Age"),
                col("IP", prio=1), col("Node", prio=1), col("Nominated Node", prio=1), col("Readiness Gates", prio=1)]

        def cells(o):
            st = o.get("status", {})
            cs = st.get("containerStatuses", [])
            ready = sum(1 for x in cs if x.get("ready"))
            reason = st.get("reason") or st.get("phase", "Unknown")
            if st.get("phase") == "Pending" and o["spec"].get("nodeName"):
                reason = "ContainerCreating"
            if o["metadata"].get("deletionTimestamp"):
                reason = "Terminating"
            return [o["metadata"]["name"], "%d/%d" % (ready, len(o["spec"].get("containers", []))), reason,
                    str(sum(x.get("restartCount", 0) for x in cs)), age(o), st.get("podIP") or "<none>",
                    o["spec"].get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", "<none>"]
    elif res == "poddisruptionbudgets":
        cols = [col("Name", fmt="name"), col("Min Available"), col("Max Unavailable"),
                col("Allowed Disruptions", "integer"), col("Age")]

        def cells(o):
            s = o["spec"]
            return [o["metadata"]["name"], str(s.get("minAvailable", "N/A")), str(s.get("maxUnavailable", "N/A")),
                    o.get("status", {}).get("disruptionsAllowed", 0), age(o)]
    elif res == "secrets":
        cols = [col("Name", fmt="name"), col("Type"), col("Data", "integer"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], o.get("type", ""), len(o.get("data") or {}), age(o)]
    elif res == "configmaps":
        cols = [col("Name", fmt="name"), col("Data", "integer"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]
    elif res == "leases":
        cols = [col("Name", fmt="name"), col("Holder"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], o.get("spec", {}).get("holderIdentity", ""), age(o)]
    elif res == "namespaces":
        cols = [col("Name", fmt="name"), col("Status"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], o.get("status", {}).get("phase", ""), age(o)]
    elif res == "daemonsets":
        cols = [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector"), col("Age")]

        def cells(o):
            s = o.get("status", {})
            sel = ",".join("%s=%s" % kv for kv in (o["spec"].get("template", {}).get("spec", {}).get("nodeSelector") or {}).items())
            return [o["metadata"]["name"], s.get("desiredNumberScheduled", 0), s.get("currentNumberScheduled", 0),
                    s.get("numberReady", 0), s.get("updatedNumberScheduled", 0), s.get("numberAvailable", 0),
                    sel or "<none>", age(o)]
    elif res == "replicasets":
        cols = [col("Name", fmt="name"), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
                col("Age")]

        def cells(o):
            s = o.get("status", {})
            return [o["metadata"]["name"], o["spec"].get("replicas", 1), s.get("replicas", 0),
                    s.get("readyReplicas", 0), age(o)]
    else:
        cols = [col("Name", fmt="name"), col("Age")]

        def cells(o):
            return [o["metadata"]["name"], age(o)]
    rows = []
    for o in items:
        if include == "Object":
            ro = o
        elif include == "None":
            ro = None
        else:
            ro = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        row = {"cells": cells(o)}
        if ro is not None:
            row["object"] = ro
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": cols, "rows": rows}


# ---------------------------------------------------------------- discovery

def api_resources(group, version):
    out = []
    for r, (g, v, kind, nsd, short, has_status) in RES.items():
        if g != group or v != version:
            continue
        e = {"name": r, "singularName": kind.lower(), "namespaced": nsd, "kind": kind, "verbs": VERBS}
        if short:
            e["shortNames"] = short
        if r in ("pods", "daemonsets", "replicasets", "deployments"):
            e["categories"] = ["all"]
        out.append(e)
        if has_status:
            out.append({"name": r + "/status", "singularName": "", "namespaced": nsd, "kind": kind,
                        "verbs": ["get", "patch", "update"]})
        if r in ("deployments", "replicasets"):
            out.append({"name": r + "/scale", "singularName": "", "namespaced": nsd, "group": "autoscaling",
                        "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
    if group == "":
        out.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                    "version": "v1", "kind": "Eviction", "verbs": ["create"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": (group + "/" if group else "") + version,
            "resources": out}


def gv_path(g, v):
    return "api/" + v if not g else "apis/%s/%s" % (g, v)


OPENAPI_HASH = hashlib.sha512(K8S_VERSION.encode()).hexdigest().upper()


def openapi_v3(group, version):
    """Just enough OpenAPI v3 for kubectl's field-validation probe: every
    PATCH operation accepts fieldValidation, so kubectl leaves validation
    to the server (which here accepts unknown fields) and computes its
    patches from its built-in types.  No schemas are served."""
    paths = {}
    fv = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for r, (g, v, kind, nsd, _, _) in RES.items():
        if g != group or v != version:
            continue
        base = "/" + gv_path(g, v) + ("/namespaces/{namespace}/" if nsd else "/") + r + "/{name}"
        paths[base] = {"patch": {"x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": kind},
                                 "parameters": [fv], "responses": {}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": K8S_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-fake"
    sys_version = ""

    def log_message(self, fmt, *args):
        if os.environ.get("KUBE_FAKE_DEBUG"):
            sys.stderr.write("kube-fake: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # -- plumbing
    def send_json(self, code, obj, headers=None):
        """Queue the answer; it is written after the cluster lock is released."""
        self.send_raw(code, json.dumps(obj, separators=(",", ":")).encode(), "application/json", headers)

    def send_raw(self, code, body, ctype, headers=None):
        self.out = (code, body, ctype, headers or {})
        self.code = code

    def flush_out(self):
        if self.out is None:
            return
        code, body, ctype, headers = self.out
        self.out = None
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in headers.items():
            self.send_header(k, v)
        self._headers_buffer.append(b"\r\n" + body)  # headers and body in one write
        self.flush_headers()

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self, method):
        c = self.server.cluster
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        raw = self.read_body()
        self.out = None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        self.code = 0
        self.rec = rec = None
        if not path.startswith("/_admin"):
            rec = {"ts": now(), "verb": method, "path": path, "query": u.query, "params": q,
                   "content_type": ctype, "body": raw.decode("utf-8", "replace"),
                   "accept": self.headers.get("Accept", ""), "agent": self.headers.get("User-Agent", ""),
                   "code": None}
            self.rec = rec
            with c.lock:
                c.requests.append(rec)
        try:
            auth = self.headers.get("Authorization", "")
            anonymous_ok = method == "GET" and path in ("/api/v1/namespaces/kube-public/configmaps/cluster-info",
                                                        "/version", "/healthz", "/readyz", "/livez")
            if not hmac.compare_digest(auth.encode(), ("Bearer " + self.server.token).encode()) and not anonymous_ok:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            body = None
            if raw:
                if ctype not in ("application/json", "application/merge-patch+json", "",
                                 "application/strategic-merge-patch+json", "application/json-patch+json"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types "
                                   "include: application/json, application/json-patch+json, "
                                   "application/merge-patch+json, application/strategic-merge-patch+json")
                try:
                    body = json.loads(raw)
                except ValueError as e:
                    raise bad_request("the request body is not JSON: %s" % e)
            if path.startswith("/_admin"):
                self.admin(method, path, q, body)
            else:
                self.api(method, path, q, body, ctype)
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc()
            self.send_json(500, ApiError(500, "InternalError", "kube-fake: %s" % e).status())
        finally:
            if rec is not None:
                rec["code"] = self.code
        try:
            self.flush_out()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    # -- API
    def api(self, method, path, q, body, ctype):
        c = self.server.cluster
        if path in ("/healthz", "/readyz", "/livez"):
            return self.send_raw(200, b"ok", "text/plain")
        if method == "GET" and path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": K8S_VERSION,
                                        "gitCommit": "2b0f7e1e7e3b0e3f5a4d1c9a8f6e5d4c3b2a1f00",
                                        "gitTreeState": "clean", "buildDate": "2026-04-22T11:40:00Z",
                                        "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64"})
        if method == "GET" and path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                        "serverAddress": "127.0.0.1:%d" % self.server.port}]})
        if method == "GET" and path == "/apis":
            groups = []
            for g, v in GROUPS:
                gv = {"groupVersion": g + "/" + v, "version": v}
                groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if method == "GET" and path == "/api/v1":
            return self.send_json(200, api_resources("", "v1"))
        if method == "GET" and path == "/openapi/v3":
            gvs = [("", "v1")] + GROUPS
            return self.send_json(200, {"paths": {gv_path(g, v): {"serverRelativeURL": "/openapi/v3/%s?hash=%s"
                                                                  % (gv_path(g, v), OPENAPI_HASH)} for g, v in gvs}})
        if method == "GET" and path.startswith("/openapi/v3/"):
            for g, v in [("", "v1")] + GROUPS:
                if path == "/openapi/v3/" + gv_path(g, v):
                    return self.send_json(200, openapi_v3(g, v))
        parts = path.strip("/").split("/")
        if parts[0] == "apis" and len(parts) == 2 and method == "GET":
            for g, v in GROUPS:
                if g == parts[1]:
                    gv = {"groupVersion": g + "/" + v, "version": v}
                    return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": g,
                                                "versions": [gv], "preferredVersion": gv})
        if parts[0] == "apis" and len(parts) == 3 and method == "GET" and (parts[1], parts[2]) in GROUPS:
            return self.send_json(200, api_resources(parts[1], parts[2]))
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4 and (parts[1], parts[2]) in GROUPS:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in RES and RES[rest[2]][3]:
            ns, rest = rest[1], rest[2:]
        res = rest[0]
        if res not in RES or RES[res][0] != group or RES[res][1] != version or (ns is None and RES[res][3] and len(rest) > 1):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if res == "pods" and sub == "log" and len(rest) == 3 and method == "GET":
            return self.pod_log(ns, name, q)
        if len(rest) > 3 or (sub and not (sub == "status" and RES[res][5]) and not (res == "pods" and sub == "eviction")
                             and not (sub == "scale" and res in ("deployments", "replicasets"))):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        table = "as=Table" in (self.headers.get("Accept") or "")
        dry = "dryRun" in q
        with c.lock:
            if method == "GET" and name is None and q.get("watch") in ("true", "1"):
                pass  # streamed below, outside the lock
            elif method == "GET" and name is None:
                return self.list(res, ns, q, table)
            elif method == "GET":
                o = c.get(res, ns, name)
                if o is None:
                    raise not_found(res, name)
                o = c.view(res, o)
                if table:
                    t = table_for(res, [o], q.get("includeObject", "Metadata"))
                    t["metadata"]["resourceVersion"] = o["metadata"]["resourceVersion"]
                    return self.send_json(200, t)
                return self.send_json(200, o)
            elif sub == "scale" and method in ("GET", "PUT", "PATCH"):
                o = c.get(res, ns, name)
                if o is None:
                    raise not_found(res, name)
                if method != "GET":
                    sc = c.scale_of(o)
                    new = self.patched(res, sc, body, ctype) if method == "PATCH" else copy.deepcopy(body)
                    if not isinstance(new, dict):
                        raise bad_request("a Scale object body is required")
                    rv = (new.get("metadata") or {}).get("resourceVersion")
                    if rv and rv != o["metadata"]["resourceVersion"]:
                        raise conflict(res, name)
                    try:
                        want = int((new.get("spec") or {}).get("replicas", 0))
                    except (TypeError, ValueError):
                        raise ApiError(422, "Invalid", "spec.replicas: Invalid value: must be an integer")
                    if not dry and want != int(o["spec"].get("replicas", 1)):
                        o = copy.deepcopy(o)
                        o["spec"]["replicas"] = want
                        o["metadata"]["generation"] = o["metadata"].get("generation", 1) + 1
                        c.put(res, o, "MODIFIED")
                        c.reconcile()
                        o = c.get(res, ns, name) or o
                return self.send_json(200, c.scale_of(o))
            elif method == "POST" and sub == "eviction":
                c.admit_create(res, ns, name)
                if not isinstance(body, dict):
                    raise bad_request("an Eviction body is required")
                if (body.get("metadata") or {}).get("name", name) != name:
                    raise bad_request("name in URL does not match name in Eviction object")
                c.evict(ns, name, body, dry or bool(((body.get("deleteOptions") or {}).get("dryRun"))))
                c.reconcile()
                return self.send_json(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                            "status": "Success", "code": 201})
            elif method == "POST" and name is None:
                if not isinstance(body, dict):
                    raise bad_request("a JSON object body is required")
                self.check_kind(res, body)
                c.admit_create(res, ns, (body.get("metadata") or {}).get("name") or "")
                o = c.create(res, body, ns)
                if not dry:
                    c.put(res, o, "ADDED")
                    if res == "secrets":
                        c.signer_soon()
                    c.reconcile()
                    o = c.get(res, ns, o["metadata"]["name"]) or o
                return self.send_json(201, c.view(res, o))
            elif method in ("PUT", "PATCH") and name is not None:
                old = c.get(res, ns, name)
                if old is None and method == "PUT" and sub is None and res in ("leases", "events") \
                        and isinstance(body, dict):
                    # these kinds allow create on update, as in the apiserver
                    self.check_kind(res, body)
                    if (body.get("metadata") or {}).get("name") != name:
                        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                          % ((body.get("metadata") or {}).get("name"), name))
                    if (body.get("metadata") or {}).get("resourceVersion"):
                        raise not_found(res, name)
                    o = c.create(res, body, ns)
                    if not dry:
                        c.put(res, o, "ADDED")
                    return self.send_json(201, o)
                if old is None:
                    raise not_found(res, name)
                if method == "PUT":
                    if not isinstance(body, dict):
                        raise bad_request("a JSON object body is required")
                    self.check_kind(res, body)
                    new = copy.deepcopy(body)
                    md = new.setdefault("metadata", {})
                    if md.get("name") != name:
                        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                          % (md.get("name"), name))
                    if md.get("resourceVersion") and md["resourceVersion"] != old["metadata"]["resourceVersion"]:
                        raise conflict(res, name)
                else:
                    new = self.patched(res, old, body, ctype)
                    md = new.setdefault("metadata", {})
                    if md.get("resourceVersion") != old["metadata"]["resourceVersion"]:
                        raise conflict(res, name)
                    if md.get("uid", old["metadata"]["uid"]) != old["metadata"]["uid"]:
                        raise conflict(res, name)
                new = self.merge_update(res, old, new, sub)
                if not dry and new != old:
                    c.put(res, new, "MODIFIED")
                    if res == "secrets" or (res == "configmaps" and ns == "kube-public"):
                        c.signer_soon()
                    if res == "nodes":
                        self.node_changed(old, new)
                    c.reconcile()
                    new = c.get(res, ns, name) or new
                return self.send_json(200, c.view(res, new))
            elif method == "DELETE" and name is not None:
                o = c.get(res, ns, name)
                if o is None:
                    raise not_found(res, name)
                opts = body if isinstance(body, dict) else {}
                pre = opts.get("preconditions") or {}
                if pre.get("uid") and pre["uid"] != o["metadata"]["uid"]:
                    raise ApiError(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                   % (pre["uid"], o["metadata"]["uid"]))
                if pre.get("resourceVersion") and pre["resourceVersion"] != o["metadata"]["resourceVersion"]:
                    raise conflict(res, name)
                grace = opts.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
                if dry or opts.get("dryRun"):
                    return self.send_json(200, o)
                if res == "pods":
                    left = c.delete_pod(o, None if grace in (None, "") else int(grace))
                    c.reconcile()
                    if left is not None:
                        return self.send_json(200, left)
                    o = copy.deepcopy(o)
                    return self.send_json(200, o)
                if res == "namespaces" and name in ("default", "kube-system", "kube-public", "kube-node-lease"):
                    raise ApiError(403, "Forbidden", 'namespaces "%s" is forbidden: this namespace may not be deleted' % name)
                if res == "namespaces":
                    # the namespace controller empties it (pods gracefully), then it goes
                    if not o["metadata"].get("deletionTimestamp"):
                        o = copy.deepcopy(o)
                        o["metadata"]["deletionTimestamp"] = ts()
                        o["metadata"]["deletionGracePeriodSeconds"] = 0
                        o.setdefault("status", {})["phase"] = "Terminating"
                        c.put(res, o, "MODIFIED")
                    c.reconcile()
                    o = c.get(res, None, name) or o
                    return self.send_json(200, o)
                if opts.get("propagationPolicy") == "Orphan" and res in ("daemonsets", "replicasets", "deployments"):
                    c.objs[res].pop((ns or "", name), None)
                    o2 = copy.deepcopy(o)
                    o2["metadata"]["resourceVersion"] = c.next_rv()
                    c._emit("DELETED", res, o2)
                else:
                    c.remove(res, o)
                c.reconcile()
                if res in ("nodes", "namespaces", "secrets", "configmaps", "leases", "events"):
                    return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Success",
                                                "details": {"name": name, "group": group, "kind": res,
                                                            "uid": o["metadata"]["uid"]}})
                return self.send_json(200, o)
            else:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return self.watch(res, ns, q, table)

    def check_kind(self, res, body):
        g, v, kind = RES[res][:3]
        want = g + "/" + v if g else v
        if body.get("kind") not in (None, "", kind) or body.get("apiVersion") not in (None, "", want):
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (body.get("apiVersion"), want) if body.get("apiVersion") not in (None, "", want) else
                              "the kind in the data (%s) does not match the expected kind (%s)" % (body.get("kind"), kind))

    def patched(self, res, old, body, ctype):
        base = copy.deepcopy(old)
        base.pop("status", None) if False else None
        try:
            if ctype == "application/strategic-merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("a strategic merge patch is a JSON object")
                return strategic_merge(base, body)
            if ctype == "application/merge-patch+json":
                if not isinstance(body, dict):
                    raise bad_request("a merge patch is a JSON object")
                return merge_patch(base, body)
            if ctype == "application/json-patch+json":
                return json_patch(base, body)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: %s" % e)
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
                       "types include: application/json-patch+json, application/merge-patch+json, "
                       "application/strategic-merge-patch+json")

    def merge_update(self, res, old, new, sub):
        """What an update keeps from the old object (identity; status vs spec split)."""
        new = copy.deepcopy(new)
        g, v, kind = RES[res][:3]
        new["apiVersion"] = g + "/" + v if g else v
        new["kind"] = kind
        md = new.setdefault("metadata", {})
        for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation"):
            if k in old["metadata"]:
                md[k] = old["metadata"][k]
            else:
                md.pop(k, None)
        md["resourceVersion"] = old["metadata"]["resourceVersion"]
        if res == "secrets":
            sd = new.pop("stringData", None) or {}
            if sd:
                new.setdefault("data", {})
                for k, val in sd.items():
                    new["data"][k] = base64.b64encode(str(val).encode()).decode()
        if RES[res][5]:
            if sub == "status":
                keep = copy.deepcopy(old)
                keep["status"] = new.get("status", {})
                return keep
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if new.get("spec") != old.get("spec") and "generation" in md:
            md["generation"] = md["generation"] + 1
        return new

    def node_changed(self, old, new):
        pass

    def list(self, res, ns, q, table):
        c = self.server.cluster
        lterms = parse_label_selector(q.get("labelSelector", ""))
        fterms = parse_field_selector(res, q.get("fieldSelector", ""))
        items = []
        for (ons, _), o in sorted(c.objs[res].items()):
            if ns is not None and ons != ns:
                continue
            if not label_match(lterms, o["metadata"].get("labels")) or not field_match(fterms, o):
                continue
            items.append(c.view(res, o))
        start = 0
        if q.get("continue"):
            try:
                start = int(base64.b64decode(q["continue"]).decode().split(":")[1])
            except Exception:
                raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent "
                               "list result. You can start a new list without the continue parameter.")
        meta = {"resourceVersion": str(c.rv)}
        limit = int(q.get("limit") or 0)
        page = items[start:]
        if limit > 0 and len(page) > limit:
            page = page[:limit]
            meta["continue"] = base64.b64encode(("%s:%d" % (c.rv, start + limit)).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        if table:
            t = table_for(res, page, q.get("includeObject", "Metadata"))
            t["metadata"] = meta
            return self.send_json(200, t)
        out = []
        for o in page:
            o = dict(o)
            o.pop("kind", None)
            o.pop("apiVersion", None)
            out.append(o)
        g, v, kind = RES[res][:3]
        return self.send_json(200, {"kind": kind + "List", "apiVersion": g + "/" + v if g else v,
                                    "metadata": meta, "items": out})

    def watch(self, res, ns, q, table):
        c = self.server.cluster
        lterms = parse_label_selector(q.get("labelSelector", ""))
        fterms = parse_field_selector(res, q.get("fieldSelector", ""))
        timeout = float(q.get("timeoutSeconds") or 1800)
        deadline = now() + min(timeout, 1800)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.code = 200
        if self.rec is not None:
            self.rec["code"] = 200

        def chunk(obj):
            b = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
            self.wfile.flush()

        def wanted(o):
            return (ns is None or o["metadata"].get("namespace") == ns) and \
                label_match(lterms, o["metadata"].get("labels")) and field_match(fterms, o)

        def shown(o):
            if not table:
                return o
            t = table_for(res, [o], q.get("includeObject", "Metadata"))
            t["metadata"]["resourceVersion"] = o["metadata"]["resourceVersion"]
            return t
        try:
            with c.lock:
                rv = q.get("resourceVersion", "")
                pending = []
                if rv in ("", "0"):
                    for o in c.objs[res].values():
                        if wanted(o):
                            pending.append({"type": "ADDED", "object": shown(c.view(res, o))})
                    since = c.rv
                else:
                    since = int(rv)
                    if c.events and since < c.events[0][0] - 1 and since < c.rv:
                        pending.append({"type": "ERROR", "object": ApiError(410, "Expired", "too old resource version: %d (%d)"
                                                                            % (since, c.events[0][0])).status()})
                        deadline = 0
            for e in pending:
                chunk(e)
            while now() < deadline:
                if self.peer_closed():
                    break
                with c.lock:
                    evs = [e for e in c.events if e[0] > since and e[2] == res]
                    if not evs:
                        c.cond.wait(min(1.0, max(0.01, deadline - now())))
                        evs = [e for e in c.events if e[0] > since and e[2] == res]
                    if c.events:
                        since = max(since, c.events[-1][0])
                    if evs:
                        since = max(since, evs[-1][0])
                for _, typ, _, o in evs:
                    if wanted(o):
                        chunk({"type": typ, "object": shown(c.view(res, o))})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        self.close_connection = True

    # -- pods/log: proxied to the node's kubelet API, as the API server does
    # (LogLocation: https://InternalIP:daemonEndpoints.kubeletEndpoint.Port
    # /containerLogs/NS/POD/CONTAINER?follow&timestamps&sinceSeconds&
    # tailLines&limitBytes&previous; the kubelet's certificate checked
    # against kubelet_ca, the kubelet-client certificate presented; the
    # body streamed back; a kubelet error passed on with its code)
    def pod_log(self, ns, name, q):
        c = self.server.cluster
        with c.lock:
            p = c.get("pods", ns, name)
            if p is None:
                raise not_found("pods", name)
            p = copy.deepcopy(p)
            nn = p["spec"].get("nodeName") or ""
            node = copy.deepcopy(c.get("nodes", None, nn)) if nn else None
            kca = c.cfg.get("kubelet_ca") or os.path.join(self.server.dir, "ca.crt")
        ctrs = [x.get("name") for x in p["spec"].get("containers", [])]
        ctr = q.get("container") or (ctrs[0] if len(ctrs) == 1 else "")
        if not ctr:
            raise bad_request("a container name must be specified for pod %s, choose one of: %s" % (name, ctrs))
        if ctr not in ctrs:
            raise bad_request("container %s is not valid for pod %s" % (ctr, name))
        if node is None:
            raise bad_request("pod %s does not have a host assigned" % name)
        st = node.get("status", {})
        addr = next((a.get("address") for a in st.get("addresses", []) if a.get("type") == "InternalIP"), None)
        port = ((st.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
        params = [(k, q[k]) for k in ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime",
                                      "tailLines", "limitBytes") if k in q]
        path = "/containerLogs/%s/%s/%s" % (ns, name, ctr) + ("?" + urllib.parse.urlencode(params) if params else "")
        url = "https://%s:%s%s" % (addr, port, path)
        if not addr or not port:
            raise ApiError(500, "InternalError", "Get \"%s\": no kubelet endpoint on node %s" % (url, nn))
        crt, key = kubelet_client_cert(self.server.dir)
        try:
            ctx = ssl.create_default_context(cafile=kca)
            ctx.load_cert_chain(crt, key)
            conn = http.client.HTTPSConnection(addr, int(port), context=ctx, timeout=10)
            conn.request("GET", path)
            sock = conn.sock  # the response keeps using it after getresponse() lets it go
            resp = conn.getresponse()
        except (OSError, ssl.SSLError, http.client.HTTPException) as e:
            raise ApiError(500, "InternalError", "Get \"%s\": %s" % (url, e))
        if resp.status != 200:
            msg = resp.read().decode("utf-8", "replace").strip()
            conn.close()
            reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
            raise ApiError(resp.status, reasons.get(resp.status, "InternalError"), msg or resp.reason)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.code = 200
        if self.rec is not None:
            self.rec["code"] = 200
        try:
            sock.settimeout(1.0)
            while True:
                try:
                    b = resp.read1(65536)
                except (socket.timeout, TimeoutError):
                    if self.peer_closed():
                        break
                    continue
                if not b:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        self.close_connection = True

    def peer_closed(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            self.connection.setblocking(False)
            try:
                return self.connection.recv(1) == b""
            finally:
                self.connection.setblocking(True)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except (OSError, ValueError):
            return True

    # -- admin
    def admin(self, method, path, q, body):
        c = self.server.cluster
        body = body if isinstance(body, dict) else {}
        with c.lock:
            if path == "/_admin/requests" and method == "GET":
                out = c.requests
                if q.get("since"):
                    out = [r for r in out if r["ts"] > float(q["since"])]
                if q.get("verb"):
                    out = [r for r in out if r["verb"] == q["verb"].upper()]
                if q.get("path"):
                    out = [r for r in out if q["path"] in r["path"]]
                if q.get("agent"):
                    out = [r for r in out if q["agent"] in r["agent"]]
                return self.send_json(200, out)
            if path == "/_admin/requests" and method == "DELETE":
                c.requests = []
                return self.send_json(200, {"ok": True})
            if path == "/_admin/joins" and method == "GET":
                return self.send_json(200, c.joins)
            if path == "/_admin/config":
                if method == "POST":
                    for k in c.cfg:
                        if k in body:
                            c.cfg[k] = type(c.defaults[k])(body[k])
                return self.send_json(200, c.cfg)
            if path == "/_admin/reset" and method == "POST":
                c.reset()
                return self.send_json(200, {"ok": True})
            if path == "/_admin/node-status" and method == "POST":
                if c.get("nodes", None, body.get("node", "")) is None:
                    raise not_found("nodes", body.get("node", ""))
                since = body.get("since")
                if since is not None and (isinstance(since, bool) or not isinstance(since, (int, float)) or since < 0):
                    raise bad_request("since: seconds ago, a number >= 0")
                c.set_node_ready(body["node"], None if body.get("ready") is None else bool(body["ready"]), since)
                alloc = body.get("allocatable")
                if isinstance(alloc, dict):
                    n = copy.deepcopy(c.get("nodes", None, body["node"]))
                    for k, v in alloc.items():
                        for part in ("capacity", "allocatable"):
                            if v is None:
                                n["status"].setdefault(part, {}).pop(k, None)
                            else:
                                n["status"].setdefault(part, {})[k] = str(v)
                    c.put("nodes", n)
                c.reconcile()
                return self.send_json(200, c.get("nodes", None, body["node"]))
            if path == "/_admin/pdb" and method == "POST":
                key = (body.get("namespace") or "default", body.get("name", ""))
                if c.get("poddisruptionbudgets", key[0], key[1]) is None:
                    raise not_found("poddisruptionbudgets", key[1])
                if body.get("allow") is None:
                    c.pdb_override.pop(key, None)
                else:
                    c.pdb_override[key] = bool(body["allow"])
                return self.send_json(200, c.view("poddisruptionbudgets", c.get("poddisruptionbudgets", *key)))
            if path == "/_admin/network" and method == "GET":
                # the node network: where its addresses are on this machine (for the stub kubeadm)
                return self.send_json(200, c.node_net)
            if path == "/_admin/kubeadm-join" and method == "POST":
                ok, msg, node = kubeadm_join(c, body)
                shown = {k: v for k, v in body.items() if k not in ("token", "tls_bootstrap_token")}
                if isinstance(shown.get("argv"), list):  # the flag form carries the token: keep its id only
                    shown["argv"] = [re.sub(r"\b([a-z0-9]{6})\.[a-z0-9]{16}\b", r"\1.<redacted>", str(a))
                                     for a in shown["argv"]]
                c.joins.append({"ts": ts(), "ok": ok, "error": None if ok else msg, "node": node,
                                "request": shown, "listener": self.server.listener,
                                "sni": getattr(self.connection, "rp_sni", None),
                                "token_id": str(body.get("token", "")).split(".")[0]})
                return self.send_json(200 if ok else 403, {"ok": ok, "message": msg, "node": node})
        raise ApiError(404, "NotFound", "no such admin endpoint")


# ---------------------------------------------------------------- kubeadm join

def kubeadm_join(c, req):
    """Validate a join as kubeadm + the kubelet's TLS bootstrap would; register the node.

    The stub kubeadm did the network part on the pod (dialled the endpoint
    or the discovery file's server from the pod's network, verified TLS
    against the CA it trusts and the name it asked for) and posts here over
    the connection its TLS bootstrap would use.  discovery "file": the CA
    is the one in the file (no pin, no JWS: kubeadm's file discovery needs
    neither); otherwise token discovery."""
    token = str(req.get("token") or "")
    hashes = req.get("ca_cert_hashes") or []
    if req.get("discovery") == "file":
        return _file_join(c, req, token)
    if req.get("unsafe_skip"):
        return False, ("refusing token discovery without CA pinning: "
                       "--discovery-token-unsafe-skip-ca-verification / unsafeSkipCAVerification is not allowed "
                       "on this cluster (other nodes could impersonate the control plane)"), None
    if not hashes:
        return False, ("discovery.bootstrapToken: Invalid value: \"\": using token-based discovery without caCertHashes "
                       "can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass "
                       "--discovery-token-unsafe-skip-ca-verification flag to continue"), None
    m = re.match(r"^([a-z0-9]{6})\.([a-z0-9]{16})$", token)
    if not m:
        return False, ('[discovery.bootstrapToken.token: Invalid value: "": the bootstrap token is invalid, '
                       'discovery.tlsBootstrapToken: Invalid value: "": the bootstrap token is invalid]'), None
    tid, tsec = m.groups()
    for h in hashes:
        if not re.match(r"^sha256:[0-9a-f]{64}$", str(h)):
            return False, ('invalid hash "%s", expected a "sha256" hash of 64 hex digits' % h
                           if str(h).startswith("sha256:") else
                           'unknown hash type "%s", supported: sha256 (format "<type>:<value>")' % str(h).split(":")[0]), None
    live = c.live_tokens()
    cm = c.get("configmaps", "kube-public", "cluster-info") or {}
    jws = (cm.get("data") or {}).get("jws-kubeconfig-" + tid)
    if tid not in live or jws is None or live[tid][0] != tsec or \
            jws != detached_jws(cm["data"]["kubeconfig"], tid, tsec):
        return False, ('couldn\'t validate the identity of the API Server: could not find a JWS signature in the '
                       'cluster-info ConfigMap for token ID "%s"' % tid if tid not in live or jws is None else
                       'couldn\'t validate the identity of the API Server: failed to verify JWS signature of received '
                       'cluster info object, can\'t trust this API Server'), None
    if c.ca_hash not in hashes:
        return False, ('couldn\'t validate the identity of the API Server: cluster CA found in cluster-info ConfigMap '
                       'is invalid: none of the public keys "%s" are pinned' % c.ca_hash), None
    return _register(c, req, live[tid][1], tid)


def _file_join(c, req, token):
    """File discovery: the bootstrap kubeconfig's token authenticates the TLS bootstrap."""
    m = re.match(r"^([a-z0-9]{6})\.([a-z0-9]{16})$", token)
    live = c.live_tokens()
    if not m or m.group(1) not in live or live[m.group(1)][0] != m.group(2):
        return False, ("error execution phase kubelet-start: failed to get the kubelet's configuration: "
                       "Unauthorized (the discovery file's token is not a live bootstrap token)"), None
    return _register(c, req, live[m.group(1)][1], m.group(1))


def _register(c, req, d, tid):
    """The TLS bootstrap and the kubelet's registration, with token tid's Secret data d."""
    if d.get("usage-bootstrap-authentication") != "true":
        return False, ("error execution phase kubelet-start: failed to get the kubelet's configuration: "
                       "Unauthorized (the bootstrap token is not usable for authentication)"), None
    groups = [g for g in (d.get("auth-extra-groups") or "").split(",") if g]
    if "system:bootstrappers:kubeadm:default-node-token" not in groups:
        return False, ('error execution phase preflight: couldn\'t get the kubeadm-config ConfigMap: configmaps '
                       '"kubeadm-config" is forbidden: User "system:bootstrap:%s" cannot get resource "configmaps" '
                       'in API group "" in the namespace "kube-system"' % tid), None
    name = str(req.get("node_name") or req.get("hostname") or "")
    if not re.match(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", name):
        return False, 'nodeRegistration.name: Invalid value: "%s": a lowercase RFC 1123 subdomain must consist of ' \
                      'lower case alphanumeric characters' % name, None
    labels = {}
    for kv in [x for x in str(req.get("node_labels") or "").split(",") if x]:
        k, _, v = kv.partition("=")
        labels[k.strip()] = v.strip()
    bad = sorted(k for k in labels if _forbidden_kubelet_label(k))
    if bad:
        return False, ("error execution phase kubelet-start: timed out waiting for the condition (the kubelet exited: "
                       "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [%s])" % " ".join(bad)), None
    old = c.get("nodes", None, name)
    if old is not None and c.node_ready(old):
        return False, ('error execution phase kubelet-start: a Node with name "%s" and status "Ready" already exists '
                       'in the cluster. You must delete the existing Node or change the name of this new joining Node'
                       % name), None
    if old is not None:
        # The kubelet finds its Node there (AlreadyExists) and keeps it:
        # only its default labels and annotations are brought up to date;
        # taints, unschedulable and other labels stay as they were
        # (--register-with-taints and --node-labels apply only to a Node
        # the kubelet creates).
        n = copy.deepcopy(old)
        n["metadata"].setdefault("labels", {}).update(
            {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
             "beta.kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name})
        n["metadata"].setdefault("annotations", {}).update({"rp.fake/gpus": str(req.get("gpus", 1)),
                                                            "rp.fake/joined-via": "kubeadm"})
        c.put("nodes", n, "MODIFIED")
        c.after(c.cfg["ready_delay"], lambda u=n["metadata"]["uid"]: _ready_if(c, name, u))
        c.reconcile()
        return True, "This node has joined the cluster", name
    lb = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
          "beta.kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name}
    lb.update(labels)
    taints = []
    for t in req.get("taints") or []:
        if isinstance(t, dict) and t.get("key") and t.get("effect") in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            taints.append({k: str(t[k]) for k in ("key", "value", "effect") if t.get(k) not in (None, "")})
        else:
            return False, "nodeRegistration.taints: Invalid value: %s: a taint needs a key and an effect " \
                          "(NoSchedule, PreferNoSchedule, NoExecute)" % json.dumps(t), None
    gpus = str(req.get("gpus", 1))
    node = {"metadata": {"name": name, "labels": lb, "annotations": {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        "rp.fake/gpus": gpus, "rp.fake/joined-via": "kubeadm"}},
        "spec": {"taints": taints} if taints else {},
        "status": node_status(name, lb, 0, False, req.get("node_ip"))}
    o = c.create("nodes", node)
    c.put("nodes", o, "ADDED")
    c.after(c.cfg["ready_delay"], lambda n=name, u=o["metadata"]["uid"]: _ready_if(c, n, u))
    c.reconcile()
    return True, "This node has joined the cluster", name


def _ready_if(c, name, uid):
    n = c.get("nodes", None, name)
    if n is not None and n["metadata"]["uid"] == uid:
        c.set_node_ready(name, True)


def _forbidden_kubelet_label(k):
    if "/" not in k:
        return False
    prefix = k.split("/", 1)[0]
    allowed = {"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
               "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
               "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
               "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone"}
    if k in allowed:
        return False
    for ns in ("kubelet.kubernetes.io", "node.kubernetes.io"):
        if prefix == ns or prefix.endswith("." + ns):
            return False
    for ns in ("kubernetes.io", "k8s.io"):
        if prefix == ns or prefix.endswith("." + ns):
            return True
    return False


# ---------------------------------------------------------------- server

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def finish_request(self, request, client_address):
        try:
            request.settimeout(60)
            # one answer is several writes: without this, Nagle + delayed ACK add 40 ms to each
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


def _note_sni(sock, name, ctx):
    """The TLS server name the client asked for (None for an IP literal), kept for /_admin/joins."""
    sock.rp_sni = name


def write_atomic(path, text, mode=0o644):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Kubernetes API stand-in")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-delay", type=float, default=1.0)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    try:
        ca_crt, srv_crt, srv_key, api_crt, api_key, ca_hash = make_certs(a.dir)
    except (subprocess.CalledProcessError, OSError) as e:
        sys.exit("kube-fake: cannot make certificates with openssl: %s %s" %
                 (e, getattr(e, "stderr", b"") or b""))
    token = secrets.token_hex(24)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(srv_crt, srv_key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.ctx = ctx
    srv.dir = a.dir
    srv.token = token
    srv.port = srv.server_address[1]
    url = "https://127.0.0.1:%d" % srv.port
    with open(ca_crt) as f:
        ca_pem = f.read()
    srv.cluster = Cluster(url, ca_pem, ca_hash, a.ready_delay)
    srv.listener = "admin"
    # The node listener: the API server at its advertise address as the
    # node network sees it (apiserver.crt, kubeadm's names only).  Only
    # the stub kubeadm of a pod on that network, or a tunnel, reaches it.
    actx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    actx.load_cert_chain(api_crt, api_key)
    actx.set_alpn_protocols(["http/1.1"])
    actx.sni_callback = ctx.sni_callback = _note_sni
    asrv = Server(("127.0.0.1", 0), Handler)
    asrv.ctx, asrv.token, asrv.cluster, asrv.listener = actx, token, srv.cluster, "apiserver"
    asrv.port = srv.port  # the admin port (self.server.port is what the handlers report)
    srv.cluster.node_net = {ADVERTISE: "127.0.0.1:%d" % asrv.server_address[1]}
    threading.Thread(target=asrv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    ca_b64 = base64.b64encode(ca_pem.encode()).decode()
    kc = ("apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n"
          "    certificate-authority-data: %s\n    server: %s\n"
          "users:\n- name: kubernetes-admin\n  user:\n    token: %s\n"
          "contexts:\n- name: kubernetes-admin@kubernetes\n  context:\n    cluster: kubernetes\n"
          "    user: kubernetes-admin\ncurrent-context: kubernetes-admin@kubernetes\npreferences: {}\n"
          % (ca_b64, url, token))
    write_atomic(os.path.join(a.dir, "kubeconfig"), kc, 0o600)
    write_atomic(os.path.join(a.dir, "admin-token"), token + "\n", 0o600)
    write_atomic(os.path.join(a.dir, "ca-hash"), ca_hash + "\n")
    write_atomic(os.path.join(a.dir, "apiserver-port"), "%d\n" % asrv.server_address[1])
    write_atomic(a.port_file, "%d\n" % srv.port)
    sys.stderr.write("kube-fake: listening on %s\n" % url)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
