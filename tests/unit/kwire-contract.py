#!/usr/bin/env python3
"""kwire-contract.py — decode Kafka frames against Apache Kafka's message
specs (tests/vendor/kafka/*.json, the upstream format), for test-kwire.

Input (a file): one frame a line, "req HEX" (a request: size, api_key,
api_version, correlation_id, client_id, body) or "resp API VER HEX" (a
response: size, correlation_id, body).  Output: one line each,
"Name vN {fields as JSON}" or "ERROR Name vN: why".  A frame whose body
does not end exactly where the spec says, a version outside validVersions,
or a flexible version, is an error.
"""
import json
import os
import struct
import sys

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vendor", "kafka")
NAMES = {18: "ApiVersions", 3: "Metadata", 10: "FindCoordinator", 9: "OffsetFetch", 2: "ListOffsets"}


def inver(spec, v):
    if spec is None or spec == "none":
        return False
    if spec.endswith("+"):
        return v >= int(spec[:-1])
    if "-" in spec:
        a, b = spec.split("-")
        return int(a) <= v <= int(b)
    return v == int(spec)


class Bad(Exception):
    pass


class Rd:
    def __init__(self, b):
        self.b, self.o = b, 0

    def take(self, n):
        if self.o + n > len(self.b):
            raise Bad("short: %d bytes wanted at %d of %d" % (n, self.o, len(self.b)))
        x = self.b[self.o:self.o + n]
        self.o += n
        return x

    def num(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(fmt)))[0]


PRIM = {"int8": "b", "int16": "h", "int32": "i", "int64": "q"}


def value(r, typ, f, v):
    if typ in PRIM:
        return r.num(PRIM[typ])
    if typ == "bool":
        b = r.num("b")
        if b not in (0, 1):
            raise Bad("bool %d in %s" % (b, f["name"]))
        return bool(b)
    if typ == "string":
        n = r.num("h")
        if n == -1:
            if not inver(f.get("nullableVersions"), v):
                raise Bad("null string in %s (not nullable at v%d)" % (f["name"], v))
            return None
        if n < 0:
            raise Bad("string length %d in %s" % (n, f["name"]))
        return r.take(n).decode()
    if typ.startswith("[]"):
        n = r.num("i")
        if n == -1:
            if not inver(f.get("nullableVersions"), v):
                raise Bad("null array in %s (not nullable at v%d)" % (f["name"], v))
            return None
        if n < 0:
            raise Bad("array length %d in %s" % (n, f["name"]))
        sub = typ[2:]
        if "fields" in f:
            return [struct_(r, f["fields"], v) for _ in range(n)]
        return [value(r, sub, f, v) for _ in range(n)]
    raise Bad("type %s (of %s) not handled" % (typ, f["name"]))


def struct_(r, fields, v):
    out = {}
    for f in fields:
        if inver(f["versions"], v):
            out[f["name"]] = value(r, f["type"], f, v)
    return out


def spec(api, kind):
    with open(os.path.join(SPEC, "%s%s.json" % (NAMES[api], kind))) as fh:
        lines = [l for l in fh if not l.lstrip().startswith("//")]
    return json.loads("".join(lines))


def decode(api, ver, kind, body):
    s = spec(api, kind)
    if not inver(s["validVersions"], ver):
        raise Bad("v%d not in validVersions %s" % (ver, s["validVersions"]))
    if inver(s["flexibleVersions"], ver):
        raise Bad("v%d is flexible (%s)" % (ver, s["flexibleVersions"]))
    r = Rd(body)
    out = struct_(r, s["fields"], ver)
    if r.o != len(body):
        raise Bad("%d bytes left after the last field" % (len(body) - r.o))
    return out


def main():
    for line in open(sys.argv[1]):
        w = line.split()
        if not w:
            continue
        name = "?"
        try:
            if w[0] == "req":
                b = bytes.fromhex(w[1])
                r = Rd(b)
                size = r.num("i")
                if size != len(b) - 4:
                    raise Bad("size %d for %d bytes" % (size, len(b) - 4))
                api, ver, corr = r.num("h"), r.num("h"), r.num("i")
                cid = value(r, "string", {"name": "ClientId", "nullableVersions": "0+"}, 1)
                if cid != "rp-lagwatch":
                    raise Bad("client_id %r" % cid)
                name = "%s v%d" % (NAMES.get(api, "api%d" % api), ver)
                out = decode(api, ver, "Request", b[r.o:])
            else:
                api, ver, b = int(w[1]), int(w[2]), bytes.fromhex(w[3])
                name = "%sResponse v%d" % (NAMES[api], ver)
                r = Rd(b)
                size = r.num("i")
                if size != len(b) - 4:
                    raise Bad("size %d for %d bytes" % (size, len(b) - 4))
                r.num("i")  # correlation id
                out = decode(api, ver, "Response", b[r.o:])
            print(name, json.dumps(out, separators=(",", ":")))
        except (Bad, KeyError, ValueError, OSError) as e:
            print("ERROR", name, e)


if __name__ == "__main__":
    main()
