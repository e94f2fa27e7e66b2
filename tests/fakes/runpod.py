#!/usr/bin/env python3
"""runpod.py -- a stand-in for the RunPod API (REST v2 + the GraphQL spot path).

Written from shared/reference/runpod-api.md and RunPod's v2 OpenAPI document
(tests/contract/runpod-v2.openapi.json); where they disagree the document wins.
It says no where RunPod does: no sshd without a key, only the document's
fields in v2 objects, unknown request fields refused.
Python 3 standard library only; one process; all state in memory; 127.0.0.1.

  python3 tests/fakes/runpod.py --port-file F --api-key-file KEYFILE \
      --ssh-hosts "127.0.0.1:p1,127.0.0.1:p2" [--ssh-user U] [--state-dir D] [--port 0]

The port is written to F (atomically) once the server listens.  With
--state-dir, every request log entry is also appended to D/requests.jsonl:
{seq,time,method,path,query,status,op,body,agent,ctype,response} (the request
body, the User-Agent, the answer's content type and JSON body), for
tests/contract/check.py.

What it implements
------------------
Auth: `Authorization: Bearer KEY` on every /v2 and /graphql call; /graphql
also takes `?api_key=KEY`.  Otherwise 401 application/problem+json.
Authenticated responses carry `RateLimit` / `RateLimit-Policy` (IETF draft
syntax as in the spec examples).  Default quotas are generous (minute 1000,
hour 50000, day 500000) so polling tests never hit them; set
`rate_limit` through the admin config to make them bite (then a real 429
with Retry-After = seconds to the window's end).

REST v2 (problem+json errors {"title","status","detail","errors"?}):
  POST   /v2/pods             CreatePodRequest -> 201 Pod | 400 | 402 | 403 | 422 | 429 | 5xx
  GET    /v2/pods             {"pods":[...]} (no filters; TERMINATED pods are gone)
  GET    /v2/pods/{id}        Pod | 404 (also 404 once TERMINATED)
  DELETE /v2/pods/{id}        204 | 404
  POST   /v2/pods/{id}/action {"action":"start|stop|restart|terminate"} -> 200 Pod | 409 | 422
  GET    /v2/catalog/gpus[?include=AVAILABILITY&product=POD&count=N&cloud=SECURE|COMMUNITY]
                              {"gpus":[GpuType]} (count default 1, cloud default SECURE;
                              a bad count/cloud is 400)
  GET    /v2/catalog/gpus/{id}                                GpuType | 404
  GET    /v2/account/ssh-keys {"keys":[...]} (none registered at start)
  PUT    /v2/account/ssh-keys {"keys":[OpenSSH lines]} -> 200 SshKeys | 422
  GET    /v2/catalog/datacenters[?include=GPU_AVAILABILITY]   {"dataCenters":[...]}
  GET    /v2/billing/pods[?startTime&endTime&bucketSize=hour|day|week|month|year&podId&lastN]
         {"records":[{startTime,endTime,podId,totalAmount,gpuAmount,cpuAmount,diskAmount}],
          "metadata":{query,recordCount,uniquePodCount,totals}}: the exact rate x time
         each pod was billed (while PROVISIONING/STARTING/RUNNING), per UTC bucket.
  /v1/...                     410 Gone (v1 was retired on 2026-11-15)

  Catalog GpuType shape: exactly the document's fields (spot prices are not
  there: they come from GraphQL lowestPrice / *SpotPrice):
    {"id":"NVIDIA RTX A6000","name":"RTX A6000","pool":null,"manufacturer":"NVIDIA",
     "memory":48,"secure":true,"community":true,
     "price":{"secure":0.49,"community":0.33},"maxCount":{"secure":8,"community":8},
     # only with include=AVAILABILITY:
     "availability":"HIGH",                      # best level over the data centres
     "dataCenters":[{"id":"EU-RO-1","name":"Romania","availability":"HIGH"}, ...]}
  dataCenters lists only the data centres that offer `count` GPUs on `cloud`
  (level not NONE, count <= maxCount; admin catalog {GPU: {maxCount: N,
  offline_secure|offline_community: [DC...]}} narrows it).
  Default catalog (GPU ids exact; $/GPU/h secure, community, secureSpot, communitySpot):
    NVIDIA RTX 6000 Ada Generation  0.77 0.74 0.39 0.37   48 GB
    NVIDIA A100 80GB PCIe           1.64 1.19 0.82 0.60   80 GB
    NVIDIA A100-SXM4-80GB           1.74 1.39 0.89 0.70   80 GB
    NVIDIA RTX A6000                0.49 0.33 0.25 0.17   48 GB
    NVIDIA L40S                     0.86 0.79 0.43 0.40   48 GB
  Data centres: EU-RO-1, US-TX-3, CA-MTL-1, EU-SE-1 (levels per GPU in
  DEFAULT_CATALOG below; e.g. RTX 6000 Ada is NONE in EU-SE-1).  Without
  dataCenterIds a create lands in the first of these with stock.
  Availability levels: NONE|LOW|MEDIUM|HIGH.  A (gpu, dc) at NONE answers
  creates with the capacity 400, like an exhausted pool.

  Pod (v2) fields, exactly the document's Pod: id name status actions image args
  disk mounts ports env registry cloud dataCenterId cudaVersion ssh{direct,proxy}
  template cost locked runtime createdAt startedAt gpu{id,count} (or
  cpu{id,vcpuCount,memory}) globalNetworking{enabled}.  No costPerHr,
  lastStatusChange or interruptible (GraphQL has podType/lastStatusChange;
  /_admin/state shows interruptible and lastStatusChange for tests).
  Lifecycle: PROVISIONING (provision_delay) -> STARTING (start_delay) ->
  RUNNING with runtime null and ssh.direct null (boot_delay) -> runtime
  {uptime,gpus,cpu,memory,ports:[{ip:"127.0.0.1",private:22,public:P,type:"tcp"}]}
  and ssh.direct {host,port,username,command} on one of --ssh-hosts (round
  robin at create; admin can pin).  ssh.direct stays null forever when the
  request's `ports` lacks "22/tcp" (omitted ports default to ["8888/http","22/tcp"]),
  and so do ssh.proxy and the runtime port for 22 when the pod has no key:
  sshd starts only with env PUBLIC_KEY (REST env object, GraphQL env list) or
  an account key registered (PUT /v2/account/ssh-keys) before the create.
  cost = catalog price (secure/community by cloud; the bid for spot) x count
  while PROVISIONING/STARTING/RUNNING, 0.0 when EXITED/ERROR/TERMINATED.

GraphQL POST /graphql  {"query": "...", "variables": {...}, "operationName"?}.
  A small real parser: operations, aliases, arguments (literals, variables,
  objects, lists), nested selection sets; no fragments or directives.  Only
  fields that exist are answered; an unknown field is a validation error
  (HTTP 400, Apollo style), and so is an input field the input type lacks
  or a missing required one (bidPerGpu).  Field lists follow the public
  GraphQL types (Pod has podType INTERRUPTABLE|RESERVED but no
  `interruptible`; Machine has dataCenterId, gpuTypeId, location, podHostId,
  secureCloud ...).  Resolver errors answer HTTP 200 with
  {"errors":[{"message","path","extensions":{"code"}}],"data":null}.
  Mutations: podRentInterruptable(input) (spot, bidPerGpu required and >=
  lowestPrice.minimumBidPrice), podFindAndDeployOnDemand(input), podStop(input:{podId}),
  podTerminate(input:{podId}) (scalar; "pod not found to terminate").
  Queries: pod(input:{podId}), myself{id pods{...}}, gpuTypes(input:{id}){...
  lowestPrice(input:{gpuCount,secureCloud,dataCenterId}){minimumBidPrice
  uninterruptablePrice stockStatus availableGpuCounts ...}}, dataCenters{...}.
  stockStatus is "High"|"Medium"|"Low", null when NONE.  minimumBidPrice is
  the spot price of the asked cloud (secureCloud true/false; community when
  not given).  Create inputs accept terminateAfter / stopAfter as an RFC 3339
  time or a duration ("90s", "5m", "1h30m"): the fake terminates (stops) the
  pod when it passes.  Capacity and bid errors carry code
  INTERNAL_SERVER_ERROR / BAD_USER_INPUT (RunPod's codes are not documented;
  match on the text).

Admin (no auth, JSON) under /_admin:
  GET  /_admin/state      {"config","pods":[all, incl. TERMINATED, with internals],"requests":[...]}
  GET  /_admin/requests   [{seq,time,method,path,query,status,op,body}]   DELETE clears
  GET  /_admin/config     POST merges: boot_delay, provision_delay, start_delay,
       latency, ssh_hosts (list or "h:p,h:p"), ssh_pin ("h:p"|null), ssh_user,
       rate_limit {minute,hour,day}, rate_window (seconds of the "minute" window,
       default 60: shorter makes pacing testable), catalog {GPU_ID: {securePrice, communityPrice,
       secureSpotPrice, communitySpotPrice, secureSpotFloor, communitySpotFloor
       (lowestPrice.minimumBidPrice and the lowest bid a rent takes; default: the
       spot price), memoryInGb, displayName,
       availability: {DC: LEVEL}}} (an unknown id adds a GPU),
       capacity ("*" | [{gpu, dc}] with "*" wildcards; [] clears), capacity_form
       ("400" | "500" | "alternate": the no-capacity answer as the 400 "no longer any
       instances" text, the 500 "There are no instances currently available", or
       each in turn), ssh_direct (false: ssh.direct stays null, so a client must use
       runtime.ports), runtime_ip (the runtime port's ip for 22, e.g. "10.0.0.7";
       null: the ssh host), host_cuda (the CUDA version of every host, "12.8": a
       create whose gpu.minCudaVersion is newer, or whose allowedCudaVersions
       leave it out, finds no host and gets the capacity answer),
       forbidden ([{gpu, dc}]), fail_next ([{match:"POST /v2/pods"|"gql:podRentInterruptable"|"*",
       status, retry_after, count, detail}], appended ([] clears); "METHOD /path*" prefixes
       work; on /graphql a 4xx answers 200 + errors[] like RunPod, 429/5xx stay
       HTTP), create_then_timeout
       (N | {count, sleep (s, default 30), mode:"sleep"|"drop"}), boot_fail
       ({gpu?, count?, status:"EXITED"|"ERROR"} or null)
  POST /_admin/preempt    {"id", "terminate"?:false} spot pod -> EXITED (or TERMINATED),
                          lastStatusChange "Outbid: ...", cost 0, runtime null
  POST /_admin/pod        {"id", "cost"?, "ssh"?: "h:p", "status"?, "lastStatusChange"?,
                          "backdate"?: seconds} patch one pod; backdate shifts its
                          times (and billing) into the past, for cost tests
  POST /_admin/reset      forget pods, requests, config (back to startup)
  GET  /_admin/ping       {"ok":true}

What it does not implement: PATCH /v2/pods/{id}, templates, network volumes,
storage billing, CPU flavour availability, v1 REST (410 only), GraphQL
fragments/directives, podResume/podBidResume.
"""

import argparse
import copy
import datetime
import json
import os
import random
import re
import string
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CAPACITY_TEXT = ("There are no longer any instances available with the requested "
                 "specifications. Please refresh and try again.")
# The same refusal as RunPod also answers it: HTTP 500 (config capacity_form).
CAPACITY_TEXT_500 = "There are no instances currently available"
GENERIC_TEXT = "Something went wrong. Please try again later or contact support."

DATA_CENTERS = [
    # id, name, region
    ("EU-RO-1", "Romania", "EUROPE"),
    ("US-TX-3", "Texas 3", "NORTH_AMERICA"),
    ("CA-MTL-1", "Montreal 1", "NORTH_AMERICA"),
    ("EU-SE-1", "Sweden", "EUROPE"),
]

# id -> entry.  Prices per GPU per hour (USD), believable Nov 2026 figures.
DEFAULT_CATALOG = {
    "NVIDIA RTX 6000 Ada Generation": dict(
        displayName="RTX 6000 Ada", memoryInGb=48, securePrice=0.77, communityPrice=0.74,
        secureSpotPrice=0.39, communitySpotPrice=0.37,
        availability={"EU-RO-1": "HIGH", "US-TX-3": "MEDIUM", "CA-MTL-1": "LOW", "EU-SE-1": "NONE"}),
    "NVIDIA A100 80GB PCIe": dict(
        displayName="A100 PCIe", memoryInGb=80, securePrice=1.64, communityPrice=1.19,
        secureSpotPrice=0.82, communitySpotPrice=0.60,
        availability={"EU-RO-1": "MEDIUM", "US-TX-3": "HIGH", "CA-MTL-1": "LOW", "EU-SE-1": "LOW"}),
    "NVIDIA A100-SXM4-80GB": dict(
        displayName="A100 SXM", memoryInGb=80, securePrice=1.74, communityPrice=1.39,
        secureSpotPrice=0.89, communitySpotPrice=0.70,
        availability={"EU-RO-1": "LOW", "US-TX-3": "MEDIUM", "CA-MTL-1": "NONE", "EU-SE-1": "HIGH"}),
    "NVIDIA RTX A6000": dict(
        displayName="RTX A6000", memoryInGb=48, securePrice=0.49, communityPrice=0.33,
        secureSpotPrice=0.25, communitySpotPrice=0.17,
        availability={"EU-RO-1": "HIGH", "US-TX-3": "HIGH", "CA-MTL-1": "MEDIUM", "EU-SE-1": "MEDIUM"}),
    "NVIDIA L40S": dict(
        displayName="L40S", memoryInGb=48, securePrice=0.86, communityPrice=0.79,
        secureSpotPrice=0.43, communitySpotPrice=0.40,
        availability={"EU-RO-1": "LOW", "US-TX-3": "MEDIUM", "CA-MTL-1": "HIGH", "EU-SE-1": "NONE"}),
}
CPU_FLAVORS = {"cpu3c": 0.03, "cpu3g": 0.04, "cpu3m": 0.05, "cpu5c": 0.035, "cpu5g": 0.045, "cpu5m": 0.055}
LEVELS = ["NONE", "LOW", "MEDIUM", "HIGH"]

DEFAULT_CONFIG = dict(
    provision_delay=0.3, start_delay=0.3, boot_delay=1.0, latency=0.0,
    ssh_hosts=[], ssh_pin=None, ssh_user="root",
    rate_limit={"minute": 1000, "hour": 50000, "day": 500000},
    catalog={}, capacity=[], forbidden=[], fail_next=[],
    create_then_timeout=None, boot_fail=None,
    capacity_form="400", ssh_direct=True, runtime_ip=None, host_cuda="12.8", rate_window=60,
)
WINDOWS = (("minute", 60), ("hour", 3600), ("day", 86400))

LIVE = ("PROVISIONING", "STARTING", "RUNNING")


def iso(t):
    if t is None:
        return None
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def jsdate(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%a %b %d %Y %H:%M:%S") + " GMT+0000 (Coordinated Universal Time)"


def pod_id():
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(14))


def parse_when(v, now):
    """terminateAfter/stopAfter: RFC 3339 time or a duration like 90s, 5m, 1h30m."""
    if v is None or v == "":
        return None
    if isinstance(v, (int, float)):
        return now + float(v)
    s = str(v).strip()
    m = re.fullmatch(r"((\d+(\.\d+)?)h)?((\d+(\.\d+)?)m)?((\d+(\.\d+)?)s)?", s)
    if m and s:
        return now + float(m.group(2) or 0) * 3600 + float(m.group(5) or 0) * 60 + float(m.group(8) or 0)
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        return d.timestamp()
    except ValueError:
        raise ValueError("invalid time or duration %r" % s)


def split_hosts(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v if str(x)]
    return [x for x in re.split(r"[,\s]+", str(v)) if x]


class ApiError(Exception):
    def __init__(self, status, detail, errors=None, code=None, headers=None):
        Exception.__init__(self, detail)
        self.status, self.detail, self.errors, self.code = status, detail, errors, code
        self.headers = headers or {}


TITLES = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
          404: "Not Found", 409: "Conflict", 410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests",
          500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
          504: "Gateway Timeout"}
DEFAULT_DETAIL = {402: "Insufficient balance: your account balance is too low to deploy this pod.",
                  403: "You do not have access to this resource.",
                  429: "rate limit exceeded for the minute window",
                  500: GENERIC_TEXT, 502: "Bad Gateway", 503: "Service temporarily unavailable.",
                  504: "Gateway Timeout", 400: "Bad Request", 422: "Unprocessable Entity"}


class State:
    def __init__(self, ssh_hosts, ssh_user, state_dir):
        self.lock = threading.RLock()
        self.boot = dict(ssh_hosts=ssh_hosts, ssh_user=ssh_user)
        self.state_dir = state_dir
        self.reset()

    def reset(self):
        with self.lock:
            self.config = copy.deepcopy(DEFAULT_CONFIG)
            self.config["ssh_hosts"] = list(self.boot["ssh_hosts"])
            self.config["ssh_user"] = self.boot["ssh_user"]
            self.pods = {}          # id -> internal pod dict (insertion ordered)
            self.requests = []
            self.seq = 0
            self.rr = 0
            self.rl = {}            # window name -> (key, count)
            self.cap_flip = False   # capacity_form alternate: the next answer is the 400
            self.fake_port = 40000
            self.account_keys = []  # GET/PUT /v2/account/ssh-keys

    # ---- catalog ---------------------------------------------------------
    def catalog(self):
        cat = copy.deepcopy(DEFAULT_CATALOG)
        for gid, o in self.config.get("catalog", {}).items():
            e = cat.setdefault(gid, dict(displayName=gid.replace("NVIDIA ", ""), memoryInGb=24,
                                         securePrice=1.0, communityPrice=0.8, secureSpotPrice=0.5,
                                         communitySpotPrice=0.4, availability={}))
            for k, v in o.items():
                if k == "availability":
                    e["availability"].update(v)
                else:
                    e[k] = v
        return cat

    def dc_ids(self, cat=None):
        ids = [d[0] for d in DATA_CENTERS]
        for e in (cat or self.catalog()).values():
            for dc in e["availability"]:
                if dc not in ids:
                    ids.append(dc)
        return ids

    def level(self, cat, gid, dc):
        return cat[gid]["availability"].get(dc, "NONE")

    def gpu_type_v2(self, gid, e, with_avail, count=1, cloud="SECURE"):
        """Exactly the document's GpuType fields (no spot prices: those are GraphQL's).
        dataCenters lists only the data centres that offer `count` GPUs on `cloud`."""
        mc = int(e.get("maxCount", 8))
        g = {"id": gid, "name": e["displayName"], "pool": None,
             "manufacturer": "NVIDIA", "memory": e["memoryInGb"],
             "secure": True, "community": True,
             "price": {"secure": e["securePrice"], "community": e["communityPrice"]},
             "maxCount": {"secure": mc, "community": mc}}
        if with_avail:
            names = {d[0]: d[1] for d in DATA_CENTERS}
            off = e.get("offline_" + cloud.lower(), [])
            dcs = [] if count > mc else [{"id": dc, "name": names.get(dc, dc), "availability": lv}
                                         for dc, lv in e["availability"].items() if lv != "NONE" and dc not in off]
            g["dataCenters"] = dcs
            g["availability"] = max((d["availability"] for d in dcs), key=LEVELS.index, default="NONE")
        return g

    # ---- matching helpers --------------------------------------------------
    @staticmethod
    def _match(rules, gid, dc):
        if rules == "*" or rules is True:
            return True
        for r in rules or []:
            if r == "*":
                return True
            if isinstance(r, dict) and r.get("gpu", "*") in ("*", gid) and r.get("dc", "*") in ("*", dc):
                return True
        return False

    def take_fail(self, method, path, op):
        q = self.config.get("fail_next") or []
        for i, f in enumerate(q):
            m = f.get("match", "*")
            hit = (m == "*" or m == "%s %s" % (method, path)
                   or (m.endswith("*") and ("%s %s" % (method, path)).startswith(m[:-1]))
                   or (op and m == "gql:" + op))
            if hit:
                f["count"] = int(f.get("count", 1)) - 1
                if f["count"] <= 0:
                    del q[i]
                return f
        return None

    # ---- rate limit ---------------------------------------------------------
    def rate(self, now):
        """Count one authenticated call; return (headers, exceeded_window_or_None, retry)."""
        quotas = self.config.get("rate_limit") or {}
        parts, pol, over, retry = [], [], None, 0
        for name, w in WINDOWS:
            if name == "minute":  # admin rate_window: a shorter first window, for tests
                w = int(self.config.get("rate_window") or w)
            q = int(quotas.get(name, 10 ** 9))
            key = int(now // w)
            k, n = self.rl.get(name, (key, 0))
            if k != key:
                n = 0
            n += 1
            self.rl[name] = (key, n)
            t = int(w - (now % w)) or w
            r = max(0, q - n)
            if n > q and over is None:
                over, retry = name, t
            parts.append('"%s";r=%d;t=%d' % (name, r, t))
            pol.append('"%s";q=%d;w=%d' % (name, q, w))
        return {"RateLimit": ", ".join(parts), "RateLimit-Policy": ", ".join(pol)}, over, retry

    # ---- pods -----------------------------------------------------------------
    def next_ssh(self):
        pin = self.config.get("ssh_pin")
        if pin:
            return pin
        hosts = self.config.get("ssh_hosts") or []
        if not hosts:
            self.fake_port += 1
            return "127.0.0.1:%d" % self.fake_port
        h = hosts[self.rr % len(hosts)]
        self.rr += 1
        return h

    def cuda_fits(self, spec):
        """Every host runs CUDA host_cuda: a create asking for a newer minimum, or
        allowing only other versions, finds no host."""
        def v(x):
            return tuple(int(n) for n in str(x).split("."))
        host = str(self.config.get("host_cuda") or "12.8")
        if spec.get("min_cuda") and v(spec["min_cuda"]) > v(host):
            return False
        allowed = spec.get("allowed_cuda")
        return not allowed or host in [str(x) for x in allowed]

    def create(self, spec, now):
        """spec: name image gpu_id count cpu cloud dcs interruptible bid ports env disk args
        terminate_after stop_after.  Returns the internal pod or raises ApiError."""
        cat = self.catalog()
        gid = spec.get("gpu_id")
        clouds = [spec["cloud"]] if spec.get("cloud") in ("SECURE", "COMMUNITY") else ["SECURE", "COMMUNITY"]
        if gid is not None:
            dcs = spec.get("dcs") or self.dc_ids(cat)
            placed = None
            for dc in dcs:
                if self._match(self.config.get("forbidden"), gid, dc):
                    raise ApiError(403, "You do not have access to GPU type %s in %s." % (gid, dc),
                                   code="FORBIDDEN")
            for dc in dcs:
                if self.level(cat, gid, dc) == "NONE" or self._match(self.config.get("capacity"), gid, dc):
                    continue
                if not self.cuda_fits(spec):
                    continue  # no host whose driver the image can use: like no capacity
                placed = dc
                break
            if placed is None:
                form = str(self.config.get("capacity_form") or "400")
                if form == "alternate":
                    form = "500" if self.cap_flip else "400"
                    self.cap_flip = not self.cap_flip
                if form == "500":
                    raise ApiError(500, CAPACITY_TEXT_500, code="INTERNAL_SERVER_ERROR")
                raise ApiError(400, CAPACITY_TEXT, code="INTERNAL_SERVER_ERROR")
            e = cat[gid]
            if spec.get("interruptible"):
                bid = float(spec["bid"])
                cloud = None
                for c in clouds:
                    floor = spot_floor(e, c == "SECURE")
                    if bid + 1e-9 >= floor:
                        cloud = c
                        break
                if cloud is None:
                    floor = min(spot_floor(e, c == "SECURE") for c in clouds)
                    raise ApiError(400, "Your bid price of $%.3f/hr per GPU is below the current minimum "
                                   "bid price of $%.3f/hr for this GPU type." % (bid, floor),
                                   code="BAD_USER_INPUT")
                price = bid
            else:
                cloud = clouds[0]
                price = e["securePrice"] if cloud == "SECURE" else e["communityPrice"]
        else:
            cloud, placed = clouds[0], (spec.get("dcs") or ["EU-RO-1"])[0]
            price = CPU_FLAVORS[spec["cpu"]["id"]] * spec["cpu"]["vcpuCount"] / max(1, spec.get("count", 1))
        cfg = self.config
        pid = pod_id()
        while pid in self.pods:
            pid = pod_id()
        bf = cfg.get("boot_fail")
        fail = None
        if bf and bf.get("gpu", "*") in ("*", gid) and int(bf.get("count", 1)) > 0:
            fail = bf.get("status", "EXITED")
            bf["count"] = int(bf.get("count", 1)) - 1
            if bf["count"] <= 0:
                cfg["boot_fail"] = None
        t1 = now + float(cfg["provision_delay"])
        t2 = t1 + float(cfg["start_delay"])
        t3 = t2 + float(cfg["boot_delay"])
        p = dict(id=pid, name=spec["name"], image=spec.get("image") or "", gpu_id=gid,
                 count=int(spec.get("count") or 1), cpu=spec.get("cpu"), cloud=cloud, dc=placed,
                 interruptible=bool(spec.get("interruptible")), bid=spec.get("bid"),
                 price=price, cost_override=None, ports=list(spec.get("ports") or []),
                 env=dict(spec.get("env") or {}),
                 sshd=bool((spec.get("env") or {}).get("PUBLIC_KEY", "").strip() or self.account_keys),
                 disk=spec.get("disk") or 50, args=spec.get("args") or "",
                 status="PROVISIONING", ready=False, created=now, t_starting=t1, t_running=t2, t_ready=t3,
                 started=None, boot_fail=fail, ssh=self.next_ssh(),
                 terminate_after=spec.get("terminate_after"), stop_after=spec.get("stop_after"),
                 last_status_change="Rented by User: %s" % jsdate(now), status_since=now,
                 via=spec.get("via", "rest"), history=[("PROVISIONING", now)], segments=[],
                 cuda=str(cfg.get("host_cuda") or "12.8"), min_cuda=spec.get("min_cuda"))
        self.pods[pid] = p
        self._bill(p, now)
        return p

    def _set(self, p, st, t, lsc=None):
        p["status"], p["status_since"] = st, t
        p["history"].append((st, t))
        if lsc:
            p["last_status_change"] = lsc
        if st not in ("RUNNING",):
            p["ready"] = False
        self._bill(p, t)

    def _bill(self, p, t):
        """Keep p["segments"] = [[start, end|None, $/h]]: what the pod is billed, and when."""
        seg = p["segments"]
        rate = self.cost(p)
        if seg and seg[-1][1] is None:
            if seg[-1][2] == rate:
                return
            seg[-1][1] = max(t, seg[-1][0])
        if rate > 0:
            seg.append([t, None, rate])

    def billing(self, start, end, bucket, pod_filter):
        """v2 /billing/pods records: per pod and bucket, amount = sum of rate x time."""
        def floor(t):
            d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
            if bucket == "hour":
                d = d.replace(minute=0, second=0, microsecond=0)
            else:
                d = d.replace(hour=0, minute=0, second=0, microsecond=0)
                if bucket == "week":
                    d -= datetime.timedelta(days=d.weekday())
                elif bucket == "month":
                    d = d.replace(day=1)
                elif bucket == "year":
                    d = d.replace(month=1, day=1)
            return d

        def nxt(d):
            if bucket == "hour":
                return d + datetime.timedelta(hours=1)
            if bucket == "day":
                return d + datetime.timedelta(days=1)
            if bucket == "week":
                return d + datetime.timedelta(days=7)
            if bucket == "month":
                return d.replace(year=d.year + (d.month == 12), month=d.month % 12 + 1)
            return d.replace(year=d.year + 1)
        recs = []
        for p in self.pods.values():
            if pod_filter and p["id"] != pod_filter:
                continue
            d = floor(start)
            while d.timestamp() < end:
                b0, b1 = max(d.timestamp(), start), min(nxt(d).timestamp(), end)
                amt = 0.0
                for s0, s1, rate in p["segments"]:
                    lo, hi = max(s0, b0), min(s1 if s1 is not None else end, b1)
                    if hi > lo:
                        amt += rate * (hi - lo) / 3600.0
                if amt > 0:
                    recs.append({"startTime": iso(d.timestamp()), "endTime": iso(nxt(d).timestamp()),
                                 "podId": p["id"], "totalAmount": round(amt, 8), "gpuAmount": round(amt, 8),
                                 "cpuAmount": 0.0, "diskAmount": 0.0})
                d = nxt(d)
        recs.sort(key=lambda r: (r["startTime"], r["podId"]))
        return recs

    def backdate(self, p, secs):
        """Shift every time of a pod into the past (for cost tests)."""
        for k in ("created", "t_starting", "t_running", "t_ready", "started", "status_since"):
            if p.get(k) is not None:
                p[k] -= secs
        p["history"] = [(st, t - secs) for st, t in p["history"]]
        for seg in p["segments"]:
            seg[0] -= secs
            if seg[1] is not None:
                seg[1] -= secs

    def advance(self, now):
        for p in self.pods.values():
            self._advance(p, now)

    def _advance(self, p, now):
        if p["status"] == "TERMINATED":
            return
        lim = now
        for k in ("terminate_after", "stop_after"):
            if p.get(k) is not None:
                lim = min(lim, p[k])
        if p["status"] == "PROVISIONING" and lim >= p["t_starting"]:
            self._set(p, "STARTING", p["t_starting"])
        if p["status"] == "STARTING" and lim >= p["t_running"]:
            self._set(p, "RUNNING", p["t_running"])
            p["started"] = p["t_running"]
        if p["status"] == "RUNNING" and not p["ready"] and p["t_ready"] is not None and lim >= p["t_ready"]:
            if p["boot_fail"]:
                st = p["boot_fail"]
                self._set(p, st, p["t_ready"], "Exited by Runpod: container exited with code 1: %s" % jsdate(p["t_ready"])
                          if st == "EXITED" else "Error: image pull failed: %s" % jsdate(p["t_ready"]))
                p["boot_fail"] = None
            else:
                p["ready"] = True
        sa, ta = p.get("stop_after"), p.get("terminate_after")
        if sa is not None and now >= sa and p["status"] in LIVE:
            self._set(p, "EXITED", sa, "Exited by Runpod: stopAfter reached: %s" % jsdate(sa))
            p["stop_after"] = None
        if ta is not None and now >= ta:
            self._set(p, "TERMINATED", ta, "Terminated by Runpod: terminateAfter reached: %s" % jsdate(ta))
            p["terminate_after"] = None

    def restart(self, p, now, st="STARTING"):
        cfg = self.config
        p["t_starting"] = now
        p["t_running"] = now + float(cfg["start_delay"])
        p["t_ready"] = p["t_running"] + float(cfg["boot_delay"])
        self._set(p, st, now, "Rented by User: %s" % jsdate(now))

    def cost(self, p):
        if p["status"] not in LIVE:
            return 0.0
        if p["cost_override"] is not None:
            return float(p["cost_override"])
        return round(p["price"] * p["count"], 6)

    def actions(self, p):
        return {"PROVISIONING": ["stop", "terminate"], "STARTING": ["stop", "terminate"],
                "RUNNING": ["stop", "restart", "terminate"], "EXITED": ["start", "terminate"],
                "ERROR": ["start", "terminate"], "TERMINATED": []}[p["status"]]

    def host_port(self, p):
        h, _, port = p["ssh"].rpartition(":")
        return h or "127.0.0.1", int(port)

    def has22(self, p):
        """sshd listens on 22/tcp only when the pod has a key: env PUBLIC_KEY or an
        account key registered when it was created (RunPod's start script)."""
        return p["sshd"] and any(re.fullmatch(r"22/tcp", x.strip()) for x in p["ports"])

    def runtime_ports(self, p):
        host, port = self.host_port(p)
        out = []
        for s in p["ports"]:
            m = re.fullmatch(r"(\d+)/(tcp|http)", s.strip())
            if not m:
                continue
            priv, typ = int(m.group(1)), m.group(2)
            if typ == "tcp" and priv == 22:
                if not p["sshd"]:
                    continue
                ip = self.config.get("runtime_ip") or host
                out.append({"ip": ip, "private": 22, "public": port, "type": "tcp", "isIpPublic": ip == host})
            elif typ == "tcp":
                out.append({"ip": host, "private": priv, "public": 20000 + priv % 10000, "type": "tcp",
                            "isIpPublic": True})
            else:
                out.append({"ip": "100.65.0.2", "private": priv, "public": priv, "type": "http",
                            "isIpPublic": False})
        return out

    def v2(self, p, now):
        ready = p["status"] == "RUNNING" and p["ready"]
        runtime = None
        direct = proxy = None
        if ready:
            runtime = {"uptime": int(now - p["t_ready"]),
                       "gpus": [{"util": 0, "memoryUtil": 0} for _ in range(p["count"] if p["gpu_id"] else 0)],
                       "cpu": {"util": 1}, "memory": {"util": 3},
                       "ports": [{k: x[k] for k in ("ip", "private", "public", "type")} for x in self.runtime_ports(p)]}
            user = self.config.get("ssh_user") or "root"
            if self.has22(p) and self.config.get("ssh_direct", True):
                host, port = self.host_port(p)
                direct = {"host": host, "port": port, "username": user,
                          "command": "ssh %s@%s -p %d" % (user, host, port)}
            pu = "%s-64410f2a" % p["id"]
            proxy = None if not p["sshd"] else {"host": "ssh.runpod.io", "port": 22, "username": pu,
                     "command": "ssh %s@ssh.runpod.io" % pu}
        c = self.cost(p)
        o = {"id": p["id"], "name": p["name"], "status": p["status"], "actions": self.actions(p),
             "image": p["image"], "args": p["args"], "disk": p["disk"], "mounts": {},
             "ports": p["ports"], "env": p["env"], "registry": None, "cloud": p["cloud"],
             "dataCenterId": p["dc"], "cudaVersion": p.get("cuda") if p["gpu_id"] else None,
             "ssh": {"direct": direct, "proxy": proxy}, "template": None,
             "cost": c, "locked": False, "runtime": runtime,
             "createdAt": iso(p["created"]), "startedAt": iso(p["started"]),
             "globalNetworking": {"enabled": False}}
        if p["gpu_id"]:
            o["gpu"] = {"id": p["gpu_id"], "count": p["count"]}
        else:
            o["cpu"] = {"id": p["cpu"]["id"], "vcpuCount": p["cpu"]["vcpuCount"],
                        "memory": 2 * p["cpu"]["vcpuCount"]}
        return o

    def gql_pod(self, p, now):
        ready = p["status"] == "RUNNING" and p["ready"]
        cat = self.catalog()
        e = cat.get(p["gpu_id"] or "", {})
        desired = {"PROVISIONING": "RUNNING", "STARTING": "RUNNING", "RUNNING": "RUNNING",
                   "EXITED": "EXITED", "ERROR": "EXITED", "TERMINATED": "TERMINATED"}[p["status"]]
        runtime = None
        if ready:
            runtime = {"uptimeInSeconds": int(now - p["t_ready"]),
                       "ports": [{"ip": x["ip"], "isIpPublic": x["isIpPublic"], "privatePort": x["private"],
                                  "publicPort": x["public"], "type": x["type"]} for x in self.runtime_ports(p)],
                       "gpus": [{"id": "GPU-%s-%d" % (p["id"][:8], i), "gpuUtilPercent": 0, "memoryUtilPercent": 0}
                                for i in range(p["count"] if p["gpu_id"] else 0)],
                       "container": {"cpuPercent": 1, "memoryPercent": 3}}
        c = self.cost(p)
        return {"id": p["id"], "name": p["name"], "desiredStatus": desired,
                "lastStatusChange": p["last_status_change"], "costPerHr": c, "adjustedCostPerHr": c,
                "gpuCount": p["count"] if p["gpu_id"] else 0, "vcpuCount": 8 * p["count"],
                "memoryInGb": 62 * p["count"], "containerDiskInGb": p["disk"], "volumeInGb": 0,
                "volumeMountPath": "/workspace", "imageName": p["image"], "dockerArgs": p["args"],
                "env": ["%s=%s" % kv for kv in p["env"].items()], "ports": ",".join(p["ports"]),
                "podType": "INTERRUPTABLE" if p["interruptible"] else "RESERVED",
                "uptimeSeconds": int(now - p["t_ready"]) if ready else 0,
                "machineId": "m-" + p["id"][:10], "locked": False, "createdAt": iso(p["created"]),
                "lastStartedAt": iso(p["started"]), "dockerId": None, "port": None, "templateId": None,
                "version": 0, "volumeEncrypted": False,
                "lowestBidPriceToResume": (e.get("secureSpotPrice") if p["cloud"] == "SECURE"
                                           else e.get("communitySpotPrice")) if p["interruptible"] else None,
                "networkVolumeId": None, "cpuFlavorId": p["cpu"]["id"] if p["cpu"] else None,
                "machineType": "GPU" if p["gpu_id"] else "CPU", "costMultiplier": 1,
                "consumerUserId": "user_fake_0001", "containerRegistryAuthId": None,
                "machine": {"id": "m-" + p["id"][:10], "podHostId": "%s-64410f2a" % p["id"],
                            "gpuDisplayName": e.get("displayName"), "location": p["dc"], "dataCenterId": p["dc"],
                            "gpuTypeId": p["gpu_id"], "secureCloud": p["cloud"] == "SECURE",
                            "supportPublicIp": True, "costPerHr": str(c), "currentPricePerGpu": str(p["price"]),
                            "gpuAvailable": 2, "listed": True, "machineType": "GPU" if p["gpu_id"] else "CPU",
                            "maxDownloadSpeedMbps": 2500, "maxUploadSpeedMbps": 2000, "minPodGpuCount": 1,
                            "cpuCount": 32},
                "runtime": runtime}

    def admin_pod(self, p, now):
        o = self.v2(p, now)
        # not API fields (the v2 Pod has neither): for tests and operators
        o["interruptible"], o["lastStatusChange"] = p["interruptible"], p["last_status_change"]
        o["_internal"] = {"ssh": p["ssh"], "price": p["price"], "bid": p["bid"], "via": p["via"],
                          "history": [(s_, iso(t_)) for s_, t_ in p["history"]],
                          "segments": [[iso(a_), iso(b_), r_] for a_, b_, r_ in p["segments"]], "terminateAfter": iso(p["terminate_after"]),
                          "stopAfter": iso(p["stop_after"]), "ready": p["ready"]}
        return o


# ---------------------------------------------------------------- validation
CREATE_KEYS = {"name", "image", "templateId", "gpu", "cpu", "cloud", "dataCenterIds", "disk", "mounts",
               "ports", "env", "args", "registry", "startSsh", "startJupyter", "globalNetworking"}


def validate_create(b, cat, dcs):
    errs = []
    if not isinstance(b, dict):
        raise ApiError(422, "request body must be a JSON object", ["body: must be an object"])
    for k in b:
        if k not in CREATE_KEYS:
            errs.append("%s: unknown property" % k)
    if "name" not in b:
        errs.append("name: is required")
    elif not isinstance(b["name"], str) or not b["name"]:
        errs.append("name: must be a non-empty string")
    if "templateId" not in b and "image" not in b:
        errs.append("image: is required when templateId is absent")
    for k in ("image", "args", "templateId"):
        if k in b and not isinstance(b[k], str):
            errs.append("%s: must be a string" % k)
    if "registry" in b and b["registry"] is not None and not isinstance(b["registry"], str):
        errs.append("registry: must be a string or null")
    for k in ("startSsh", "startJupyter", "globalNetworking"):
        if k in b and not isinstance(b[k], bool):
            errs.append("%s: must be a boolean" % k)
    if ("gpu" in b) == ("cpu" in b):
        errs.append("gpu: exactly one of gpu or cpu is required")
    if "gpu" in b:
        g = b["gpu"]
        if not isinstance(g, dict):
            errs.append("gpu: must be an object")
        else:
            for k in g:
                if k not in ("id", "count", "allowedCudaVersions", "minCudaVersion"):
                    errs.append("gpu.%s: unknown property" % k)
            if "id" not in g:
                errs.append("gpu.id: is required")
            elif not isinstance(g["id"], str) or g["id"] not in cat:
                errs.append("gpu.id: %s is not a known GPU type" % json.dumps(g["id"]))
            if "count" in g and (not isinstance(g["count"], int) or isinstance(g["count"], bool) or g["count"] < 1):
                errs.append("gpu.count: must be an integer >= 1")
            if "minCudaVersion" in g and not re.fullmatch(r"\d+\.\d+", str(g["minCudaVersion"])):
                errs.append("gpu.minCudaVersion: must match ^\\d+\\.\\d+$")
            acv = g.get("allowedCudaVersions", [])
            if not isinstance(acv, list) or any(not re.fullmatch(r"\d+\.\d+", str(x)) for x in acv):
                errs.append("gpu.allowedCudaVersions: must be an array of \"N.N\" strings")
    if "cpu" in b:
        c = b["cpu"]
        if not isinstance(c, dict):
            errs.append("cpu: must be an object")
        else:
            for k in c:
                if k not in ("id", "vcpuCount"):
                    errs.append("cpu.%s: unknown property" % k)
            if c.get("id") not in CPU_FLAVORS:
                errs.append("cpu.id: must be one of %s" % ", ".join(sorted(CPU_FLAVORS)))
            v = c.get("vcpuCount")
            if not isinstance(v, int) or isinstance(v, bool) or v < 2:
                errs.append("cpu.vcpuCount: is required and must be an integer >= 2")
    if "cloud" in b and b["cloud"] not in ("SECURE", "COMMUNITY"):
        errs.append("cloud: must be one of SECURE, COMMUNITY")
    if "dataCenterIds" in b:
        d = b["dataCenterIds"]
        if not isinstance(d, list) or any(not isinstance(x, str) for x in d):
            errs.append("dataCenterIds: must be an array of strings")
    if "disk" in b and (not isinstance(b["disk"], int) or isinstance(b["disk"], bool) or b["disk"] < 1):
        errs.append("disk: must be an integer >= 1")
    if "env" in b and (not isinstance(b["env"], dict) or any(not isinstance(v, str) for v in b["env"].values())):
        errs.append("env: must be an object of strings")
    if "ports" in b:
        p = b["ports"]
        if not isinstance(p, list) or any(not isinstance(x, str) or not re.fullmatch(r"\d{1,5}/(tcp|http)", x)
                                          for x in p):
            errs.append("ports: must be an array of \"<port>/<tcp|http>\" strings")
    if "mounts" in b:
        m = b["mounts"]
        if not isinstance(m, dict) or any(k not in ("persistent", "network") for k in m):
            errs.append("mounts: must be an object with persistent or network")
        else:
            if "persistent" in m and "network" in m:
                errs.append("mounts: persistent and network are mutually exclusive")
            ps = m.get("persistent")
            if ps is not None and (not isinstance(ps, dict) or not isinstance(ps.get("size"), int)
                                   or ps["size"] < 10 or not isinstance(ps.get("path"), str)):
                errs.append("mounts.persistent: needs size >= 10 and path")
    if errs:
        raise ApiError(422, "The request body does not match the schema.", errs)
    for d in b.get("dataCenterIds") or []:
        if d not in dcs:
            raise ApiError(400, "Unknown data center id: %s" % d)


# ---------------------------------------------------------------- GraphQL
class GqlError(Exception):
    def __init__(self, message, code="GRAPHQL_VALIDATION_FAILED", http=400):
        Exception.__init__(self, message)
        self.message, self.code, self.http = message, code, http


TOKEN = re.compile(r'''
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>\.\.\.|[!$():=@\[\]{}|&])
''', re.X)


def gql_tokens(src):
    out, i = [], 0
    while i < len(src):
        m = TOKEN.match(src, i)
        if not m:
            raise GqlError("Syntax Error: Unexpected character %r." % src[i], "GRAPHQL_PARSE_FAILED")
        i = m.end()
        k = m.lastgroup
        if k == "ws":
            continue
        v = m.group(k)
        if k == "str":
            v = json.loads(v)
        out.append((k, v))
    out.append(("eof", None))
    return out


class GqlParser:
    def __init__(self, src, variables):
        self.t = gql_tokens(src)
        self.i = 0
        self.vars = variables or {}

    def peek(self):
        return self.t[self.i]

    def take(self, kind=None, val=None):
        k, v = self.t[self.i]
        if (kind and k != kind) or (val is not None and v != val):
            raise GqlError("Syntax Error: Expected %s, found %s." % (val or kind, v if v is not None else "<EOF>"),
                           "GRAPHQL_PARSE_FAILED")
        self.i += 1
        return v

    def is_p(self, v):
        k, x = self.peek()
        return k == "punct" and x == v

    def document(self, op_name=None):
        ops = []
        while self.peek()[0] != "eof":
            ops.append(self.operation())
        if not ops:
            raise GqlError("Syntax Error: Unexpected <EOF>.", "GRAPHQL_PARSE_FAILED")
        if op_name:
            for o in ops:
                if o[1] == op_name:
                    return o
            raise GqlError('Unknown operation named "%s".' % op_name)
        return ops[0]

    def operation(self):
        kind, name = "query", None
        if self.peek()[0] == "name":
            kind = self.take("name")
            if kind == "fragment":
                raise GqlError("fragments are not supported by this stand-in")
            if kind not in ("query", "mutation"):
                raise GqlError("Syntax Error: Unexpected Name \"%s\"." % kind, "GRAPHQL_PARSE_FAILED")
            if self.peek()[0] == "name":
                name = self.take("name")
            if self.is_p("("):       # variable definitions: skip, values come from `variables`
                depth = 0
                while True:
                    k, v = self.t[self.i]
                    if k == "eof":
                        raise GqlError("Syntax Error: Unexpected <EOF>.", "GRAPHQL_PARSE_FAILED")
                    self.i += 1
                    if k == "punct" and v in "([{":
                        depth += 1
                    elif k == "punct" and v in ")]}":
                        depth -= 1
                        if depth == 0:
                            break
        return (kind, name, self.selection_set())

    def selection_set(self):
        self.take("punct", "{")
        fields = []
        while not self.is_p("}"):
            if self.is_p("..."):
                raise GqlError("fragments are not supported by this stand-in")
            a = self.take("name")
            name = a
            if self.is_p(":"):
                self.take()
                name = self.take("name")
            args = {}
            if self.is_p("("):
                self.take()
                while not self.is_p(")"):
                    k = self.take("name")
                    self.take("punct", ":")
                    args[k] = self.value()
                self.take()
            if self.is_p("@"):
                raise GqlError("directives are not supported by this stand-in")
            sub = self.selection_set() if self.is_p("{") else None
            fields.append((a, name, args, sub))
        self.take()
        return fields

    def value(self):
        k, v = self.peek()
        if k == "punct" and v == "$":
            self.take()
            n = self.take("name")
            return self.vars.get(n)
        if k == "punct" and v == "[":
            self.take()
            out = []
            while not self.is_p("]"):
                out.append(self.value())
            self.take()
            return out
        if k == "punct" and v == "{":
            self.take()
            out = {}
            while not self.is_p("}"):
                n = self.take("name")
                self.take("punct", ":")
                out[n] = self.value()
            self.take()
            return out
        self.take()
        if k == "num":
            return float(v) if re.search(r"[.eE]", v) else int(v)
        if k == "str":
            return v
        if k == "name":
            return {"true": True, "false": False, "null": None}.get(v, v)
        raise GqlError("Syntax Error: Unexpected %s." % v, "GRAPHQL_PARSE_FAILED")


S = None  # scalar marker
GQL_TYPES = {
    "Pod": {"id": S, "name": S, "desiredStatus": S, "lastStatusChange": S, "costPerHr": S,
            "adjustedCostPerHr": S, "gpuCount": S, "vcpuCount": S, "memoryInGb": S, "containerDiskInGb": S,
            "volumeInGb": S, "volumeMountPath": S, "imageName": S, "dockerArgs": S, "env": S, "ports": S,
            "podType": S, "uptimeSeconds": S, "machineId": S, "locked": S, "createdAt": S,
            "lastStartedAt": S, "dockerId": S, "port": S, "templateId": S, "version": S, "volumeEncrypted": S,
            "lowestBidPriceToResume": S, "networkVolumeId": S, "cpuFlavorId": S, "machineType": S,
            "costMultiplier": S, "consumerUserId": S, "containerRegistryAuthId": S,
            "machine": "PodMachine", "runtime": "PodRuntime"},
    # No "interruptible" on the GraphQL Pod (that is a REST field): spot shows as podType INTERRUPTABLE.
    "PodMachine": {"id": S, "podHostId": S, "gpuDisplayName": S, "location": S, "dataCenterId": S,
                   "gpuTypeId": S, "secureCloud": S, "supportPublicIp": S, "costPerHr": S,
                   "currentPricePerGpu": S, "gpuAvailable": S, "listed": S, "machineType": S,
                   "maxDownloadSpeedMbps": S, "maxUploadSpeedMbps": S, "minPodGpuCount": S, "cpuCount": S},
    "PodRuntime": {"uptimeInSeconds": S, "ports": "PodRuntimePorts", "gpus": "PodRuntimeGpus",
                   "container": "PodRuntimeContainer"},
    "PodRuntimePorts": {"ip": S, "isIpPublic": S, "privatePort": S, "publicPort": S, "type": S},
    "PodRuntimeGpus": {"id": S, "gpuUtilPercent": S, "memoryUtilPercent": S},
    "PodRuntimeContainer": {"cpuPercent": S, "memoryPercent": S},
    "User": {"id": S, "pods": "Pod"},
    "GpuType": {"id": S, "displayName": S, "manufacturer": S, "memoryInGb": S, "cudaCores": S,
                "secureCloud": S, "communityCloud": S, "maxGpuCount": S, "maxGpuCountSecureCloud": S,
                "maxGpuCountCommunityCloud": S, "minPodGpuCount": S, "securePrice": S, "communityPrice": S,
                "secureSpotPrice": S, "communitySpotPrice": S, "oneWeekPrice": S, "oneMonthPrice": S,
                "threeMonthPrice": S, "sixMonthPrice": S, "clusterPrice": S,
                "lowestPrice": "LowestPrice", "nodeGroupDatacenters": "DataCenterRef"},
    "LowestPrice": {"minimumBidPrice": S, "uninterruptablePrice": S, "stockStatus": S,
                    "availableGpuCounts": S, "minVcpu": S, "minMemory": S, "countryCode": S, "compliance": S},
    "DataCenterRef": {"id": S},
    "DataCenter": {"id": S, "name": S, "listed": S, "location": S, "gpuAvailability": "GpuAvailability"},
    "GpuAvailability": {"gpuTypeId": S, "stockStatus": S, "available": S},
}
ROOT = {
    "query": {"pod": "Pod", "myself": "User", "gpuTypes": "GpuType", "dataCenters": "DataCenter"},
    "mutation": {"podRentInterruptable": "Pod", "podFindAndDeployOnDemand": "Pod", "podStop": "Pod",
                 "podTerminate": S},
}


_CREATE_IN = ("cloudType containerDiskInGb countryCode dockerArgs env gpuCount gpuTypeId imageName minDisk "
              "minDownload minMemoryInGb minUpload minVcpuCount name networkVolumeId port ports startJupyter "
              "startSsh stopAfter supportPublicIp templateId terminateAfter volumeInGb volumeKey volumeMountPath "
              "dataCenterId cudaVersion allowedCudaVersions minCudaVersion containerRegistryAuthId compliance").split()
GQL_INPUTS = {
    "podRentInterruptable": ("PodRentInterruptableInput", set(_CREATE_IN + ["bidPerGpu"]), ["bidPerGpu"]),
    "podFindAndDeployOnDemand": ("PodFindAndDeployOnDemandInput",
                                 set(_CREATE_IN + "aiApiId deployCost gpuTypeIdList savingsPlan instanceIds "
                                                  "computeType".split()), []),
    "podTerminate": ("PodTerminateInput", {"podId"}, ["podId"]),
    "podStop": ("PodStopInput", {"podId", "incrementVersion"}, ["podId"]),
    "pod": ("PodFilter", {"podId"}, ["podId"]),
}


def gql_check_input(field, args):
    """Input objects are validated before anything runs, as a GraphQL server does."""
    if field not in GQL_INPUTS:
        return
    tname, allowed, required = GQL_INPUTS[field]
    inp = args.get("input")
    if not isinstance(inp, dict):
        raise GqlError('Field "%s" argument "input" of type "%s!" is required, but it was not provided.'
                       % (field, tname))
    for k in inp:
        if k not in allowed:
            raise GqlError('Field "%s" is not defined by type "%s".' % (k, tname))
    for k in required:
        if inp.get(k) is None:
            raise GqlError('Field "%s.%s" of required type was not provided.' % (tname, k))


def gql_check(typ, sel, where):
    """Validate a selection set against GQL_TYPES before running anything."""
    fields = GQL_TYPES[typ]
    for alias, name, args, sub in sel:
        if name == "__typename":
            continue
        if name not in fields:
            raise GqlError('Cannot query field "%s" on type "%s".' % (name, typ))
        t = fields[name]
        if t is S and sub is not None:
            raise GqlError('Field "%s" must not have a selection since type "%s" has no subfields.' % (name, typ))
        if t is not S:
            if sub is None:
                raise GqlError('Field "%s" of type "%s" must have a selection of subfields.' % (name, t))
            gql_check(t, sub, where)


def gql_project(typ, val, sel):
    if val is None:
        return None
    if isinstance(val, list):
        return [gql_project(typ, v, sel) for v in val]
    out = {}
    for alias, name, args, sub in sel:
        if name == "__typename":
            out[alias] = typ
            continue
        v = val.get(name)
        if callable(v):
            v = v(args)
        t = GQL_TYPES[typ][name]
        out[alias] = v if t is S else gql_project(t, v, sub)
    return out


STOCK = {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low", "NONE": None}


def spot_floor(e, secure):
    """The lowest bid RunPod takes now (lowestPrice.minimumBidPrice): the admin
    catalog's secureSpotFloor/communitySpotFloor, else the spot price itself."""
    if secure:
        return e.get("secureSpotFloor", e["secureSpotPrice"])
    return e.get("communitySpotFloor", e["communitySpotPrice"])


def gql_gpu_type(st, gid, e):
    def lowest(args):
        inp = args.get("input") or {}
        dc = inp.get("dataCenterId")
        secure = inp.get("secureCloud")
        if dc:
            lv = e["availability"].get(dc, "NONE")
        else:
            lv = max(e["availability"].values(), key=LEVELS.index, default="NONE")
        if st._match(st.config.get("capacity"), gid, dc or "*"):
            lv = "NONE"
        return {"minimumBidPrice": spot_floor(e, secure),
                "uninterruptablePrice": e["securePrice"] if secure or secure is None else e["communityPrice"],
                "stockStatus": STOCK[lv],
                "availableGpuCounts": [] if lv == "NONE" else [1, 2, 4, 8],
                "minVcpu": 8, "minMemory": 62, "countryCode": (dc or "EU-RO-1")[:2],
                "compliance": []}
    return {"id": gid, "displayName": e["displayName"], "manufacturer": "Nvidia",
            "memoryInGb": e["memoryInGb"], "cudaCores": 10752, "secureCloud": True, "communityCloud": True,
            "maxGpuCount": 8, "maxGpuCountSecureCloud": 8, "maxGpuCountCommunityCloud": 8, "minPodGpuCount": 1,
            "securePrice": e["securePrice"], "communityPrice": e["communityPrice"],
            "secureSpotPrice": e["secureSpotPrice"], "communitySpotPrice": e["communitySpotPrice"],
            "oneWeekPrice": round(e["securePrice"] * 0.95, 3), "oneMonthPrice": round(e["securePrice"] * 0.9, 3),
            "threeMonthPrice": round(e["securePrice"] * 0.85, 3),
            "sixMonthPrice": round(e["securePrice"] * 0.8, 3), "clusterPrice": None,
            "lowestPrice": lowest, "nodeGroupDatacenters": [{"id": dc} for dc in e["availability"]]}


def gql_create_spec(inp, spot):
    if not isinstance(inp, dict):
        raise GqlError('Variable "$input" of required type was not provided.', "BAD_USER_INPUT", 200)
    need = ["gpuTypeId", "imageName"] + (["bidPerGpu"] if spot else [])
    for k in need:
        if inp.get(k) in (None, ""):
            raise GqlError('Field "%s" of required type was not provided.' % k, "BAD_USER_INPUT", 200)
    ports = [x.strip() for x in str(inp.get("ports") or "").split(",") if x.strip()]
    env = {}
    for kv in inp.get("env") or []:
        if isinstance(kv, dict) and "key" in kv:
            env[str(kv["key"])] = str(kv.get("value", ""))
    cloud = inp.get("cloudType") or "ALL"
    if cloud not in ("ALL", "SECURE", "COMMUNITY"):
        raise GqlError('Value "%s" does not exist in "CloudTypeEnum" enum.' % cloud, "BAD_USER_INPUT", 200)
    try:
        count = int(inp.get("gpuCount") or 1)
        bid = float(inp["bidPerGpu"]) if spot else None
    except (TypeError, ValueError):
        raise GqlError("gpuCount/bidPerGpu must be numbers", "BAD_USER_INPUT", 200)
    if count < 1:
        raise GqlError("gpuCount must be at least 1", "BAD_USER_INPUT", 200)
    now = time.time()
    try:
        ta = parse_when(inp.get("terminateAfter"), now)
        sa = parse_when(inp.get("stopAfter"), now)
    except ValueError as ex:
        raise GqlError(str(ex), "BAD_USER_INPUT", 200)
    dc = inp.get("dataCenterId")
    return dict(name=inp.get("name") or "", image=inp["imageName"], gpu_id=inp["gpuTypeId"], count=count,
                cloud=cloud, dcs=[dc] if dc else None, interruptible=spot, bid=bid,
                ports=ports, env=env, disk=inp.get("containerDiskInGb") or 10, args=inp.get("dockerArgs") or "",
                terminate_after=ta, stop_after=sa, via="graphql",
                min_cuda=inp.get("minCudaVersion"), allowed_cuda=inp.get("allowedCudaVersions"))


# ---------------------------------------------------------------- HTTP
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "runpod-fake/1"
    st = None            # State
    api_key = None

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(n)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, obj=None, ctype="application/json", headers=None):
        data = b"" if obj is None else (obj if isinstance(obj, bytes) else json.dumps(obj).encode())
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(data)
        self._status = status
        self._resp = obj if isinstance(obj, (dict, list)) else None
        self._ctype = ctype if status != 204 else None

    def _problem(self, status, detail, errors=None, headers=None):
        o = {"title": TITLES.get(status, "Error"), "status": status, "detail": detail}
        if errors:
            o["errors"] = errors
        self._send(status, o, "application/problem+json", headers)

    def _log(self, body, op=None):
        st = self.st
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        q.pop("api_key", None)          # never record a secret
        with st.lock:
            st.seq += 1
            e = {"seq": st.seq, "time": iso(time.time()), "method": self.command, "path": u.path,
                 "query": q, "status": getattr(self, "_status", None), "op": op, "body": parsed,
                 "agent": self.headers.get("User-Agent", ""),
                 "ctype": getattr(self, "_ctype", None), "response": getattr(self, "_resp", None)}
            st.requests.append(e)
            del st.requests[:-20000]
        if st.state_dir:
            try:
                with open(os.path.join(st.state_dir, "requests.jsonl"), "a") as f:
                    f.write(json.dumps(e) + "\n")
            except OSError:
                pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def _handle(self):
        self._status = self._resp = self._ctype = None
        body = self._body()
        u = urllib.parse.urlsplit(self.path)
        path = u.path.rstrip("/") or "/"
        q = urllib.parse.parse_qs(u.query)
        op = None
        try:
            if path.startswith("/_admin"):
                return self._admin(path, body)
            op = self._gql_opname(body) if path == "/graphql" else None
            self._api(path, q, body, op)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as ex:     # a stand-in bug: answer 500 and say so
            import traceback
            traceback.print_exc()
            if self._status is None:
                try:
                    self._problem(500, "runpod.py internal error: %s" % ex)
                except OSError:
                    pass
        finally:
            if not path.startswith("/_admin"):
                self._log(body, op)

    # ---------------------------------------------------------------- api
    def _gql_opname(self, body):
        try:
            doc = json.loads(body)
            p = GqlParser(doc.get("query") or "", doc.get("variables") or {})
            _, _, sel = p.document(doc.get("operationName"))
            return ",".join(f[1] for f in sel)
        except Exception:
            return None

    def _api(self, path, q, body, op):
        st = self.st
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else None
        if key is None and path == "/graphql" and "api_key" in q:
            key = q["api_key"][0]
        if key != self.api_key:
            return self._problem(401, "Missing or invalid API key." if key is None else "Invalid API key.")
        with st.lock:
            now = time.time()
            rl, over, retry = st.rate(now)
            fail = st.take_fail(self.command, path, op.split(",")[0] if op else None)
            lat = float(st.config.get("latency") or 0)
        if lat > 0:
            time.sleep(lat)
        if over:
            return self._problem(429, "rate limit exceeded for the %s window" % over,
                                 headers=dict(rl, **{"Retry-After": retry}))
        if fail:
            s = int(fail.get("status", 500))
            h = dict(rl)
            if s == 429:
                ra = int(fail.get("retry_after", 1))
                h["Retry-After"] = ra
                h["RateLimit"] = '"minute";r=0;t=%d' % ra + rl["RateLimit"][rl["RateLimit"].index(","):]
            elif fail.get("retry_after") is not None:
                h["Retry-After"] = int(fail["retry_after"])
            detail = fail.get("detail") or DEFAULT_DETAIL.get(s, TITLES.get(s, "Error"))
            if path == "/graphql" and s in (400, 402, 403, 404, 409, 422):
                # GraphQL answers client-side failures as 200 + errors[]
                code = {402: "PAYMENT_REQUIRED", 403: "FORBIDDEN"}.get(s, "BAD_USER_INPUT")
                return self._send(200, {"errors": [{"message": detail, "extensions": {"code": code}}],
                                        "data": None}, headers=rl)
            return self._problem(s, detail, fail.get("errors"), h)
        self._rl = rl
        try:
            if path == "/graphql":
                if self.command != "POST":
                    raise ApiError(405, "GraphQL takes POST")
                return self._graphql(body)
            return self._rest(path, q, body)
        except ApiError as e:
            return self._problem(e.status, e.detail, e.errors, dict(rl, **e.headers))

    def _json_body(self, body):
        try:
            return json.loads(body or b"null")
        except ValueError as ex:
            raise ApiError(400, "Request body is not valid JSON: %s" % ex)

    def _rest(self, path, q, body):
        st, m, rl = self.st, self.command, self._rl
        parts = path.split("/")[1:]
        if parts[:1] == ["v1"]:
            raise ApiError(410, "REST API v1 was retired on 2026-11-15; use https://api.runpod.io/v2.")
        if parts[:1] != ["v2"]:
            raise ApiError(404, "No route for %s %s" % (m, path))
        parts = parts[1:]
        if parts == ["billing", "pods"] and m == "GET":
            now = time.time()
            bucket = (q.get("bucketSize") or ["day"])[0]
            if bucket not in ("hour", "day", "week", "month", "year"):
                raise ApiError(422, "The request does not match the schema.",
                               ["bucketSize: must be one of hour, day, week, month, year"])
            try:
                end = parse_when(q["endTime"][0], now) if "endTime" in q else now
                start = parse_when(q["startTime"][0], now) if "startTime" in q else end - 7 * 86400
            except ValueError as ex:
                raise ApiError(422, "The request does not match the schema.", ["startTime/endTime: %s" % ex])
            pid = (q.get("podId") or [None])[0]
            with st.lock:
                st.advance(now)
                recs = st.billing(start, end, bucket, pid)
            if "lastN" in q:
                recs = recs[-int(q["lastN"][0]):]
            tot = {k: round(sum(r[k] for r in recs), 8) for k in ("totalAmount", "gpuAmount", "cpuAmount",
                                                                   "diskAmount")}
            return self._send(200, {"records": recs, "metadata": {
                "query": {"startTime": iso(start), "endTime": iso(end), "bucketSize": bucket, "podId": pid},
                "recordCount": len(recs), "uniquePodCount": len({r["podId"] for r in recs}), "totals": tot}},
                headers=rl)
        if parts == ["pods"] and m == "POST":
            return self._create(self._json_body(body))
        if parts == ["pods"] and m == "GET":
            with st.lock:
                now = time.time()
                st.advance(now)
                pods = [st.v2(p, now) for p in st.pods.values() if p["status"] != "TERMINATED"]
            return self._send(200, {"pods": pods}, headers=rl)
        if len(parts) == 2 and parts[0] == "pods":
            with st.lock:
                now = time.time()
                st.advance(now)
                p = st.pods.get(parts[1])
                if p is None or p["status"] == "TERMINATED":
                    raise ApiError(404, "pod %s not found" % parts[1])
                if m == "GET":
                    return self._send(200, st.v2(p, now), headers=rl)
                if m == "DELETE":
                    st._set(p, "TERMINATED", now, "Terminated by user: %s" % jsdate(now))
                    return self._send(204, headers=rl)
                if m == "PATCH":
                    raise ApiError(400, "PATCH is not implemented by this stand-in")
            raise ApiError(405, "Method not allowed")
        if len(parts) == 3 and parts[0] == "pods" and parts[2] == "action" and m == "POST":
            b = self._json_body(body)
            if not isinstance(b, dict) or set(b) != {"action"} or b["action"] not in ("start", "stop", "restart",
                                                                                        "terminate"):
                raise ApiError(422, "The request body does not match the schema.",
                               ["action: must be one of start, stop, restart, terminate"])
            a = b["action"]
            with st.lock:
                now = time.time()
                st.advance(now)
                p = st.pods.get(parts[1])
                if p is None or p["status"] == "TERMINATED":
                    raise ApiError(404, "pod %s not found" % parts[1])
                if a not in st.actions(p):
                    raise ApiError(409, "Action %s is not valid for a pod in status %s." % (a, p["status"]))
                if a == "terminate":
                    st._set(p, "TERMINATED", now, "Terminated by user: %s" % jsdate(now))
                elif a == "stop":
                    st._set(p, "EXITED", now, "Exited by user: %s" % jsdate(now))
                else:
                    st.restart(p, now)
                return self._send(200, st.v2(p, now), headers=rl)
        if parts[:2] == ["catalog", "gpus"] and m == "GET":
            inc = ",".join(q.get("include", [])).split(",")
            cnt, cloud = (q.get("count") or ["1"])[-1], (q.get("cloud") or ["SECURE"])[-1]
            if not re.fullmatch(r"[1-9]\d{0,3}", cnt) or cloud not in ("SECURE", "COMMUNITY"):
                raise ApiError(400, "The request does not match the schema.",
                               ["count: must be an integer >= 1", "cloud: must be one of SECURE, COMMUNITY"])
            with st.lock:
                cat = st.catalog()
            if len(parts) == 3:
                gid = urllib.parse.unquote(parts[2])
                if gid not in cat:
                    raise ApiError(404, "GPU type %s not found" % gid)
                return self._send(200, st.gpu_type_v2(gid, cat[gid], "AVAILABILITY" in inc, int(cnt), cloud),
                                  headers=rl)
            return self._send(200, {"gpus": [st.gpu_type_v2(g, e, "AVAILABILITY" in inc, int(cnt), cloud)
                                             for g, e in cat.items()]}, headers=rl)
        if parts == ["account", "ssh-keys"] and m in ("GET", "PUT"):
            if m == "PUT":
                b = self._json_body(body)
                pat = r"(ssh|ecdsa|sk)-[^\s]+ [^\s]+([ \t][^\n\r]*)?"
                if (not isinstance(b, dict) or set(b) != {"keys"} or not isinstance(b["keys"], list)
                        or any(not isinstance(k, str) or not re.fullmatch(pat, k) for k in b["keys"])):
                    raise ApiError(422, "The request body does not match the schema.",
                                   ["keys: must be an array of OpenSSH public key lines (no other property)"])
                with st.lock:
                    st.account_keys = list(b["keys"])
            with st.lock:
                return self._send(200, {"keys": list(st.account_keys)}, headers=rl)
        if parts == ["catalog", "datacenters"] and m == "GET":
            inc = ",".join(q.get("include", [])).split(",")
            with st.lock:
                cat = st.catalog()
                ids = st.dc_ids(cat)
            names = {d[0]: d for d in DATA_CENTERS}
            out = []
            for dc in ids:
                d = names.get(dc, (dc, dc, "UNKNOWN"))
                o = {"id": dc, "name": d[1], "region": d[2], "globalNetwork": False,
                     "networkVolumeTypes": ["STANDARD"], "compliance": []}
                if "GPU_AVAILABILITY" in inc:
                    o["gpuAvailability"] = [{"id": g, "name": e["displayName"],
                                             "availability": e["availability"].get(dc, "NONE")}
                                            for g, e in cat.items()]
                out.append(o)
            return self._send(200, {"dataCenters": out}, headers=rl)
        raise ApiError(404, "No route for %s %s" % (m, path))

    def _create(self, b):
        st = self.st
        with st.lock:
            cat = st.catalog()
            validate_create(b, cat, st.dc_ids(cat))
            spec = dict(name=b["name"], image=b.get("image"), cloud=b.get("cloud", "SECURE"),
                        dcs=b.get("dataCenterIds") or None, ports=b.get("ports", ["8888/http", "22/tcp"]),
                        env=b.get("env"), disk=b.get("disk"), args=b.get("args"), via="rest")
            if "gpu" in b:
                spec.update(gpu_id=b["gpu"]["id"], count=b["gpu"].get("count", 1),
                            min_cuda=b["gpu"].get("minCudaVersion"), allowed_cuda=b["gpu"].get("allowedCudaVersions"))
            else:
                spec.update(cpu=b["cpu"], count=1)
            now = time.time()
            p = st.create(spec, now)
            obj = st.v2(p, now)
            hang = self._take_timeout()
        if hang:
            return self._hang(hang)
        return self._send(201, obj, headers=self._rl)

    def _take_timeout(self):
        cfg = self.st.config
        c = cfg.get("create_then_timeout")
        if not c:
            return None
        if not isinstance(c, dict):
            c = {"count": int(c)}
        n = int(c.get("count", 1))
        if n <= 0:
            cfg["create_then_timeout"] = None
            return None
        c["count"] = n - 1
        cfg["create_then_timeout"] = c if n - 1 > 0 else None
        return c

    def _hang(self, c):
        if c.get("mode", "sleep") == "sleep":
            time.sleep(float(c.get("sleep", 30)))
        self.close_connection = True
        self._status = "dropped"

    def _graphql(self, body):
        st = self.st
        try:
            doc = json.loads(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("query"), str):
                raise GqlError("Must provide query string.", "BAD_REQUEST")
            kind, _, sel = GqlParser(doc["query"], doc.get("variables") or {}).document(doc.get("operationName"))
            for alias, name, args, sub in sel:
                if name == "__typename":
                    continue
                if name not in ROOT[kind]:
                    raise GqlError('Cannot query field "%s" on type "%s".' % (name, kind.capitalize()))
                t = ROOT[kind][name]
                gql_check_input(name, args)
                if t is S and sub is not None:
                    raise GqlError('Field "%s" must not have a selection since type has no subfields.' % name)
                if t is not S:
                    if sub is None:
                        raise GqlError('Field "%s" of type "%s" must have a selection of subfields.' % (name, t))
                    gql_check(t, sub, name)
        except ValueError:
            return self._send(400, {"errors": [{"message": "POST body is not valid JSON",
                                                "extensions": {"code": "BAD_REQUEST"}}]}, headers=self._rl)
        except GqlError as e:
            return self._send(e.http, {"errors": [{"message": e.message, "extensions": {"code": e.code}}]},
                              headers=self._rl)
        data, errors, hang = {}, [], None
        for alias, name, args, sub in sel:
            if name == "__typename":
                data[alias] = kind.capitalize()
                continue
            try:
                with st.lock:
                    now = time.time()
                    st.advance(now)
                    v = self._resolve(name, args, now)
                    if name in ("podRentInterruptable", "podFindAndDeployOnDemand") and v is not None:
                        hang = hang or self._take_timeout()
                    t = ROOT[kind][name]
                    data[alias] = v if t is S else gql_project(t, v, sub)
            except GqlError as e:
                data[alias] = None
                errors.append({"message": e.message, "path": [alias],
                               "extensions": {"code": e.code}})
            except ApiError as e:
                data[alias] = None
                errors.append({"message": e.detail, "path": [alias],
                               "extensions": {"code": e.code or "INTERNAL_SERVER_ERROR"}})
        if hang:
            return self._hang(hang)
        if errors:
            out = {"errors": errors, "data": None if all(v is None for v in data.values()) else data}
        else:
            out = {"data": data}
        return self._send(200, out, headers=self._rl)

    def _resolve(self, name, args, now):
        st = self.st
        inp = args.get("input")
        if name in ("podRentInterruptable", "podFindAndDeployOnDemand"):
            spec = gql_create_spec(inp, name == "podRentInterruptable")
            cat = st.catalog()
            if spec["gpu_id"] not in cat:
                raise GqlError('There is no GPU type with id "%s".' % spec["gpu_id"], "BAD_USER_INPUT", 200)
            if spec["dcs"] and spec["dcs"][0] not in st.dc_ids(cat):
                raise GqlError("Unknown data center id: %s" % spec["dcs"][0], "BAD_USER_INPUT", 200)
            p = st.create(spec, now)
            return st.gql_pod(p, now)
        if name in ("pod", "podTerminate", "podStop"):
            pid = inp.get("podId") if isinstance(inp, dict) else None
            p = st.pods.get(pid or "")
            if name == "pod":
                return st.gql_pod(p, now) if p else None
            if p is None or p["status"] == "TERMINATED":
                raise GqlError("pod not found to %s" % ("terminate" if name == "podTerminate" else "stop"),
                               "BAD_USER_INPUT", 200)
            if name == "podTerminate":
                st._set(p, "TERMINATED", now, "Terminated by user: %s" % jsdate(now))
                return None
            if p["status"] in LIVE:
                st._set(p, "EXITED", now, "Exited by user: %s" % jsdate(now))
            return st.gql_pod(p, now)
        if name == "myself":
            return {"id": "user_fake_0001",
                    "pods": [st.gql_pod(p, now) for p in st.pods.values() if p["status"] != "TERMINATED"]}
        if name == "gpuTypes":
            cat = st.catalog()
            want = (inp or {}).get("id") if isinstance(inp, dict) else None
            return [gql_gpu_type(st, g, e) for g, e in cat.items() if want in (None, g)]
        if name == "dataCenters":
            cat = st.catalog()
            names = {d[0]: d for d in DATA_CENTERS}
            return [{"id": dc, "name": names.get(dc, (dc, dc))[1], "listed": True, "location": dc,
                     "gpuAvailability": [{"gpuTypeId": g, "stockStatus": STOCK[e["availability"].get(dc, "NONE")],
                                          "available": e["availability"].get(dc, "NONE") != "NONE"}
                                         for g, e in cat.items()]}
                    for dc in st.dc_ids(cat)]
        raise GqlError("unknown field %s" % name)

    # ---------------------------------------------------------------- admin
    def _admin(self, path, body):
        st = self.st
        m = self.command
        try:
            b = json.loads(body) if body else {}
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        with st.lock:
            now = time.time()
            st.advance(now)
            if path == "/_admin/ping":
                return self._send(200, {"ok": True})
            if path == "/_admin/state" and m == "GET":
                return self._send(200, {"config": st.config,
                                        "pods": [st.admin_pod(p, now) for p in st.pods.values()],
                                        "requests": st.requests})
            if path == "/_admin/requests":
                if m == "DELETE":
                    st.requests = []
                    return self._send(200, {"ok": True})
                return self._send(200, st.requests)
            if path == "/_admin/config":
                if m == "POST":
                    err = self._config(b)
                    if err:
                        return self._send(400, {"error": err})
                return self._send(200, st.config)
            if path == "/_admin/reset" and m == "POST":
                st.reset()
                return self._send(200, {"ok": True})
            if path in ("/_admin/preempt", "/_admin/pod") and m == "POST":
                p = st.pods.get(b.get("id") or "")
                if p is None:
                    return self._send(404, {"error": "no such pod"})
                if path == "/_admin/preempt":
                    if not p["interruptible"] and not b.get("force"):
                        return self._send(400, {"error": "pod is not interruptible (pass force:true)"})
                    if p["status"] == "TERMINATED":
                        return self._send(409, {"error": "pod already terminated"})
                    st._set(p, "TERMINATED" if b.get("terminate") else "EXITED", now, "Outbid: %s" % jsdate(now))
                else:
                    if b.get("backdate"):
                        st.backdate(p, float(b["backdate"]))
                    if "cost" in b:
                        p["cost_override"] = b["cost"]
                        st._bill(p, now)
                    if b.get("ssh"):
                        p["ssh"] = b["ssh"]
                    if b.get("status") in ("PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR", "TERMINATED"):
                        st._set(p, b["status"], now, b.get("lastStatusChange"))
                        if b["status"] == "RUNNING":
                            p["ready"] = True
                    elif b.get("lastStatusChange"):
                        p["last_status_change"] = b["lastStatusChange"]
                return self._send(200, st.admin_pod(p, now))
        return self._send(404, {"error": "no admin route %s %s" % (m, path)})

    def _config(self, b):
        cfg = self.st.config
        if not isinstance(b, dict):
            return "config must be an object"
        for k, v in b.items():
            if k == "rate_window":
                cfg[k] = max(1, int(v))
            elif k in ("boot_delay", "provision_delay", "start_delay", "latency"):
                cfg[k] = float(v)
            elif k == "ssh_hosts":
                cfg[k] = split_hosts(v)
            elif k in ("ssh_pin", "ssh_user", "runtime_ip", "host_cuda"):
                cfg[k] = v
            elif k == "ssh_direct":
                cfg[k] = bool(v)
            elif k == "capacity_form":
                if str(v) not in ("400", "500", "alternate"):
                    return "capacity_form must be 400, 500 or alternate"
                cfg[k] = str(v)
            elif k == "rate_limit":
                cfg[k] = dict(cfg[k], **v)
            elif k == "catalog":
                for gid, o in v.items():
                    cur = cfg["catalog"].setdefault(gid, {})
                    for kk, vv in o.items():
                        if kk == "availability":
                            bad = [x for x in vv.values() if x not in LEVELS]
                            if bad:
                                return "availability must be one of %s" % "|".join(LEVELS)
                            cur.setdefault("availability", {}).update(vv)
                        else:
                            cur[kk] = vv
            elif k in ("capacity", "forbidden"):
                cfg[k] = v
            elif k == "fail_next" and v == []:
                cfg[k] = []  # [] clears the queue, like capacity
            elif k == "fail_next":
                cfg[k].extend(v if isinstance(v, list) else [v])
            elif k in ("create_then_timeout", "boot_fail"):
                cfg[k] = v
            else:
                return "unknown config key %s" % k
        return None


def main():
    ap = argparse.ArgumentParser(description="RunPod API stand-in")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--api-key-file", required=True)
    ap.add_argument("--ssh-hosts", default="")
    ap.add_argument("--ssh-user", default="root")
    ap.add_argument("--state-dir")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    with open(a.api_key_file) as f:
        key = f.read().strip()
    if not key:
        sys.exit("runpod.py: empty API key file %s" % a.api_key_file)
    st = State(split_hosts(a.ssh_hosts), a.ssh_user, a.state_dir)
    Handler.st, Handler.api_key = st, key
    # A listen backlog of 5 (socketserver default) drops SYNs when a client
    # opens 50 connections at once (rp-launch creating 50 pods): allow more.
    ThreadingHTTPServer.request_queue_size = 128
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
