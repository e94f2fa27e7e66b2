"""kubeadm_stub — a stub of kubeadm for the sshd "pods" of the rp test stack,
run as tests/fakes/kubeadm (a launcher: this module's bytecode is cached).

Python 3 standard library only.  It understands:

  kubeadm join --config FILE          (JoinConfiguration, kubeadm.k8s.io/v1beta3 or v1beta4)
  kubeadm join HOST:PORT --token T --discovery-token-ca-cert-hash sha256:H [--node-name N]
               [--discovery-token-unsafe-skip-ca-verification] [--discovery-token D]
               [--tls-bootstrap-token T] [--cri-socket S] [--ignore-preflight-errors E] [--v N]
  kubeadm reset [-f|--force]
  kubeadm version [-o short|json]

Environment (the stack's sshd session sets it): KUBE_URL, KUBE_ADMIN_TOKEN,
KUBE_CA (the stand-in's CA file), RP_POD_DIR (this pod's directory).

The version it reports (`kubeadm version`) is the first line of
$RP_POD_DIR/kubeadm-version when that file exists, else $KUBEADM_VERSION,
else v1.32.4 (the launcher resolves it; it also answers `kubeadm version
-o short` itself, without Python), and it reads configuration files as that kubeadm would:
kubeadm.k8s.io/v1beta4 from 1.31 on, v1beta3 up to 1.35 (1.36 removed it,
kubernetes PR #136016: the "old API spec" refusal); decoding is strict (an
unknown field, or a field of the other version, is refused); the bootstrap
token must be [a-z0-9]{6}.[a-z0-9]{16} and each CA hash sha256:<64 hex>
(kubeadm's validation, before any network).  The field tables are written
from kubeadm's types (cmd/kubeadm/app/apis/kubeadm/v1beta3 and v1beta4,
kubernetes/kubernetes; v1beta4's Timeouts as documented at
kubernetes/website 020646fa content/en/docs/reference/config-api/
kubeadm-config.v1beta4.md).

Discovery is done as kubeadm does it (cmd/kubeadm/app/discovery), over
real sockets from the pod's network (see dial(): a pod on the node
network, the default, reaches the advertise address; a pod with
$RP_POD_DIR/isolated reaches only its loopback, i.e. its tunnels):
  token: cluster-info read insecurely from apiServerEndpoint, its JWS and
    CA pin checked, read again over TLS verified with that CA for the
    endpoint's host; the TLS bootstrap then goes to the server cluster-info
    names.
  file (discovery.file.kubeConfigPath): the kubeconfig checked as clientcmd
    does, cluster-info read through it (TLS verified with its CA for its
    tls-server-name, else the server's host); the TLS bootstrap uses that
    kubeconfig when it carries a token; with discovery.tlsBootstrapToken
    kubeadm keeps only its server and CA (CreateWithToken: tls-server-name
    dropped).  One rule here is rp's, not kubeadm's: a discovery file
    readable by group or others is refused (it holds a token).

Every invocation appends to $RP_POD_DIR/kubeadm.log one line
    kubeadm ARG ARG ...            (shell-quoted)
followed, for `join --config FILE`, by the file's content, each line
prefixed with "  | ", and for file discovery "  # discovery file PATH mode
MODE" and the kubeconfig prefixed "  kc| ".  The join is then posted to
/_admin/kubeadm-join over the TLS bootstrap's connection; the stand-in
validates the token (and, for token discovery, the CA pin and JWS) like
kubeadm and the kubelet's TLS bootstrap would, and registers the Node.  On
refusal the reason goes to stderr as kubeadm prints it and the exit status
is 1.
"""

import os
import sys

# Only os and sys here: `kubeadm version` imports nothing else.  re and json are imported by the functions that
# use them.

DEFAULT_VERSION = "v1.32.4"


def version():
    """The version this kubeadm says it is: the launcher (tests/fakes/kubeadm)
    resolves it (the one place of that rule) into KUBEADM_STUB_VERSION."""
    return os.environ.get("KUBEADM_STUB_VERSION") or DEFAULT_VERSION


def minor_of(v):
    import re
    m = re.match(r"^v?1\.(\d+)\.", v)
    return int(m.group(1)) if m else 99


# ------------------------------------------------------------ kubeadm's types, field by field
# (json names; "*" = any keys; a tuple names the table of a nested object,
# ("list", T) a list of T, "str"/"bool"/"dur"/"strs"/"any" scalars.)

_TAINT = {"key": "str", "value": "str", "effect": "str", "timeAdded": "str"}
_ARG = {"name": "str", "value": "str"}
_BTD = {"token": "str", "apiServerEndpoint": "str", "caCertHashes": "strs", "unsafeSkipCAVerification": "bool"}
_FILE = {"kubeConfigPath": "str"}
_APIEP = {"advertiseAddress": "str", "bindPort": "int"}
_JCP = {"localAPIEndpoint": _APIEP, "certificateKey": "str"}
_PATCHES = {"directory": "str"}
_NR3 = {"name": "str", "criSocket": "str", "taints": ("list", _TAINT), "kubeletExtraArgs": ("map", "str"),
        "ignorePreflightErrors": "strs", "imagePullPolicy": "str"}
_NR4 = dict(_NR3, kubeletExtraArgs=("list", _ARG), imagePullSerial="bool")
_DISC3 = {"bootstrapToken": _BTD, "file": _FILE, "tlsBootstrapToken": "str", "timeout": "dur"}
_DISC4 = {"bootstrapToken": _BTD, "file": _FILE, "tlsBootstrapToken": "str"}
_TIMEOUTS = {k: "dur" for k in ("controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall",
                                 "etcdAPICall", "tlsBootstrap", "discovery", "upgradeManifests")}
JOIN_FIELDS = {
    "kubeadm.k8s.io/v1beta3": {"apiVersion": "str", "kind": "str", "nodeRegistration": _NR3, "caCertPath": "str",
                               "discovery": _DISC3, "controlPlane": _JCP, "skipPhases": "strs",
                               "patches": _PATCHES},
    "kubeadm.k8s.io/v1beta4": {"apiVersion": "str", "kind": "str", "dryRun": "bool", "nodeRegistration": _NR4,
                               "caCertPath": "str", "discovery": _DISC4, "controlPlane": _JCP,
                               "skipPhases": "strs", "patches": _PATCHES, "timeouts": _TIMEOUTS},
}
GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$"


def strict_check(obj, table, path):
    """The first strict-decoding error as kubeadm reports it, or None."""
    import re
    if obj is None:
        return None
    if isinstance(table, dict):
        if not isinstance(obj, dict):
            return "cannot unmarshal %s into Go value of type struct (%s)" % (type(obj).__name__, path or "root")
        for k, v in obj.items():
            sub = (path + "." if path else "") + str(k)
            if k not in table:
                return 'strict decoding error: unknown field "%s"' % sub
            e = strict_check(v, table[k], sub)
            if e:
                return e
        return None
    if isinstance(table, tuple):
        kind, elem = table
        if kind == "list":
            if not isinstance(obj, list):
                return "json: cannot unmarshal %s into Go struct field %s of type []%s" % (
                    "object" if isinstance(obj, dict) else type(obj).__name__, path,
                    "v1beta4.Arg" if elem is _ARG else "v1.Taint")
            for i, x in enumerate(obj):
                e = strict_check(x, elem, "%s[%d]" % (path, i))
                if e:
                    return e
            return None
        if not isinstance(obj, dict):
            return "json: cannot unmarshal %s into Go struct field %s of type map[string]string" % (
                "array" if isinstance(obj, list) else type(obj).__name__, path)
        return None
    if table == "dur":
        if not isinstance(obj, str) or not re.match(GO_DURATION, obj):
            return 'time: invalid duration "%s" (%s)' % (obj, path)
    elif table == "bool" and not isinstance(obj, bool):
        return "json: cannot unmarshal %s into Go struct field %s of type bool" % (type(obj).__name__, path)
    elif table == "strs" and not isinstance(obj, list):
        return "json: cannot unmarshal %s into Go struct field %s of type []string" % (type(obj).__name__, path)
    return None
TOKEN_RE = r"^[a-z0-9]{6}\.[a-z0-9]{16}$"
TRACE_HINT = "To see the stack trace of this error execute with --v=5 or higher"


def die(msg, code=1):
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.exit(code)


# ------------------------------------------------------------ a small YAML reader
# Block mappings and sequences, flow [..] and {..}, quoted and plain scalars,
# comments, several documents.  Enough for a kubeadm configuration file.

class YamlError(Exception):
    pass


def _strip_comment(s):
    q = None
    for i, ch in enumerate(s):
        if q:
            if ch == q:
                q = None
            elif ch == "\\" and q == '"':
                continue
        elif ch in "\"'" and (i == 0 or s[i - 1] in " \t[{,:-"):
            q = ch
        elif ch == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def _scalar(s):
    import json
    import re
    s = s.strip()
    if s.startswith('"'):
        return json.loads(s)
    if s.startswith("'"):
        return s[1:-1].replace("''", "'")
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in ("true", "True", "TRUE"):
        return True
    if s in ("false", "False", "FALSE"):
        return False
    if re.match(r"^[-+]?[0-9]+$", s):
        return int(s)
    if re.match(r"^[-+]?[0-9]*\.[0-9]+$", s):
        return float(s)
    return s


def _flow(s, i):
    """Parse a flow value starting at s[i]; return (value, next index)."""
    while i < len(s) and s[i] in " \t":
        i += 1
    if i < len(s) and s[i] in "[{":
        close = "]" if s[i] == "[" else "}"
        out = [] if close == "]" else {}
        i += 1
        while True:
            while i < len(s) and s[i] in " \t":
                i += 1
            if i >= len(s):
                raise YamlError("unterminated flow collection")
            if s[i] == close:
                return out, i + 1
            if close == "]":
                v, i = _flow(s, i)
                out.append(v)
            else:
                k, i = _flow_scalar(s, i, ":")
                if i >= len(s) or s[i] != ":":
                    raise YamlError("expected ':' in flow mapping")
                v, i = _flow(s, i + 1)
                out[k] = v
            while i < len(s) and s[i] in " \t":
                i += 1
            if i < len(s) and s[i] == ",":
                i += 1
    return _flow_scalar(s, i, "")


def _flow_scalar(s, i, extra):
    while i < len(s) and s[i] in " \t":
        i += 1
    if i < len(s) and s[i] in "\"'":
        q = s[i]
        j = i + 1
        while j < len(s):
            if s[j] == "\\" and q == '"':
                j += 2
                continue
            if s[j] == q:
                if q == "'" and j + 1 < len(s) and s[j + 1] == "'":
                    j += 2
                    continue
                break
            j += 1
        return _scalar(s[i:j + 1]), j + 1
    j = i
    while j < len(s) and s[j] not in ",]}" + extra:
        j += 1
    return _scalar(s[i:j]), j


def _split_key(text):
    """'key: rest' -> (key, rest) or None when text is not a mapping entry."""
    import re
    if text[:1] in "\"'":
        k, j = _flow_scalar(text, 0, "")
        rest = text[j:].lstrip()
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return str(k), rest[1:].strip()
        return None
    if text[:1] in "[{":
        return None
    m = re.match(r"^([^:#]+?|[^\s:][^:]*?)\s*:(\s+|$)(.*)$", text)
    if not m:
        return None
    return m.group(1).strip(), m.group(3).strip()


def _value(rest):
    if rest[:1] in "[{":
        v, j = _flow(rest, 0)
        if rest[j:].strip():
            raise YamlError("trailing text after a flow collection: %r" % rest)
        return v
    return _scalar(rest)


def _block(lines, i, ind):
    if lines[i][1] == "-" or lines[i][1].startswith("- "):
        return _seq(lines, i, ind)
    return _map(lines, i, ind)


def _is_item(t):
    return t == "-" or t.startswith("- ")


def _nested(lines, i, ind, allow_seq_same):
    if i < len(lines) and (lines[i][0] > ind or (allow_seq_same and lines[i][0] == ind and _is_item(lines[i][1]))):
        return _block(lines, i, lines[i][0])
    return None, i


def _map(lines, i, ind):
    out = {}
    while i < len(lines) and lines[i][0] == ind and not _is_item(lines[i][1]):
        kv = _split_key(lines[i][1])
        if kv is None:
            raise YamlError("line %d: expected 'key: value', got %r" % (lines[i][2], lines[i][1]))
        k, rest = kv
        i += 1
        if rest in ("|", "|-", ">", ">-"):
            buf = []
            while i < len(lines) and lines[i][0] > ind:
                buf.append(lines[i][1])
                i += 1
            out[k] = ("\n" if rest[0] == "|" else " ").join(buf) + ("" if rest.endswith("-") else "\n")
        elif rest == "":
            out[k], i = _nested(lines, i, ind, True)
        else:
            out[k] = _value(rest)
    if i < len(lines) and lines[i][0] > ind:
        raise YamlError("line %d: bad indentation" % lines[i][2])
    return out, i


def _seq(lines, i, ind):
    out = []
    while i < len(lines) and lines[i][0] == ind and _is_item(lines[i][1]):
        rest = lines[i][1][1:].lstrip()
        if rest == "":
            v, i = _nested(lines, i + 1, ind, False)
            out.append(v)
        elif _split_key(rest) is not None:
            sub = ind + (len(lines[i][1]) - len(rest))
            lines[i] = (sub, rest, lines[i][2], lines[i][3])
            v, i = _map(lines, i, sub)
            out.append(v)
        else:
            out.append(_value(rest))
            i += 1
    return out, i


def yaml_load_all(text):
    docs, cur = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("---") or raw.startswith("..."):
            docs.append(cur)
            cur = []
            continue
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise YamlError("line %d: found a tab character that violates indentation" % n)
        s = _strip_comment(raw)
        if not s.strip():
            continue
        cur.append((len(s) - len(s.lstrip(" ")), s.strip(), n, raw))
    docs.append(cur)
    out = []
    for d in docs:
        if not d:
            continue
        v, i = _block(d, 0, d[0][0])
        if i != len(d):
            raise YamlError("line %d: unexpected content" % d[i][2])
        out.append(v)
    return out


# ------------------------------------------------------------ join

def log_extra(text):
    pod = os.environ.get("RP_POD_DIR")
    if pod:
        with open(os.path.join(pod, "kubeadm.log"), "a") as f:
            f.write(text)


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def _quote(s):
    """shlex.quote(s), without importing shlex and re."""
    if not s:
        return "''"
    if all(c in _SAFE for c in s):
        return s
    return "'" + s.replace("'", "'\"'\"'") + "'"


def log_invocation(argv, config_text=None):
    pod = os.environ.get("RP_POD_DIR")
    if not pod:
        return
    line = "kubeadm " + " ".join(_quote(a) for a in argv) + "\n"
    if config_text is not None:
        line += "".join("  | " + ln + "\n" for ln in config_text.splitlines())
    with open(os.path.join(pod, "kubeadm.log"), "a") as f:
        f.write(line)


def parse_flags(args, spec_bool, spec_val):
    flags, pos, i = {}, [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") or (a.startswith("-") and len(a) > 1):
            name, eq, val = a.lstrip("-").partition("=")
            if name in spec_bool:
                flags[name] = val.lower() != "false" if eq else True
            elif name in spec_val:
                if not eq:
                    i += 1
                    if i >= len(args):
                        die('Error: flag needs an argument: --%s\n%s' % (name, TRACE_HINT))
                    val = args[i]
                flags.setdefault(name, []).append(val)
            else:
                die('unknown flag: --%s\nTo see the stack trace of this error execute with --v=5 or higher' % name)
        else:
            pos.append(a)
        i += 1
    return flags, pos


def join_from_config(text):
    import re
    try:
        docs = yaml_load_all(text)
    except (YamlError, ValueError) as e:
        die("error converting YAML to JSON: yaml: %s\n%s" % (e, TRACE_HINT))
    jc = None
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "JoinConfiguration":
            jc = d
    if jc is None:
        die("no JoinConfiguration kind was found in the YAML file\n" + TRACE_HINT)
    av = jc.get("apiVersion")
    minor = minor_of(version())
    if av == "kubeadm.k8s.io/v1beta3" and minor >= 36:
        die('your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta3". Please use kubeadm v1.35 '
            "instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will "
            "write the new, similar spec using a newer API version.\n" + TRACE_HINT)
    if av not in ("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4") or \
            (av == "kubeadm.k8s.io/v1beta4" and minor < 31):
        die('no kind "JoinConfiguration" is registered for version "%s" in scheme '
            '"k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"\n%s' % (av, TRACE_HINT))
    e = strict_check(jc, JOIN_FIELDS[av], "")
    if e:
        die('error unmarshaling configuration schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"%s", '
            'Kind:"JoinConfiguration"}: %s\n%s' % (av.split("/")[1], e, TRACE_HINT))
    disc = jc.get("discovery") or {}
    bt = disc.get("bootstrapToken") or {}
    nr = jc.get("nodeRegistration") or {}
    kea = nr.get("kubeletExtraArgs")
    labels = ""
    if kea is not None:
        if av.endswith("v1beta4"):
            if not isinstance(kea, list):
                die('error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go struct field '
                    'NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type []v1beta4.Arg\n' + TRACE_HINT)
            for a in kea:
                if isinstance(a, dict) and a.get("name") == "node-labels":
                    labels = str(a.get("value") or "")
        else:
            if not isinstance(kea, dict):
                die('error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field '
                    'NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type map[string]string\n' + TRACE_HINT)
            labels = str(kea.get("node-labels") or "")
    if disc.get("file") and disc.get("bootstrapToken"):
        die("[discovery: Invalid value: \"\": bootstrapToken and file cannot both be set]\n" + TRACE_HINT)
    fd = disc.get("file") or {}
    if disc.get("file") is not None:
        kp = str(fd.get("kubeConfigPath") or "")
        if re.match(r"^https?://", kp):
            die("the stub kubeadm reads a discovery file on disk only, not a URL")
        if not kp or not os.path.exists(kp):
            die('[discovery.file.kubeConfigPath: Invalid value: "%s": not a valid HTTPS URL or a file on disk]\n%s'
                % (kp, TRACE_HINT))
        to = (jc.get("timeouts") or {}).get("discovery") or disc.get("timeout")
        return {"discovery": "file", "discovery_file": kp, "discovery_timeout": to, "token": "",
                "tls_bootstrap_token": str(disc.get("tlsBootstrapToken") or ""), "ca_cert_hashes": [],
                "unsafe_skip": False, "node_name": str(nr.get("name") or ""), "node_labels": labels,
                "taints": nr.get("taints") or [], "api_version": av}
    return {
        "api_server_endpoint": bt.get("apiServerEndpoint") or "",
        "token": str(bt.get("token") or disc.get("tlsBootstrapToken") or ""),
        "tls_bootstrap_token": str(disc.get("tlsBootstrapToken") or bt.get("token") or ""),
        "ca_cert_hashes": [str(h) for h in (bt.get("caCertHashes") or [])],
        "unsafe_skip": bool(bt.get("unsafeSkipCAVerification")),
        "node_name": str(nr.get("name") or ""),
        "node_labels": labels,
        "taints": nr.get("taints") or [],
        "api_version": av,
    }


def count_gpus():
    """What the device plugin would find: the GPUs `nvidia-smi -L` lists
    (0 when it fails or runs past 5 s).  posix_spawn, not subprocess (its
    import is a tenth of a join's start-up)."""
    import select
    import time
    rd, wr = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        pid = os.posix_spawnp("nvidia-smi", ["nvidia-smi", "-L"], os.environ,
                              file_actions=[(os.POSIX_SPAWN_DUP2, wr, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    except OSError:
        return 0
    finally:
        os.close(wr)
        os.close(null)
    out, end = b"", time.monotonic() + 5
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([rd], [], [], left)[0]:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return 0
            chunk = os.read(rd, 65536)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(rd)
    _, st = os.waitpid(pid, 0)
    if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 0:
        return 0
    return sum(1 for ln in out.decode(errors="replace").splitlines() if ln.startswith("GPU "))


# ------------------------------------------------------------ the pod's network, TLS, discovery
# What the pod reaches.  A pod on the node network (the default: a host
# next to the control plane) reaches the API server's advertise address
# (the stand-in's /_admin/network says where that is on this machine) and
# 127.0.0.1.  An isolated pod ($RP_POD_DIR/isolated exists: a RunPod
# container) reaches only its own loopback: the ports a tunnel forwards
# into it, never the stand-in's own ports and no node address.

CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Refused(Exception):
    pass


def _admin(path):
    """GET path from the stand-in as its admin (TLS verified with $KUBE_CA)."""
    url, tok, ca = os.environ.get("KUBE_URL"), os.environ.get("KUBE_ADMIN_TOKEN"), os.environ.get("KUBE_CA")
    if not url or not tok or not ca:
        die("kubeadm stub: KUBE_URL, KUBE_ADMIN_TOKEN and KUBE_CA must be set in the environment")
    try:
        with open(ca) as f:
            ca_pem = f.read()
        host, port = host_of_url(url)
        st, ans = https((host, port), host, ca_pem, "GET", path, token=tok)
    except (OSError, Refused) as e:
        die("kubeadm stub: %s%s: %s" % (url.rstrip("/"), path, e))
    if st != 200:
        die("kubeadm stub: %s%s: HTTP %d" % (url.rstrip("/"), path, st))
    return ans


_network = None


def network():
    """The stand-in's /_admin/network: the stack's copy of it in
    $KUBE_NODE_NET (tests/stack/up: it does not change while the stand-in
    runs), else asked (once per run)."""
    global _network
    if _network is None:
        known = os.environ.get("KUBE_NODE_NET")
        if known:
            import json
            _network = json.loads(known)
        else:
            _network = _admin("/_admin/network")
    return _network


def isolated():
    pod = os.environ.get("RP_POD_DIR")
    return bool(pod) and os.path.exists(os.path.join(pod, "isolated"))


def split_hostport(hp):
    import re
    m = re.match(r"^\[([^]]+)\]:(\d+)$", hp) or re.match(r"^([^:]+):(\d+)$", hp)
    if not m:
        raise Refused("address %s: missing port in address" % hp)
    return m.group(1), int(m.group(2))


def host_of_url(u):
    import re
    m = re.match(r"^https://([^/]+)", u or "")
    if not m:
        raise Refused('unsupported protocol scheme in "%s"' % u)
    h, p = (split_hostport(m.group(1)) if re.search(r":\d+$", m.group(1)) else (m.group(1).strip("[]"), 443))
    return h, p


def dial(host, port):
    """Where (host, port) is on this machine as this pod reaches it, else Refused (Go's dial error)."""
    hp = ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
    net = network()
    if host in LOOPBACK:
        if isolated():
            own = {int(os.environ.get("KUBE_URL", "").rsplit(":", 1)[-1] or 0)}
            own |= {int(v.rsplit(":", 1)[1]) for v in net.values()}
            if port in own:  # the stand-in listens on the controller's loopback, not the pod's
                raise Refused("dial tcp %s: connect: connection refused" % hp)
        return ("127.0.0.1", port)
    if not isolated() and hp in net:
        h, p = net[hp].rsplit(":", 1)
        return (h, int(p))
    raise Refused("dial tcp %s: i/o timeout" % hp)


def _sans(real, name, ca_pem):
    import re
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=ca_pem)
    with socket.create_connection(real, timeout=10) as sk:
        with ctx.wrap_socket(sk, server_hostname=name) as t:
            alt = t.getpeercert().get("subjectAltName", ())
    ip = re.match(r"^[0-9.]+$|:", name) is not None
    return [v for k, v in alt if k == ("IP Address" if ip else "DNS")]


def https(real, name, ca_pem, method, path, token=None, body=None):
    """One request over TLS to real (host, port), the certificate checked
    against ca_pem (None: not checked, kubeadm's first, insecure fetch) for
    name (the URL's host, or tls-server-name).  (status, JSON) or Refused."""
    import json
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_pem is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        try:
            ctx.load_verify_locations(cadata=ca_pem)
        except (ssl.SSLError, ValueError) as e:
            raise Refused("unable to load root certificates: %s" % e)
    try:
        sk = socket.create_connection(real, timeout=10)
    except OSError:
        raise Refused("dial tcp %s:%d: connect: connection refused" % real)
    try:
        # an ASCII name as bytes: ssl would IDNA-encode a str (encodings.idna
        # and stringprep imported on every join), to the same bytes
        t = ctx.wrap_socket(sk, server_hostname=name.encode() if name.isascii() and name else name)
    except ssl.SSLCertVerificationError as e:
        sk.close()
        if "mismatch" in str(e.verify_message or ""):
            raise Refused("tls: failed to verify certificate: x509: certificate is valid for %s, not %s"
                          % (", ".join(_sans(real, name, ca_pem)), name))
        raise Refused("tls: failed to verify certificate: x509: certificate signed by unknown authority")
    except (ssl.SSLError, OSError) as e:
        sk.close()
        raise Refused("remote error: %s" % e)
    # HTTP/1.1 by hand (http.client imports the email package: a third of
    # a join's start-up): the request as http.client wrote it, one answer
    # (Content-Length, chunked, or up to EOF), the connection closed.
    hdr = ["%s %s HTTP/1.1" % (method, path),
           "Host: %s:%d" % ("[%s]" % name if ":" in name else name, real[1]),
           "Accept-Encoding: identity", "Accept: application/json", "Connection: close"]
    if token:
        hdr.append("Authorization: Bearer " + token)
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        hdr += ["Content-Type: application/json", "Content-Length: %d" % len(data)]
    try:
        t.settimeout(30)
        t.sendall(("\r\n".join(hdr) + "\r\n\r\n").encode() + data)
        status, raw = _http_answer(t)
    except (OSError, ValueError) as e:
        raise Refused("%s" % e)
    finally:
        t.close()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None


def _http_answer(t):
    """(status, body) of one HTTP/1.x answer read from socket t; Refused
    with http.client's words when there is none."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = t.recv(65536)
        if not chunk:
            raise Refused("Remote end closed connection without response")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise Refused("%r" % lines[0])
    fields = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        fields[k.strip().lower()] = v.strip()

    def more():
        chunk = t.recv(65536)
        if not chunk:
            raise Refused("IncompleteRead(%d bytes read)" % len(rest))
        return chunk
    if "chunked" in fields.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += more()
            size, rest = rest.split(b"\r\n", 1)
            n = int(size.split(b";")[0], 16)
            while len(rest) < n + 2:
                rest += more()
            if n == 0:
                return int(parts[1]), body
            body, rest = body + rest[:n], rest[n + 2:]
    if "content-length" in fields:
        n = int(fields["content-length"])
        while len(rest) < n:
            rest += more()
        return int(parts[1]), rest[:n]
    while True:
        chunk = t.recv(65536)
        if not chunk:
            return int(parts[1]), rest
        rest += chunk


def cluster_of(kc):
    """kubeconfig (parsed) -> its current context's (cluster, user) as clientcmd resolves them."""
    if not isinstance(kc, dict) or not kc.get("clusters"):
        raise Refused("the provided kubeconfig file must have at least one Cluster defined")
    named = lambda key, n: next((e.get(key[:-1]) or {} for e in kc.get(key) or []
                                 if isinstance(e, dict) and e.get("name") == n), None)
    cur = kc.get("current-context") or ""
    ctx = named("contexts", cur) if cur else None
    if ctx is None:
        if len(kc["clusters"]) == 1 and not cur:
            return kc["clusters"][0].get("cluster") or {}, {}
        raise Refused("the provided kubeconfig file is malformed: current-context %r names no context" % cur)
    cl, us = named("clusters", ctx.get("cluster")), named("users", ctx.get("user"))
    if cl is None:
        raise Refused('invalid configuration: context was not found for specified context: %s (cluster "%s" '
                      'not found)' % (cur, ctx.get("cluster")))
    if us is None and ctx.get("user"):
        raise Refused('invalid configuration: user "%s" was not found for context "%s"' % (ctx.get("user"), cur))
    return cl, us or {}


def ca_of(cl):
    import base64
    if cl.get("certificate-authority-data"):
        try:
            return base64.b64decode(cl["certificate-authority-data"]).decode()
        except ValueError:
            raise Refused("illegal base64 data in certificate-authority-data")
    if cl.get("certificate-authority"):
        try:
            with open(cl["certificate-authority"]) as f:
                return f.read()
        except OSError as e:
            raise Refused("unable to read certificate-authority %s: %s" % (cl["certificate-authority"], e.strerror))
    return None


def _der_at(b, i):
    """The DER element at b[i]: (its tag, start of its content, its end)."""
    n, j = b[i + 1], i + 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k <= 4 or j + k > len(b):
            raise ValueError("bad DER length")
        n, j = int.from_bytes(b[j:j + k], "big"), j + k
    if j + n > len(b):
        raise ValueError("DER element past its end")
    return b[i], j, j + n


def spki_der(ca_pem):
    """The SubjectPublicKeyInfo (DER) of the first certificate in ca_pem,
    b"" when there is none readable: what `openssl x509 -pubkey -noout |
    openssl pkey -pubin -outform DER` prints, read off the certificate's
    DER (Certificate > tbsCertificate > [0] version, serialNumber,
    signature, issuer, validity, subject, subjectPublicKeyInfo)."""
    import re
    import binascii
    m = re.search(r"-----BEGIN (X509 |TRUSTED )?CERTIFICATE-----(.*?)-----END \1?CERTIFICATE-----",
                  ca_pem or "", re.S)
    if not m:
        return b""
    try:
        der = binascii.a2b_base64("".join(m.group(2).split()))
        tag, i, _ = _der_at(der, 0)
        if tag != 0x30:
            return b""
        tag, i, _ = _der_at(der, i)
        if tag != 0x30:
            return b""
        if der[i] == 0xA0:
            i = _der_at(der, i)[2]
        for _ in range(5):
            i = _der_at(der, i)[2]
        tag, _, end = _der_at(der, i)
        return der[i:end] if tag == 0x30 else b""
    except (ValueError, IndexError, binascii.Error):
        return b""


def spki_pin(ca_pem):
    """kubeadm's CA pin: sha256 of the CA's SubjectPublicKeyInfo (DER)."""
    import hashlib
    return "sha256:" + hashlib.sha256(spki_der(ca_pem)).hexdigest()


def token_discovery(req):
    """kubeadm's discovery/token: cluster-info read insecurely from the
    endpoint, its JWS and CA pin checked, read again over TLS verified
    with that CA for the endpoint's host; the TLS bootstrap then goes to
    the server cluster-info names.  The bootstrap target (real, name, CA)."""
    ep = req["api_server_endpoint"]
    url = 'Get "https://%s%s?timeout=10s": ' % (ep, CLUSTER_INFO)
    try:
        host, port = split_hostport(ep)
        real = dial(host, port)
        st, cm = https(real, host, None, "GET", CLUSTER_INFO)
    except Refused as e:
        raise Refused(url + str(e))
    if st != 200 or not isinstance(cm, dict):
        raise Refused(url + "HTTP %d" % st)
    data = cm.get("data") or {}
    tid, tsec = req["token"].split(".")
    jws = data.get("jws-kubeconfig-" + tid)
    if jws is None:
        raise Refused('could not find a JWS signature in the cluster-info ConfigMap for token ID "%s"' % tid)
    import base64
    import hashlib
    import hmac
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = jws.split(".")[0]
    sig = hmac.new(tsec.encode(), (head + "." + b64(data.get("kubeconfig", "").encode())).encode(),
                   hashlib.sha256).digest()
    if not hmac.compare_digest(jws, head + ".." + b64(sig)):
        raise Refused("failed to verify JWS signature of received cluster info object, can't trust this API Server")
    try:
        kc = yaml_load_all(data.get("kubeconfig", ""))[0]
        cl, _ = cluster_of(kc)
        ca = ca_of(cl) or ""
    except (YamlError, ValueError, IndexError, Refused) as e:
        raise Refused("couldn't parse the kubeconfig file in the cluster-info ConfigMap: %s" % e)
    pin = spki_pin(ca)
    if pin not in req["ca_cert_hashes"]:
        raise Refused('cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "%s" are pinned'
                      % pin)
    try:  # again, TLS now verified with the pinned CA, for the endpoint's host
        st, cm2 = https(real, host, ca, "GET", CLUSTER_INFO)
    except Refused as e:
        raise Refused(url + str(e))
    if (cm2 or {}).get("data", {}).get("kubeconfig") != data.get("kubeconfig"):
        raise Refused("the second kubeconfig from the cluster-info ConfigMap (using validated TLS) was different "
                      "from the first")
    return cl.get("server"), None, ca


def file_discovery(req):
    """kubeadm's discovery/file: the kubeconfig read, checked as clientcmd
    does, cluster-info read through it (TLS verified with its CA for its
    tls-server-name, else the server's host).  The TLS bootstrap then uses
    that kubeconfig when it carries credentials; with tlsBootstrapToken
    set, kubeadm (CreateWithToken) keeps only the server and the CA: no
    tls-server-name.  The bootstrap target (server, name, CA); req["token"] set."""
    path = req["discovery_file"]
    st = os.stat(path)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise Refused("open %s: %s" % (path, e.strerror))
    log_extra("  # discovery file %s mode %04o\n" % (path, st.st_mode & 0o777) +
              "".join("  kc| " + ln + "\n" for ln in text.splitlines()))
    # kubeadm reads the file whatever its mode: the mode is only recorded
    # (above), and 32-join-tunnel asserts rp's 0600 from that record.
    try:
        kc = yaml_load_all(text)[0]
    except (YamlError, ValueError, IndexError) as e:
        raise Refused("error loading config file \"%s\": %s" % (path, e))
    cl, user = cluster_of(kc)
    ca = ca_of(cl)
    server, name = cl.get("server") or "", cl.get("tls-server-name") or None
    host, port = host_of_url(server)
    tok = user.get("token") or ""
    if not tok and not req.get("tls_bootstrap_token"):
        raise Refused("couldn't find authentication credentials for the TLS boostrap process. Please use Token "
                      "discovery, a discovery file with embedded authentication credentials or a discovery file "
                      "without authentication credentials but with the TLSBootstrapToken flag")
    url = 'Get "%s%s?timeout=10s": ' % (server.rstrip("/"), CLUSTER_INFO)
    try:
        real = dial(host, port)
        st_, cm = https(real, name or host, ca, "GET", CLUSTER_INFO, token=tok or None)
    except Refused as e:
        raise Refused("Abort reading the cluster-info ConfigMap after timeout of %s: %s%s"
                      % (req.get("discovery_timeout") or "5m0s", url, e))
    if st_ == 200 and isinstance(cm, dict):
        try:
            ref, _ = cluster_of(yaml_load_all((cm.get("data") or {}).get("kubeconfig", ""))[0])
            if ref.get("server") != server:
                sys.stderr.write('[discovery] WARNING: the API Server endpoint "%s" in use is different from the '
                                 'endpoint "%s" which defined in the cluster-info ConfigMap\n' % (server, ref.get("server")))
        except (YamlError, ValueError, IndexError, Refused):
            pass
    if req.get("tls_bootstrap_token"):
        req["token"] = req["tls_bootstrap_token"]
        return server, None, ca  # CreateWithToken(server, CA): tls-server-name dropped
    req["token"] = tok
    return server, name, ca


def post_join(req):
    """Discovery, then the TLS bootstrap: the join is posted to the
    stand-in over the connection the kubelet's bootstrap would use."""
    url, tok, ca = os.environ.get("KUBE_URL"), os.environ.get("KUBE_ADMIN_TOKEN"), os.environ.get("KUBE_CA")
    if not url or not tok or not ca:
        die("kubeadm stub: KUBE_URL, KUBE_ADMIN_TOKEN and KUBE_CA must be set in the environment")
    if req.get("discovery") != "file" and (req.get("unsafe_skip") or not req.get("ca_cert_hashes")):
        # refused by validation before any network (the stand-in says it as kubeadm does)
        with open(ca) as f:
            target, name, ca_pem = url, None, f.read()
    else:
        try:
            target, name, ca_pem = file_discovery(req) if req.get("discovery") == "file" else token_discovery(req)
        except Refused as e:
            die("error execution phase preflight: couldn't validate the identity of the API Server: %s\n%s"
                % (e, TRACE_HINT))
    try:
        host, port = host_of_url(target)
        real = dial(host, port)
        st, ans = https(real, name or host, ca_pem, "POST", "/_admin/kubeadm-join", token=tok, body=req)
    except Refused as e:
        # the first call with the TLS bootstrap config: kubeadm reads its ClusterConfiguration
        die("error execution phase preflight: unable to fetch the kubeadm-config ConfigMap: failed to get config "
            "map: Get \"%s/api/v1/namespaces/kube-system/configmaps/kubeadm-config?timeout=10s\": %s\n%s"
            % (target.rstrip("/"), e, TRACE_HINT))
    if not isinstance(ans, dict):
        die("kubeadm stub: the API stand-in answered %d" % st)
    return ans


def cmd_join(args):
    import re
    flags, pos = parse_flags(
        args, {"discovery-token-unsafe-skip-ca-verification", "dry-run", "control-plane", "help", "h"},
        {"config", "token", "discovery-token", "tls-bootstrap-token", "discovery-token-ca-cert-hash", "node-name",
         "cri-socket", "ignore-preflight-errors", "v", "skip-phases", "patches", "discovery-file",
         "apiserver-advertise-address", "apiserver-bind-port", "certificate-key"})
    cfg_text = None
    if "config" in flags:
        path = flags["config"][-1]
        try:
            with open(path) as f:
                cfg_text = f.read()
        except OSError as e:
            log_invocation(["join"] + args)
            die('unable to read config from "%s" : %s\n%s' % (path, e.strerror, TRACE_HINT))
    log_invocation(["join"] + args, cfg_text)
    if flags.get("control-plane"):
        die("the stub kubeadm joins workers only")
    if cfg_text is not None:
        mixed = [f for f in ("token", "discovery-token", "tls-bootstrap-token", "discovery-token-ca-cert-hash",
                             "discovery-token-unsafe-skip-ca-verification", "node-name", "discovery-file")
                 if f in flags]
        if mixed or pos:
            die("can not mix '--config' with arguments %s\n%s" % ("[" + " ".join(sorted(mixed) or ["endpoint"]) + "]",
                                                                  TRACE_HINT))
        req = join_from_config(cfg_text)
    else:
        if len(pos) != 1:
            die("[discovery: Invalid value: \"\": bootstrapToken or file must be set]\n" + TRACE_HINT)
        tok = (flags.get("discovery-token") or flags.get("token") or [""])[-1]
        req = {"api_server_endpoint": pos[0], "token": tok,
               "tls_bootstrap_token": (flags.get("tls-bootstrap-token") or flags.get("token") or [""])[-1],
               "ca_cert_hashes": flags.get("discovery-token-ca-cert-hash") or [],
               "unsafe_skip": bool(flags.get("discovery-token-unsafe-skip-ca-verification")),
               "node_name": (flags.get("node-name") or [""])[-1], "node_labels": "", "taints": []}
    # kubeadm's own validation, before it talks to anyone
    bad = [f for f, v in (("discovery.bootstrapToken.token", req["token"]),
                          ("discovery.tlsBootstrapToken", req["tls_bootstrap_token"]))
           if v and not re.match(TOKEN_RE, v)]
    if bad:
        die("[%s]\n%s" % (", ".join('%s: Invalid value: "": the bootstrap token is invalid' % f for f in bad),
                           TRACE_HINT))
    for h in req["ca_cert_hashes"]:
        if not re.match(r"^sha256:[0-9a-f]{64}$", h):
            die('discovery.bootstrapToken.caCertHashes: Invalid value: "%s": %s\n%s' % (
                h, 'invalid hash, expected a "sha256" hash of 64 hex digits' if h.startswith("sha256:")
                else 'unknown hash type, supported: sha256 (format "<type>:<value>")', TRACE_HINT))
    if not req["node_name"]:
        req["node_name"] = os.uname().nodename.lower()
    req["gpus"] = count_gpus()
    req["argv"] = ["kubeadm", "join"] + args
    req["pod_dir"] = os.environ.get("RP_POD_DIR", "")
    if flags.get("dry-run"):
        print("[dryrun] Would join node %s" % req["node_name"])
        return 0
    print("[preflight] Running pre-flight checks")
    sys.stdout.flush()
    ans = post_join(req)
    if not ans.get("ok"):
        msg = ans.get("message") or "join refused"
        if msg.startswith("couldn't validate"):
            msg = "error execution phase preflight: " + msg
        die(msg + "\n" + TRACE_HINT)
    print("[preflight] Reading configuration from the cluster...\n"
          "[preflight] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'\n"
          "[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n"
          "[kubelet-start] Writing kubelet environment file with flags to file \"/var/lib/kubelet/kubeadm-flags.env\"\n"
          "[kubelet-start] Starting the kubelet\n"
          "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n\n"
          "This node has joined the cluster:\n"
          "* Certificate signing request was sent to apiserver and a response was received.\n"
          "* The Kubelet was informed of the new secure connection details.\n\n"
          "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")
    return 0


def cmd_reset(args):
    log_invocation(["reset"] + args)
    flags, _ = parse_flags(args, {"f", "force", "dry-run"}, {"cri-socket", "v", "ignore-preflight-errors",
                                                              "cleanup-tmp-dir", "kubeconfig", "skip-phases"})
    if not flags.get("f") and not flags.get("force"):
        sys.stderr.write("[reset] Are you sure you want to proceed? [y/N]: ")
        die("aborted reset operation (no terminal; use -f)")
    print("[preflight] Running pre-flight checks\n"
          "[reset] Deleted contents of the etcd data directory: /var/lib/etcd\n"
          "[reset] Stopping the kubelet service\n"
          "[reset] Unmounting mounted directories in \"/var/lib/kubelet\"\n"
          "[reset] Deleting contents of directories: [/etc/kubernetes/manifests /var/lib/kubelet /etc/kubernetes/pki]\n"
          "[reset] Deleting files: [/etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf]\n\n"
          "The reset process does not clean CNI configuration, iptables rules or IPVS tables.")
    return 0


def cmd_version(args):
    log_invocation(["version"] + args)
    flags, _ = parse_flags(args, set(), {"o", "output"})
    fmt = (flags.get("o") or flags.get("output") or [""])[-1]
    VERSION = version()
    if fmt == "short":  # what rp-join asks on every pod: nothing more is needed
        print(VERSION)
        return 0
    info = {"major": "1", "minor": str(minor_of(VERSION)), "gitVersion": VERSION, "gitCommit": "2b0f7e1e7e3b0e3f5a4d1c9a8f6e5d4c3b2a1f00",
            "gitTreeState": "clean", "buildDate": "2026-04-22T11:40:00Z", "goVersion": "go1.23.8", "compiler": "gc",
            "platform": "linux/amd64"}
    if fmt == "json":
        import json
        print(json.dumps({"clientVersion": info}, indent=2))
    else:
        print('kubeadm version: &version.Info{Major:"1", Minor:"%s", GitVersion:"%s", GitCommit:"%s", '
              'GitTreeState:"clean", BuildDate:"%s", GoVersion:"go1.23.8", Compiler:"gc", Platform:"linux/amd64"}'
              % (info["minor"], VERSION, info["gitCommit"], info["buildDate"]))
    return 0


def main(argv):
    if not argv:
        die("Usage:\n  kubeadm [command]\n\nAvailable Commands (stub): join, reset, version")
    cmd, args = argv[0], argv[1:]
    if cmd == "join":
        return cmd_join(args)
    if cmd == "reset":
        return cmd_reset(args)
    if cmd == "version":
        return cmd_version(args)
    log_invocation(argv)
    die('unknown command "%s" for "kubeadm" (the stub knows join, reset, version)' % cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
