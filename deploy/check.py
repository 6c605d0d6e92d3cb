#!/usr/bin/env python3
"""PaySystem's rules for a rendered overlay, beyond what the API schemas check.

Usage: check.py OVERLAY_NAME RENDERED.yaml   (exit 1 and one line per violation when broken)

Cross references: every Service, PodDisruptionBudget and HorizontalPodAutoscaler finds its
Deployment; every ConfigMap/Secret (and Secret key) a pod uses, as environment or as a volume,
exists; service URLs in the ConfigMap name a rendered Service and port (a namePrefix would
break them silently); every provider adapter has its PAYSYS__EDGE__PROVIDERS__<NAME> URL;
every service's PAYSYS__<SECTION>__LISTEN is on all interfaces and on its container port; every
PAYSYS__<SECTION>__..._FILE path is a file mounted into the Deployment that reads the section.
Hardening: every container has requests and limits, probes on a declared port, a restricted
securityContext; every pod a termination grace period; Prometheus annotations on a real port.
Topology: one namespace, one autoscaler per Deployment (never an HPA and a KEDA ScaledObject on
one): a CPU HPA on rpc-edge and on every adapter that consumes no queue, a ScaledObject on every
adapter that consumes its command queue (found in the source: crates/provider-*/src declaring
`async_one_time: true`), provider-sandbox in dev only (and nothing outside dev pointing at it; a
provider's own test environment, e.g. mobilPay's sandboxsecure, is fine).
KEDA: a ScaledObject never scales to zero (minReplicaCount >= 1, no idleReplicaCount), min <=
max (the CRD's CEL rule, which jsonschema cannot run), fallback within them; its rabbitmq
trigger reads exactly the queue its target consumes (PAYSYS__AMQP__QUEUE_PREFIX +
provider.<name>.commands) over AMQP in QueueLength mode, with only the metadata keys KEDA reads
(a misspelt one would be ignored by KEDA) and never an address or password (those come from the
TriggerAuthentication it names, which must exist, from a Secret key that must exist, naming the
target's broker and vhost under a name KEDA's namespace resolves, as a user that is no
service's); a cpu trigger beside it; every TriggerAuthentication is used.
Migrations: outside dev no Deployment migrates at start (PAYSYS__DATABASE__MIGRATE=false); the
Job paysys-migrate has one container per service of db-roles.sh running its Deployment's binary
with --migrate-only, in its image, with exactly the ConfigMaps and Secrets its Deployment takes
(so its own role, and no other service's Secret) and the files its configuration names mounted.
Ports: every provider adapter has an internal port `http` (PAYSYS__<NAME>__LISTEN) and a public
port `callback` (PAYSYS__<NAME>__CALLBACK_LISTEN), both in its Service; rpc-edge dials the
internal one, every other URL naming an adapter (public URLs, the sandbox's notify URLs) the
callback one.
Secrets: every service but provider-sandbox gets PAYSYS__INTERNAL__TOKEN, and rpc-edge and the
notifier PAYSYS__SECRETS__DATA_KEY, from a Secret (never a ConfigMap or a literal); their values,
when not REPLACE placeholders, are well formed; outside dev they are not the dev overlay's, and
the notifier refuses private destinations and plain HTTP.
Least privilege: each Deployment takes the shared Secret paysys-secrets (PAYSYS__INTERNAL__TOKEN
only) and its own paysys-<deployment> (PAYSYS__DATABASE__URL as its own role paysys_<schema> of
scripts/db-roles.sh, PAYSYS__AMQP__URL as its own user paysys-<service> of scripts/amqp-users.sh
(the dev overlay may keep `guest`), its own PAYSYS__<NAME>__* credentials, the data key for rpc-edge
and notifier only, the same in both) and no other service's Secret nor paysys-db-admin; the
sandbox reads adapters' provider credentials key by key only. Jobs: backoffLimit,
ttlSecondsAfterFinished, activeDeadlineSeconds, requests and limits, the restricted
securityContext, no service-account token; the Job paysys-db-roles runs a byte-identical copy of
scripts/db-roles.sh and sees every service's database URL (and nothing else) as its role's file.
NetworkPolicies: every Deployment is selected by one; nothing is open to everything but
rpc-edge's `http` port and the adapters' `callback` ports (never an adapter's internal port);
rpc-edge and the callback ports are open to everything, each adapter's internal port to
rpc-edge, the notifier and the ledger to PaySystem's pods (the CLI), the sandbox to the adapters.

Also: check.py --placeholders RENDERED.yaml   (one line per value still holding REPLACE, for
validate.sh; Secret `data` is decoded first; a script, a value starting with #!, is not one)
"""
import base64
import binascii
import ipaddress
import os
import re
import sys

import yaml

errors = []


def err(msg):
    errors.append(msg)


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selector_matches(sel, labels):
    """A LabelSelector (matchLabels and matchExpressions); an empty one matches everything."""
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def is_adapter(name):
    return name.startswith("provider-") and name != "provider-sandbox"


def section_of(deployment):
    """The config section a Deployment's service reads: rpc-edge -> EDGE, provider-x -> X."""
    if deployment == "rpc-edge":
        return "EDGE"
    return deployment[len("provider-"):] if deployment.startswith("provider-") else deployment


def deployment_of(section, deployments):
    """The Deployment reading PAYSYS__<SECTION>__*, or None."""
    for name in deployments:
        if section_of(name).upper().replace("-", "_") == section:
            return name
    return None


def secret_values(secret):
    """A Secret's values as strings (data decoded, stringData as is)."""
    out = {}
    for k, v in (secret.get("data") or {}).items():
        try:
            out[k] = base64.b64decode(str(v)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            out[k] = str(v)
    for k, v in (secret.get("stringData") or {}).items():
        out[k] = str(v)
    return out


def secret_problem(key, value):
    """What the services would refuse in the internal token or the data key, or None."""
    if key == "PAYSYS__INTERNAL__TOKEN":
        if len(value) < 32:
            return "is shorter than 32 characters"
        if not all(33 <= ord(ch) <= 126 for ch in value):
            return "must be printable ASCII without spaces"
    if key == "PAYSYS__SECRETS__DATA_KEY":
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return "is not base64"
        if len(raw) != 32:
            return "is not 32 bytes (base64 of `openssl rand 32`)"
    return None


def file_problem(pod, containers, path, secrets, configmaps):
    """Why `path` is not a file of a volume mounted into one of `containers`, or None."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    # The innermost mount holding the path.
    mounts = [vm for c in containers for vm in c.get("volumeMounts", [])
              if path.startswith(vm["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return "is on no volume mounted into it"
    vm = max(mounts, key=lambda m: len(m["mountPath"]))
    rel = path[len(vm["mountPath"].rstrip("/")) + 1:]
    v = volumes.get(vm["name"], {})
    src = v.get("secret") or v.get("configMap")
    if vm.get("subPath") or src is None:
        return None  # not a projected Secret/ConfigMap: nothing more to check
    if src.get("items"):
        files = {i["path"] for i in src["items"]}
    else:
        obj = secrets.get(src.get("secretName")) if "secret" in v else configmaps.get(src.get("name"))
        files = set((obj or {}).get("data") or {}) | set((obj or {}).get("stringData") or {})
    if rel not in files:
        return ": volume %s provides no file %s" % (vm["name"], rel)
    return None


def container_env(c, configmaps, secrets):
    """A container's environment: name -> (where it comes from, value or None)."""
    env = {}
    for ref in c.get("envFrom", []):
        prefix = ref.get("prefix", "")
        if "secretRef" in ref:
            sec = secrets.get(ref["secretRef"]["name"]) or {}
            for k, v in secret_values(sec).items():
                env[prefix + k] = ("Secret", v)
        if "configMapRef" in ref:
            for k, v in (configmaps.get(ref["configMapRef"]["name"], {}).get("data") or {}).items():
                env[prefix + k] = ("ConfigMap", str(v))
    for e in c.get("env", []):
        vf = e.get("valueFrom") or {}
        if "secretKeyRef" in vf:
            sec = secrets.get(vf["secretKeyRef"]["name"]) or {}
            env[e["name"]] = ("Secret", secret_values(sec).get(vf["secretKeyRef"]["key"]))
        elif "configMapKeyRef" in vf:
            cm = configmaps.get(vf["configMapKeyRef"]["name"]) or {}
            value = (cm.get("data") or {}).get(vf["configMapKeyRef"]["key"])
            env[e["name"]] = ("ConfigMap", None if value is None else str(value))
        else:
            env[e["name"]] = ("a literal env value", e.get("value"))
    return env


def check_resources(where, c):
    """A container has CPU and memory requests and limits."""
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(kind, {}):
                err("%s: no %s.%s" % (where, kind, r))


def check_hardening(where, c, psc):
    """A container's securityContext meets the restricted Pod Security Standard (and more)."""
    sc = c.get("securityContext", {})
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        err("%s: runAsNonRoot is not set" % where)
    if sc.get("readOnlyRootFilesystem") is not True:
        err("%s: readOnlyRootFilesystem is not true" % where)
    if sc.get("allowPrivilegeEscalation") is not False:
        err("%s: allowPrivilegeEscalation is not false" % where)
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        err("%s: capabilities do not drop ALL" % where)
    if (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        err("%s: seccompProfile is not RuntimeDefault" % where)


# ---- NetworkPolicies ----------------------------------------------------------------------

def policy_selects(policy, pod_labels):
    types = policy["spec"].get("policyTypes") or ["Ingress"]
    return "Ingress" in types and selector_matches(policy["spec"].get("podSelector"), pod_labels)


def rule_ports_match(rule, number, named):
    """Whether an ingress rule's ports admit TCP `number` on a pod whose named ports are `named`."""
    ports = rule.get("ports") or []
    if not ports:
        return True
    for p in ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        port = p.get("port")
        if port is None:
            return True
        if isinstance(port, str) and not port.isdigit():
            if named.get(port) == number:
                return True
            continue
        port = int(port)
        if port == number or (p.get("endPort") and port <= number <= int(p["endPort"])):
            return True
    return False


def peer_is_everything(peer):
    """A peer admitting every source: any address (a /0 ipBlock) or every pod of every namespace."""
    if "ipBlock" in peer:
        try:
            return ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False).prefixlen == 0
        except ValueError:
            return False
    ns = peer.get("namespaceSelector")
    return ns is not None and not ns.get("matchLabels") and not ns.get("matchExpressions") \
        and not (peer.get("podSelector") or {}).get("matchLabels") \
        and not (peer.get("podSelector") or {}).get("matchExpressions")


def rule_from_everything(rule):
    peers = rule.get("from") or []
    return not peers or any(peer_is_everything(p) for p in peers)


def peer_matches_pod(peer, pod_labels, ns_labels):
    """Whether a peer admits a pod of the policy's own namespace with these labels."""
    if "ipBlock" in peer:
        return peer_is_everything(peer)
    if "namespaceSelector" in peer and not selector_matches(peer["namespaceSelector"], ns_labels):
        return False
    if "podSelector" in peer:
        return selector_matches(peer["podSelector"], pod_labels)
    return "namespaceSelector" in peer


def check_network_policies(by_kind, deployments, namespaces):
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    ns_obj = (by_kind.get("Namespace") or {}).get(namespaces[0]) if len(namespaces) == 1 else None
    ns_labels = dict((ns_obj or {}).get("metadata", {}).get("labels") or {})
    if ns_obj is not None:
        ns_labels["kubernetes.io/metadata.name"] = ns_obj["metadata"]["name"]

    def labels_of(name):
        return deployments[name]["spec"]["template"]["metadata"].get("labels", {})

    def selecting(name):
        return [p for p in policies if policy_selects(p, labels_of(name))]

    def open_to_everything(name, number):
        sel = selecting(name)
        if not sel:
            return True  # no policy: Kubernetes admits everything
        named = deployments[name]["_named"]
        return any(rule_from_everything(r) and rule_ports_match(r, number, named)
                   for p in sel for r in p["spec"].get("ingress") or [])

    def reachable(name, number, from_labels):
        sel = selecting(name)
        if not sel:
            return True
        named = deployments[name]["_named"]
        return any(rule_ports_match(r, number, named)
                   and (not r.get("from") or any(peer_matches_pod(peer, from_labels, ns_labels) for peer in r["from"]))
                   for p in sel for r in p["spec"].get("ingress") or [])

    for name, dep in deployments.items():
        if not selecting(name):
            err("Deployment %s: no NetworkPolicy selects it (all of its ports are open to everything)" % name)
        named = dep["_named"]
        public = set()
        if name == "rpc-edge" and "http" in named:
            public.add(named["http"])
        if is_adapter(name) and "callback" in named:
            public.add(named["callback"])
        for number in sorted({v for v in dep["_ports"].values()}):
            is_open = open_to_everything(name, number)
            if is_open and number not in public:
                what = "internal port" if is_adapter(name) and number == named.get("http") else "port"
                err("NetworkPolicy: %s's %s %d is open to everything (only rpc-edge's API and the "
                    "adapters' callback ports may be)" % (name, what, number))
            elif not is_open and number in public:
                err("NetworkPolicy: %s's public port %d is not open to everything (%s)"
                    % (name, number, "merchants" if name == "rpc-edge" else "the provider's callbacks"))

    # Who must still get through.
    cli = {"app.kubernetes.io/part-of": "paysys", "app.kubernetes.io/name": "paysys-cli"}
    needs = []
    for name in deployments:
        if is_adapter(name) and "rpc-edge" in deployments and "http" in deployments[name]["_named"]:
            needs.append((name, deployments[name]["_named"]["http"], "rpc-edge", labels_of("rpc-edge")))
        if name in ("notifier", "ledger") and "http" in deployments[name]["_named"]:
            needs.append((name, deployments[name]["_named"]["http"], "a paysys CLI pod", cli))
        if name == "provider-sandbox" and "http" in deployments[name]["_named"]:
            for other in deployments:
                if is_adapter(other) or other == "notifier":
                    needs.append((name, deployments[name]["_named"]["http"], other, labels_of(other)))
    for name, number, who, labels in needs:
        if not reachable(name, number, labels):
            err("NetworkPolicy: %s cannot reach %s:%d" % (who, name, number))

    for p in policies:
        if not any(policy_selects(p, labels_of(d)) for d in deployments) \
                and (p["spec"].get("podSelector") or {}) != {}:
            err("NetworkPolicy %s: selects no Deployment" % p["metadata"]["name"])


# ---- Least privilege: one Secret, database role and broker user per service -----------------

SHARED_SECRET = "paysys-secrets"          # every service: the internal token, nothing else
DB_ADMIN_SECRET = "paysys-db-admin"       # the Job paysys-db-roles only
DB_ROLES_JOB = "paysys-db-roles"
DATA_KEY_SERVICES = ("rpc-edge", "notifier")
# Secrets of files that belong to one service (besides its paysys-<service>).
FILE_SECRETS = {"paysys-netopia-keys": "provider-netopia"}
# The dev overlay's broker account (its broker is not provisioned by deploy/; deploy/README.md).
DEV_AMQP_USER = "guest"
HERE = os.path.dirname(os.path.abspath(__file__))
DB_ROLES_COPY = os.path.join(HERE, "base", "provision", "db-roles.sh")
DB_ROLES_SCRIPT = os.path.join(HERE, "..", "scripts", "db-roles.sh")


def own_secret(deployment):
    return "paysys-%s" % deployment


def db_roles_services():
    """service -> schema, from the SERVICES line of db-roles.sh (the copy the Job runs)."""
    try:
        with open(DB_ROLES_COPY) as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(r'^SERVICES="([^"]*)"$', text, re.M)
    if not m:
        return None
    return dict(pair.split(":", 1) for pair in m.group(1).split())


def secret_refs(pod):
    """Every (Secret name, how, key or None) a pod spec references, in any container."""
    out = []
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        for ref in c.get("envFrom", []):
            if "secretRef" in ref:
                out.append((ref["secretRef"]["name"], "envFrom", None))
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                out.append((ref["name"], "env", ref["key"]))
    for v in pod.get("volumes", []):
        if "secret" in v:
            for item in v["secret"].get("items") or [{"key": None}]:
                out.append((v["secret"].get("secretName"), "volume", item["key"]))
        for src in (v.get("projected") or {}).get("sources") or []:
            if "secret" in src:
                for item in src["secret"].get("items") or [{"key": None}]:
                    out.append((src["secret"]["name"], "volume", item["key"]))
    return out


def url_parts(url):
    """(user, password, host:port, path) of a postgres:// or amqp:// URL."""
    rest = url.split("://", 1)[1] if "://" in url else url
    userinfo, _, hostpath = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    hostport, _, path = hostpath.partition("/")
    return user, password, hostport, path.split("?", 1)[0]


def check_least_privilege(overlay, deployments, secrets):
    services = [d for d in deployments if d != "provider-sandbox"]
    per_service = {own_secret(d): d for d in services}
    schemas = db_roles_services()
    if schemas is None:
        err("%s: no SERVICES line (service:schema pairs) to read" % DB_ROLES_COPY)
        schemas = {}

    # Who references which Secret.
    for name, dep in deployments.items():
        refs = secret_refs(dep["spec"]["template"]["spec"])
        where = "Deployment %s" % name
        if name == "provider-sandbox":
            # The simulated providers share each adapter's own credentials, key by key, and
            # nothing else of it (never its database or broker URL, nor the data key).
            for sec, how, key in refs:
                if sec in per_service:
                    adapter = per_service[sec]
                    section = section_of(adapter).upper().replace("-", "_")
                    if how != "env" or not is_adapter(adapter) or not (key or "").startswith("PAYSYS__%s__" % section):
                        err("%s: takes %s of %s's Secret %s; the sandbox may read an adapter's "
                            "own provider credentials only, key by key" % (where, key or "everything", adapter, sec))
                elif sec in (SHARED_SECRET, DB_ADMIN_SECRET):
                    err("%s: references Secret %s, which it does not need" % (where, sec))
            continue
        env_from = [sec for sec, how, _ in refs if how == "envFrom"]
        for want in (SHARED_SECRET, own_secret(name)):
            if want not in env_from:
                err("%s: does not take Secret %s (envFrom)" % (where, want))
        for sec, how, key in refs:
            if sec in (SHARED_SECRET, own_secret(name)):
                continue
            owner = per_service.get(sec) or FILE_SECRETS.get(sec)
            if sec == DB_ADMIN_SECRET:
                err("%s: references Secret %s, the database administrator's (the Job's only)" % (where, sec))
            elif owner is not None and owner != name:
                err("%s: references Secret %s, which is %s's" % (where, sec, owner))
            elif owner is None:
                err("%s: references Secret %s, neither the shared one, its own (%s) nor a file "
                    "Secret of its own" % (where, sec, own_secret(name)))

    # What each Secret holds.
    shared = secrets.get(SHARED_SECRET)
    if shared is None:
        err("Secret %s (the internal token, shared by every service) is not rendered" % SHARED_SECRET)
    elif set(secret_values(shared)) != {"PAYSYS__INTERNAL__TOKEN"}:
        err("Secret %s: must hold PAYSYS__INTERNAL__TOKEN only (it holds %s); everything else "
            "belongs in a service's own Secret" % (SHARED_SECRET, sorted(secret_values(shared))))
    for sname, sec in secrets.items():
        values = secret_values(sec)
        if "PAYSYS__SECRETS__DATA_KEY" in values and sname not in [own_secret(d) for d in DATA_KEY_SERVICES]:
            err("Secret %s: holds PAYSYS__SECRETS__DATA_KEY; only %s may" %
                (sname, " and ".join(own_secret(d) for d in DATA_KEY_SERVICES)))
        if "PAYSYS__INTERNAL__TOKEN" in values and sname != SHARED_SECRET:
            err("Secret %s: holds PAYSYS__INTERNAL__TOKEN; it belongs in %s only" % (sname, SHARED_SECRET))
    data_keys = {own_secret(d): secret_values(secrets[own_secret(d)]).get("PAYSYS__SECRETS__DATA_KEY")
                 for d in DATA_KEY_SERVICES if own_secret(d) in secrets}
    if len(set(data_keys.values())) > 1:
        err("Secrets %s: PAYSYS__SECRETS__DATA_KEY differs (one key of secrets at rest)" % " and ".join(sorted(data_keys)))

    db_targets, amqp_targets = {}, {}
    for name in services:
        sname = own_secret(name)
        sec = secrets.get(sname)
        if sec is None:
            err("Secret %s (%s's database and broker URLs) is not rendered" % (sname, name))
            continue
        values = secret_values(sec)
        section = section_of(name).upper().replace("-", "_")
        allowed = {"PAYSYS__DATABASE__URL", "PAYSYS__AMQP__URL"}
        if name in DATA_KEY_SERVICES:
            allowed.add("PAYSYS__SECRETS__DATA_KEY")
        for k in sorted(values):
            if k not in allowed and not k.startswith("PAYSYS__%s__" % section):
                err("Secret %s: %s is not %s's (only its database and broker URLs, its own "
                    "PAYSYS__%s__* credentials%s)" % (sname, k, name, section,
                    ", the data key" if name in DATA_KEY_SERVICES else ""))
        schema = schemas.get(name)
        if schema is None and schemas:
            err("Deployment %s: not in the SERVICES of db-roles.sh: it has no database role" % name)
        for key, want, targets in (("PAYSYS__DATABASE__URL", "paysys_%s" % schema, db_targets),
                                   ("PAYSYS__AMQP__URL", "paysys-%s" % name[len("provider-"):] if is_adapter(name) else "paysys-%s" % name, amqp_targets)):
            url = values.get(key)
            if url is None:
                err("Secret %s: no %s" % (sname, key))
                continue
            user, _, hostport, path = url_parts(url)
            ok = {want}
            if key == "PAYSYS__AMQP__URL" and overlay == "dev":
                ok.add(DEV_AMQP_USER)
            if key == "PAYSYS__DATABASE__URL" and schema is None:
                continue
            if user not in ok:
                err("Secret %s: %s is for %r, not %s's own %s %s" % (
                    sname, key, user, name, "role" if "DATABASE" in key else "broker user", want))
            targets[name] = (hostport, path)
    for key, targets in (("PAYSYS__DATABASE__URL", db_targets), ("PAYSYS__AMQP__URL", amqp_targets)):
        if len(set(targets.values())) > 1:
            err("%s: the services' Secrets name different servers or databases: %s" % (
                key, ", ".join("%s %s/%s" % (n, h, p) for n, (h, p) in sorted(targets.items()))))


def check_jobs(overlay, by_kind, deployments, secrets, configmaps):
    jobs = by_kind.get("Job", {})
    for name, job in jobs.items():
        spec = job["spec"]
        pod = spec["template"]["spec"]
        where = "Job %s" % name
        for field in ("backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds"):
            if field not in spec:
                err("%s: no %s" % (where, field))
        if pod.get("automountServiceAccountToken") is not False:
            err("%s: automountServiceAccountToken is not false" % where)
        psc = pod.get("securityContext", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            cw = "%s container %s" % (where, c["name"])
            check_resources(cw, c)
            check_hardening(cw, c, psc)
        for sec, how, key in secret_refs(pod):
            s = secrets.get(sec)
            if s is None:
                err("%s: Secret %s is not rendered" % (where, sec))
            elif key is not None and key not in secret_values(s):
                err("%s: Secret key %s/%s is not rendered" % (where, sec, key))
        for v in pod.get("volumes", []):
            cm = (v.get("configMap") or {}).get("name")
            if cm and cm not in configmaps:
                err("%s: ConfigMap %s is not rendered" % (where, cm))

    # The database roles: the Job exists, runs the very script `make up` runs, and sees each
    # service's database URL (nothing else of its Secret) under its role's name.
    job = jobs.get(DB_ROLES_JOB)
    if job is None:
        err("Job %s (the services' PostgreSQL roles) is not rendered" % DB_ROLES_JOB)
        return
    if os.path.isfile(DB_ROLES_SCRIPT):
        with open(DB_ROLES_SCRIPT, "rb") as f:
            original = f.read()
        with open(DB_ROLES_COPY, "rb") as f:
            if f.read() != original:
                err("%s differs from scripts/db-roles.sh: copy it again (cp scripts/db-roles.sh "
                    "deploy/base/provision/db-roles.sh)" % os.path.relpath(DB_ROLES_COPY, os.path.join(HERE, "..")))
        rendered = (configmaps.get(DB_ROLES_JOB, {}).get("data") or {}).get("db-roles.sh")
        if rendered is None or rendered.encode("utf-8") != original:
            err("ConfigMap %s: db-roles.sh is not scripts/db-roles.sh" % DB_ROLES_JOB)
    pod = job["spec"]["template"]["spec"]
    refs = secret_refs(pod)
    mapped = {}
    for v in pod.get("volumes", []):
        for src in (v.get("projected") or {}).get("sources") or []:
            sec = src.get("secret")
            if not sec:
                continue
            if not sec.get("items"):
                err("Job %s: takes all of Secret %s; it needs its PAYSYS__DATABASE__URL only" % (DB_ROLES_JOB, sec["name"]))
            for item in sec.get("items") or []:
                if item["key"] != "PAYSYS__DATABASE__URL":
                    err("Job %s: takes %s of Secret %s; it needs PAYSYS__DATABASE__URL only" % (DB_ROLES_JOB, item["key"], sec["name"]))
                else:
                    mapped[sec["name"]] = item["path"]
    for sec, how, key in refs:
        if how == "envFrom":
            err("Job %s: takes all of Secret %s (envFrom)" % (DB_ROLES_JOB, sec))
    for service, schema in sorted((db_roles_services() or {}).items()):
        role = "paysys_%s" % schema
        if mapped.get(own_secret(service)) != role:
            err("Job %s: does not see %s's PAYSYS__DATABASE__URL (Secret %s) as file %s" % (
                DB_ROLES_JOB, service, own_secret(service), role))
        if service not in deployments:
            err("db-roles.sh: service %s is not a rendered Deployment" % service)


# ---- Migrations: the Job paysys-migrate, services that do not migrate at start ------------

MIGRATE_JOB = "paysys-migrate"
MIGRATE_ONLY = "--migrate-only"
REPO = os.path.join(HERE, "..")


def effective(env, key, default):
    """A setting's value in a container's environment, else its default."""
    value = env.get(key, (None, None))[1]
    return default if value is None else value


def check_migrations(overlay, by_kind, deployments, secrets, configmaps):
    """Outside dev no service migrates at start (PAYSYS__DATABASE__MIGRATE=false); the Job
    paysys-migrate runs every service of db-roles.sh with --migrate-only, as that service: its
    binary and image, the ConfigMaps and the Secrets its Deployment takes and no other
    service's, the files its configuration names."""
    for name, dep in deployments.items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            if MIGRATE_ONLY in (c.get("command") or []) + (c.get("args") or []):
                err("Deployment %s container %s: runs %s (it would exit at once); that is the "
                    "Job %s's" % (name, c["name"], MIGRATE_ONLY, MIGRATE_JOB))
            if name == "provider-sandbox":
                continue
            migrate = effective(container_env(c, configmaps, secrets), "PAYSYS__DATABASE__MIGRATE", "true")
            if overlay != "dev" and migrate.lower() != "false":
                err("Deployment %s: PAYSYS__DATABASE__MIGRATE is %r; outside dev no service changes "
                    "its schema at start (the Job %s migrates)" % (name, migrate, MIGRATE_JOB))

    job = by_kind.get("Job", {}).get(MIGRATE_JOB)
    if job is None:
        err("Job %s (every service's migrations, --migrate-only) is not rendered" % MIGRATE_JOB)
        return
    pod = job["spec"]["template"]["spec"]
    where = "Job %s" % MIGRATE_JOB
    if pod.get("initContainers"):
        err("%s: has initContainers; one container per service" % where)
    services = db_roles_services() or {}
    containers = {c["name"]: c for c in pod.get("containers", [])}
    for cname in sorted(set(containers) - set(services)):
        err("%s: container %s is no service of db-roles.sh (no database role, no migrations)" % (where, cname))
    for service, schema in sorted(services.items()):
        c = containers.get(service)
        if c is None:
            err("%s: no container %s: schema %s is never migrated" % (where, service, schema))
            continue
        cw = "%s container %s" % (where, service)
        if os.path.isdir(os.path.join(REPO, "migrations")) and not (
                os.path.isdir(os.path.join(REPO, "migrations", schema)) or is_adapter(service)):
            err("%s: migrations/%s does not exist" % (cw, schema))
        dep = deployments.get(service)
        if dep is None:
            continue  # check_jobs reports db-roles.sh services that are not Deployments
        dc = dep["spec"]["template"]["spec"]["containers"][0]
        argv = (c.get("command") or []) + (c.get("args") or [])
        if not argv or argv[0] != (dc.get("command") or [None])[0]:
            err("%s: runs %s, not the service's binary %s" % (cw, argv[:1], (dc.get("command") or [None])[0]))
        if MIGRATE_ONLY not in argv:
            err("%s: no %s (it would start the service and never complete)" % (cw, MIGRATE_ONLY))
        if c.get("image") != dc.get("image"):
            err("%s: image %s is not the Deployment's %s (it must migrate for the release it "
                "precedes)" % (cw, c.get("image"), dc.get("image")))
        # As that service, and only that one: the same ConfigMaps and Secrets as its Deployment.
        def sources(container):
            refs = set()
            for ref in container.get("envFrom", []):
                for kind in ("configMapRef", "secretRef"):
                    if kind in ref:
                        refs.add((kind, ref[kind]["name"]))
            for e in container.get("env", []):
                for kind in ("configMapKeyRef", "secretKeyRef"):
                    ref = (e.get("valueFrom") or {}).get(kind)
                    if ref:
                        refs.add((kind, ref["name"]))
            return refs
        want, have = sources(dc), sources(c)
        for kind, sname in sorted(want - have):
            err("%s: does not take %s %s, which the Deployment %s takes" % (cw, kind[:-3], sname, service))
        for kind, sname in sorted(have - want):
            owner = next((d for d in deployments if own_secret(d) == sname), None)
            err("%s: takes %s %s%s, which the Deployment %s does not" % (
                cw, kind[:-3], sname, " (%s's)" % owner if owner and owner != service else "", service))
        env = container_env(c, configmaps, secrets)
        section = section_of(service).upper().replace("-", "_")
        for key, (_, value) in sorted(env.items()):
            if value and value.startswith("/") and re.match(r"^PAYSYS__%s__.*_FILE$" % re.escape(section), key):
                problem = file_problem(pod, [c], value, secrets, configmaps)
                if problem:
                    err("%s: %s=%s %s (the service checks its files before it migrates)" % (cw, key, value, problem))


# ---- KEDA: queue-depth autoscaling --------------------------------------------------------

# The trigger metadata KEDA reads, from KEDA v2.20.2 (pkg/scalers/rabbitmq_scaler.go and
# cpu_memory_scaler.go, the `keda:"name=..., order=triggerMetadata"` tags). KEDA ignores keys it
# does not know (unless KEDA_CHECK_UNEXPECTED_SCALERS_PARAMS is on), so a misspelt optional key
# would silently do nothing: only these are allowed, the address and credentials of the broker
# never (they come from a TriggerAuthentication).
TRIGGER_METADATA = {
    "rabbitmq": ({"queueName", "mode", "value"}, {"activationValue", "protocol", "vhostName"}),
    "cpu": ({"value"}, {"containerName"}),
}
CREDENTIAL_KEYS = {"host", "hostFromEnv", "username", "usernameFromEnv", "password", "passwordFromEnv"}
URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s]*:[^/@\s]*@")
# The adapters whose provider has asynchronous one-time payments, as found in the source
# (crates/provider-*/src, `async_one_time: true`), when deploy/ is checked outside the repository.
ASYNC_ADAPTERS = {"provider-teleaudio"}
COMMAND_QUEUE = "provider.{name}.commands"
DEFAULT_TOML = os.path.join(REPO, "config", "default.toml")


def async_adapters():
    """The adapters that consume their command queue: those whose provider declares
    asynchronous one-time payments (paysys-adapter consumes provider.<name>.commands then)."""
    crates = os.path.join(REPO, "crates")
    startup = os.path.join(crates, "paysys-adapter", "src", "startup.rs")
    if not os.path.isfile(startup):
        return ASYNC_ADAPTERS
    with open(startup) as f:
        text = f.read()
    if 'format!("provider.{name}.commands")' not in text or "async_one_time" not in text:
        err("crates/paysys-adapter/src/startup.rs no longer consumes provider.{name}.commands when "
            "async_one_time: update COMMAND_QUEUE and async_adapters() in deploy/check.py")
    found = set()
    for d in sorted(os.listdir(crates)):
        src = os.path.join(crates, d, "src")
        if not (d.startswith("provider-") and os.path.isdir(src)):
            continue
        for root, _, files in os.walk(src):
            for fn in files:
                if fn.endswith(".rs"):
                    with open(os.path.join(root, fn)) as f:
                        if re.search(r"\basync_one_time:\s*true\b", f.read()):
                            found.add(d)
    if found != ASYNC_ADAPTERS:
        err("the adapters consuming a command queue are %s in the source, %s in deploy/check.py's "
            "ASYNC_ADAPTERS: update it" % (sorted(found), sorted(ASYNC_ADAPTERS)))
    return found


def default_queue_prefix():
    try:
        import tomllib
        with open(DEFAULT_TOML, "rb") as f:
            return str(tomllib.load(f).get("amqp", {}).get("queue_prefix", ""))
    except (ImportError, OSError, ValueError):
        return ""


def command_queue_consumers(deployments, configmaps, secrets):
    """Deployment -> the command queue it consumes (amqp.queue_prefix + provider.<name>.commands)."""
    out = {}
    for name in sorted(async_adapters()):
        dep = deployments.get(name)
        if dep is None:
            continue
        env = container_env(dep["spec"]["template"]["spec"]["containers"][0], configmaps, secrets)
        prefix = effective(env, "PAYSYS__AMQP__QUEUE_PREFIX", default_queue_prefix())
        out[name] = prefix + COMMAND_QUEUE.format(name=section_of(name))
    return out


def amqp_address(url):
    """(scheme, user, host, port, vhost) of an amqp:// URL."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    user, _, hostport, path = url_parts(url)
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    port = port or ("5671" if scheme == "amqps" else "5672")
    return scheme, user, host, port, path or "%2f"


def check_keda(overlay, by_kind, deployments, secrets, configmaps, namespaces, consumers):
    scaled_objects = by_kind.get("ScaledObject", {})
    auths = by_kind.get("TriggerAuthentication", {})
    namespace = namespaces[0] if len(namespaces) == 1 else None
    service_users = {"paysys-%s" % (d[len("provider-"):] if is_adapter(d) else d) for d in deployments}
    queues = {q: d for d, q in consumers.items()}
    used_auths = set()
    for name, so in sorted(scaled_objects.items()):
        spec = so["spec"]
        where = "ScaledObject %s" % name
        target = spec["scaleTargetRef"]["name"]
        lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if lo < 1:
            err("%s: minReplicaCount is %s; never scale an adapter to zero, its callbacks must be "
                "served (KEDA's default is 0: set it)" % (where, lo))
        if lo > hi:
            err("%s: minReplicaCount %s > maxReplicaCount %s" % (where, lo, hi))
        if "idleReplicaCount" in spec:
            err("%s: idleReplicaCount scales to zero when idle; the callbacks must be served" % where)
        fallback = spec.get("fallback")
        if fallback and not lo <= fallback.get("replicas", 0) <= hi:
            err("%s: fallback.replicas %s is outside %s..%s" % (where, fallback.get("replicas"), lo, hi))
        types = [t.get("type") for t in spec.get("triggers", [])]
        if target in consumers and "rabbitmq" not in types:
            err("%s: no rabbitmq trigger on %s's command queue %s" % (where, target, consumers[target]))
        if target in deployments and "cpu" not in types:
            err("%s: no cpu trigger (%s also serves gRPC and its provider's callbacks)" % (where, target))
        for n, t in enumerate(spec.get("triggers", [])):
            tw = "%s trigger %s" % (where, t.get("name") or n)
            meta = t.get("metadata") or {}
            for k, v in sorted(meta.items()):
                if URL_WITH_PASSWORD.match(str(v)) or k in CREDENTIAL_KEYS:
                    err("%s: metadata.%s holds a broker address or credentials; they come from a "
                        "TriggerAuthentication (a Secret), never the manifest" % (tw, k))
            kind = t.get("type")
            if kind not in TRIGGER_METADATA:
                err("%s: trigger type %r is not one deploy/check.py knows (%s)" % (tw, kind, ", ".join(sorted(TRIGGER_METADATA))))
                continue
            required, optional = TRIGGER_METADATA[kind]
            for k in sorted(required - set(meta)):
                err("%s: no metadata.%s" % (tw, k))
            for k in sorted(set(meta) - required - optional - CREDENTIAL_KEYS):
                err("%s: metadata.%s is not a %s setting KEDA reads (%s); KEDA would ignore it" % (
                    tw, k, kind, ", ".join(sorted(required | optional))))
            if kind == "cpu":
                if t.get("metricType") not in ("Utilization", "AverageValue"):
                    err("%s: metricType must be Utilization or AverageValue" % tw)
                if not str(meta.get("value", "")).isdigit():
                    err("%s: metadata.value %r is not a whole number" % (tw, meta.get("value")))
                continue
            # rabbitmq
            if meta.get("protocol") != "amqp":
                err("%s: metadata.protocol must be amqp (the TriggerAuthentication's host is an "
                    "AMQP URL; the management API is not used)" % tw)
            if meta.get("mode") != "QueueLength":
                err("%s: metadata.mode must be QueueLength (the only mode over AMQP)" % tw)
            try:
                if float(meta.get("value", "")) <= 0:
                    raise ValueError
            except ValueError:
                err("%s: metadata.value %r is not a positive number" % (tw, meta.get("value")))
            queue = meta.get("queueName")
            if queue is not None and queue not in queues:
                err("%s: no adapter consumes queue %r (the command queues consumed: %s)" % (
                    tw, queue, ", ".join("%s by %s" % (q, d) for q, d in sorted(queues.items())) or "none"))
            elif queue is not None and queues[queue] != target:
                err("%s: queue %s is %s's, not %s's, the Deployment it scales" % (tw, queue, queues[queue], target))
            ref = t.get("authenticationRef")
            if not ref:
                err("%s: no authenticationRef (the broker URL comes from a TriggerAuthentication)" % tw)
                continue
            if ref.get("kind", "TriggerAuthentication") != "TriggerAuthentication" or ref["name"] not in auths:
                err("%s: authenticationRef %s %s is not a rendered TriggerAuthentication" % (
                    tw, ref.get("kind", "TriggerAuthentication"), ref["name"]))
                continue
            used_auths.add(ref["name"])
            hosts = [r for r in auths[ref["name"]]["spec"].get("secretTargetRef") or [] if r.get("parameter") == "host"]
            if not hosts:
                err("%s: TriggerAuthentication %s gives no `host` (secretTargetRef parameter host)" % (tw, ref["name"]))
                continue
            sec = secrets.get(hosts[0]["name"])
            url = secret_values(sec).get(hosts[0]["key"]) if sec else None
            if url is None:
                continue  # reported below
            if "REPLACE" in url:
                continue  # a placeholder: validate.sh lists it
            scheme, user, host, port, vhost = amqp_address(url)
            if scheme not in ("amqp", "amqps"):
                err("Secret %s: %s is not an amqp:// URL" % (hosts[0]["name"], hosts[0]["key"]))
                continue
            if user in service_users or (user == DEV_AMQP_USER and overlay != "dev"):
                err("Secret %s: KEDA reads queues as %r, %s; give it a broker user of its own without "
                    "permissions (deploy/README.md, \"Autoscaling\")" % (
                        hosts[0]["name"], user, "the broker's default account" if user == DEV_AMQP_USER
                        else "a service's broker user"))
            adapter_url = None
            if target in deployments:
                env = container_env(deployments[target]["spec"]["template"]["spec"]["containers"][0], configmaps, secrets)
                adapter_url = effective(env, "PAYSYS__AMQP__URL", None)
            if adapter_url and "REPLACE" not in adapter_url:
                _, _, a_host, a_port, a_vhost = amqp_address(adapter_url)
                same = {a_host}
                if "." not in a_host and namespace:
                    # KEDA's operator resolves names in its own namespace.
                    same = {"%s.%s.svc" % (a_host, namespace), "%s.%s.svc.cluster.local" % (a_host, namespace)}
                    if host == a_host:
                        err("Secret %s: host %s is a bare Service name, which resolves in KEDA's namespace, "
                            "not %s: use %s.%s.svc" % (hosts[0]["name"], host, namespace, host, namespace))
                if host != a_host and host not in same:
                    err("Secret %s: KEDA reads the queue on %s:%s, %s consumes it on %s:%s" % (
                        hosts[0]["name"], host, port, target, a_host, a_port))
                elif port != a_port:
                    err("Secret %s: port %s, %s's broker is on %s" % (hosts[0]["name"], port, target, a_port))
                want_vhost = meta.get("vhostName") or vhost
                if want_vhost.replace("%2f", "/").replace("%2F", "/") != a_vhost.replace("%2f", "/").replace("%2F", "/"):
                    err("%s: KEDA reads vhost %s, %s consumes in %s" % (tw, want_vhost, target, a_vhost))
    for name, auth in sorted(auths.items()):
        for r in auth["spec"].get("secretTargetRef") or []:
            sec = secrets.get(r["name"])
            if sec is None:
                err("TriggerAuthentication %s: Secret %s is not rendered" % (name, r["name"]))
            elif r["key"] not in secret_values(sec):
                err("TriggerAuthentication %s: Secret key %s/%s is not rendered" % (name, r["name"], r["key"]))
        if name not in used_auths:
            err("TriggerAuthentication %s: no ScaledObject uses it" % name)


def placeholders(docs):
    """Every value still holding REPLACE: 'Kind/name path' (Secret data decoded)."""
    out = []

    def walk(node, path, where):
        if isinstance(node, dict):
            for k, v in node.items():
                k = str(k)
                walk(v, path + ('["%s"]' % k if "." in k else ("." if path else "") + k), where)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s[%d]" % (path, i), where)
        elif isinstance(node, str) and "REPLACE" in node and not node.startswith("#!"):
            out.append("%s %s" % (where, path))  # a script (the Job's) may name REPLACE

    for d in docs:
        where = "%s/%s" % (d["kind"], d["metadata"]["name"])
        if d["kind"] == "Secret" and d.get("data"):
            d = dict(d, data={k: secret_values({"data": {k: v}})[k] for k, v in d["data"].items()})
        walk({k: v for k, v in d.items() if k not in ("apiVersion", "kind")}, "", where)
    return out


def main(overlay, path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})

    # One namespace, declared by a Namespace object.
    namespaces = list(by_kind.get("Namespace", {}))
    if len(namespaces) != 1:
        err("expected exactly one Namespace, found %s" % namespaces)
    for d in docs:
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") not in namespaces:
            err("%s/%s is in namespace %r" % (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")))

    for name, dep in deployments.items():
        tpl = dep["spec"]["template"]
        pod = tpl["spec"]
        pod_labels = tpl["metadata"].get("labels", {})
        if not labels_match(dep["spec"]["selector"].get("matchLabels"), pod_labels):
            err("Deployment %s: selector does not match its pod labels" % name)
        if "terminationGracePeriodSeconds" not in pod:
            err("Deployment %s: no terminationGracePeriodSeconds" % name)
        psc = pod.get("securityContext", {})
        ports = {}
        named = {}
        for c in pod["containers"]:
            where = "Deployment %s container %s" % (name, c["name"])
            for p in c.get("ports", []):
                ports[p.get("name")] = p["containerPort"]
                ports[p["containerPort"]] = p["containerPort"]
                if p.get("name"):
                    named[p["name"]] = p["containerPort"]
            check_resources(where, c)
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    err("%s: no %s" % (where, probe))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if probe in c and port not in ports:
                    err("%s: %s port %r is not a container port" % (where, probe, port))
            if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
                err("%s: liveness is not /healthz" % where)
            if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                err("%s: readiness is not /readyz" % where)
            check_hardening(where, c, psc)
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref and ref["configMapRef"]["name"] not in configmaps:
                    err("%s: ConfigMap %s is not rendered" % (where, ref["configMapRef"]["name"]))
                if "secretRef" in ref and ref["secretRef"]["name"] not in secrets:
                    err("%s: Secret %s is not rendered" % (where, ref["secretRef"]["name"]))
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    s = secrets.get(ref["name"])
                    if s is None or ref["key"] not in {**s.get("data", {}), **s.get("stringData", {})}:
                        err("%s: env %s: Secret key %s/%s is not rendered" % (where, e["name"], ref["name"], ref["key"]))
        for v in pod.get("volumes", []):
            where = "Deployment %s volume %s" % (name, v["name"])
            if "secret" in v:
                src, kind, sname = secrets.get(v["secret"].get("secretName")), "Secret", v["secret"].get("secretName")
                items, optional = v["secret"].get("items", []), v["secret"].get("optional", False)
                keys = set((src or {}).get("data") or {}) | set((src or {}).get("stringData") or {})
            elif "configMap" in v:
                src, kind, sname = configmaps.get(v["configMap"]["name"]), "ConfigMap", v["configMap"]["name"]
                items, optional = v["configMap"].get("items", []), v["configMap"].get("optional", False)
                keys = set((src or {}).get("data") or {}) | set((src or {}).get("binaryData") or {})
            else:
                continue
            if src is None:
                if not optional:
                    err("%s: %s %s is not rendered" % (where, kind, sname))
                continue
            for item in items:
                if item["key"] not in keys and not optional:
                    err("%s: %s key %s/%s is not rendered" % (where, kind, sname, item["key"]))
        ann = tpl["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
            err("Deployment %s: no prometheus.io scrape annotations for /metrics" % name)
        elif int(ann.get("prometheus.io/port", 0)) not in ports:
            err("Deployment %s: prometheus.io/port %s is not a container port" % (name, ann.get("prometheus.io/port")))
        if not any(labels_match(p["spec"]["selector"].get("matchLabels"), pod_labels)
                   for p in by_kind.get("PodDisruptionBudget", {}).values()):
            err("Deployment %s: no PodDisruptionBudget selects it" % name)
        if not any(labels_match(s["spec"].get("selector"), pod_labels) for s in services.values()):
            err("Deployment %s: no Service selects it" % name)
        dep["_ports"] = ports
        dep["_named"] = named

    for name, svc in services.items():
        targets = [d for d in deployments.values()
                   if labels_match(svc["spec"].get("selector"), d["spec"]["template"]["metadata"].get("labels", {}))]
        if not targets:
            err("Service %s: selects no Deployment" % name)
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            for d in targets:
                if tp not in d["_ports"]:
                    err("Service %s: targetPort %r is not a port of Deployment %s" % (name, tp, d["metadata"]["name"]))

    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        if not any(labels_match(pdb["spec"]["selector"].get("matchLabels"), d["spec"]["template"]["metadata"].get("labels", {}))
                   for d in deployments.values()):
            err("PodDisruptionBudget %s: selects no Deployment" % name)

    # Autoscaling: one autoscaler per Deployment, an HPA or a KEDA ScaledObject (which makes
    # its own HPA); rpc-edge and the adapters that consume no queue on a CPU HPA, each adapter
    # that consumes a command queue on a ScaledObject watching that queue (check_keda).
    scaled = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for name, obj in by_kind.get(kind, {}).items():
            ref = obj["spec"]["scaleTargetRef"]
            target = ref["name"]
            if ref.get("kind", "Deployment") != "Deployment" or ref.get("apiVersion", "apps/v1") != "apps/v1" \
                    or target not in deployments:
                err("%s %s: scaleTargetRef %s is not a rendered Deployment" % (kind, name, target))
            scaled.setdefault(target, []).append("%s/%s" % (kind, name))
            if kind == "HorizontalPodAutoscaler" and obj["spec"].get("minReplicas", 1) > obj["spec"]["maxReplicas"]:
                err("HorizontalPodAutoscaler %s: minReplicas > maxReplicas" % name)
            if target in deployments and "replicas" in deployments[target]["spec"]:
                err("Deployment %s: sets replicas although %s owns the count" % (target, name))
    for target, owners in scaled.items():
        if len(owners) > 1:
            err("Deployment %s: scaled by more than one autoscaler: %s (never an HPA and a KEDA "
                "ScaledObject on one Deployment)" % (target, ", ".join(owners)))
    consumers = command_queue_consumers(deployments, configmaps, secrets)
    for name in deployments:
        if not (name == "rpc-edge" or is_adapter(name)):
            continue
        owners = scaled.get(name, [])
        if name in consumers:
            if not any(o.startswith("ScaledObject/") for o in owners):
                err("Deployment %s: consumes the command queue %s but no KEDA ScaledObject scales it "
                    "on that queue" % (name, consumers[name]))
        elif not any(o.startswith("HorizontalPodAutoscaler/") for o in owners):
            err("Deployment %s: no HorizontalPodAutoscaler" % name)

    # Every provider adapter is reachable from rpc-edge: PAYSYS__EDGE__PROVIDERS__<NAME> names it.
    edge_urls = {v for cm in configmaps.values() for k, v in (cm.get("data") or {}).items()
                 if k.startswith("PAYSYS__EDGE__PROVIDERS__")}
    for name in deployments:
        if name.startswith("provider-") and name != "provider-sandbox" \
                and not any(re.match(r"^https?://%s:\d+/?$" % re.escape(name), str(u)) for u in edge_urls):
            err("Deployment %s: no PAYSYS__EDGE__PROVIDERS__%s URL in the ConfigMap points at it"
                % (name, name[len("provider-"):].upper().replace("-", "_")))

    # provider-sandbox: dev only; nothing else in production may point at it.
    if overlay == "dev":
        if "provider-sandbox" not in deployments:
            err("dev: provider-sandbox is missing")
    else:
        for d in docs:
            if "sandbox" in d["metadata"]["name"]:
                err("%s/%s: the sandbox never runs outside dev" % (d["kind"], d["metadata"]["name"]))
        for kind, objs in (("ConfigMap", configmaps), ("Secret", secrets)):
            for obj in objs.values():
                for key in list(obj.get("data") or {}) + list(obj.get("stringData") or {}):
                    if key.startswith("PAYSYS__SANDBOX__"):
                        err("%s %s: %s configures the sandbox, which never runs outside dev"
                            % (kind, obj["metadata"]["name"], key))
        # Nothing may point at our sandbox (its Service, or its default address from
        # config/default.toml); a provider's own test environment (mobilPay's
        # sandboxsecure.mobilpay.ro) is not ours and may be named.
        text = yaml.safe_dump_all(docs)
        if re.search(r"provider-sandbox|(127\.0\.0\.1|localhost):9090\b", text):
            err("something points at the sandbox (provider-sandbox, 127.0.0.1:9090); it never runs outside dev")

    config = {k: str(v) for cm in configmaps.values() for k, v in (cm.get("data") or {}).items()}

    # Each service listens on all interfaces of its pod, on its container port (a copied
    # manifest with the old port, or a default of 127.0.0.1, would leave it unreachable).
    for name, dep in deployments.items():
        key = "PAYSYS__%s__LISTEN" % section_of(name).upper().replace("-", "_")
        listen = config.get(key)
        if listen is None:
            err("Deployment %s: no %s in the ConfigMap" % (name, key))
            continue
        host, _, port = listen.rpartition(":")
        if host not in ("0.0.0.0", "[::]"):
            err("Deployment %s: %s=%s does not listen on all interfaces" % (name, key, listen))
        if not port.isdigit() or int(port) not in dep["_ports"]:
            err("Deployment %s: %s=%s is not on a container port" % (name, key, listen))

    # Files named in configuration (PAYSYS__<SECTION>__..._FILE, e.g. Netopia's keys) are
    # mounted into the Deployment that reads the section, and the volume provides them.
    for key, value in sorted(config.items()):
        m = re.match(r"^PAYSYS__([A-Z0-9_]+?)__.*_FILE$", key)
        if not m or not value.startswith("/"):
            continue
        dep_name = deployment_of(m.group(1), deployments)
        if dep_name is None:
            err("ConfigMap: %s names a file for section %s, which no rendered Deployment reads" % (key, m.group(1)))
            continue
        pod = deployments[dep_name]["spec"]["template"]["spec"]
        problem = file_problem(pod, pod["containers"], value, secrets, configmaps)
        if problem:
            err("Deployment %s: %s=%s %s" % (dep_name, key, value, problem))

    # Service URLs in configuration must resolve to a rendered Service and port.
    for cm in configmaps.values():
        for key, value in (cm.get("data") or {}).items():
            if value == "":
                err("ConfigMap %s: %s is empty (unset it instead)" % (cm["metadata"]["name"], key))
            m = re.match(r"^https?://([a-z0-9-]+):(\d+)(/|$)", str(value))
            if m and m.group(1) not in ("localhost",):
                host, port = m.group(1), int(m.group(2))
                svc = services.get(host)
                if svc is None:
                    err("ConfigMap %s: %s points at %s, not a rendered Service" % (cm["metadata"]["name"], key, host))
                elif port not in [p["port"] for p in svc["spec"]["ports"]]:
                    err("ConfigMap %s: %s points at %s:%d, not a port of that Service" % (cm["metadata"]["name"], key, host, port))

    # Provider adapters: an internal port `http` (LISTEN: gRPC, /readyz, /metrics) and a public
    # port `callback` (CALLBACK_LISTEN: the provider's routes only), both in the Service.
    for name, dep in deployments.items():
        if not is_adapter(name):
            continue
        section = section_of(name).upper().replace("-", "_")
        named = dep["_named"]
        for port_name, key in (("http", "PAYSYS__%s__LISTEN" % section),
                               ("callback", "PAYSYS__%s__CALLBACK_LISTEN" % section)):
            if port_name not in named:
                err("Deployment %s: no container port named %s" % (name, port_name))
                continue
            listen = config.get(key)
            if listen is None:
                err("Deployment %s: no %s in the ConfigMap" % (name, key))
                continue
            host, _, port = listen.rpartition(":")
            if host not in ("0.0.0.0", "[::]"):
                err("Deployment %s: %s=%s does not listen on all interfaces" % (name, key, listen))
            if not port.isdigit() or int(port) != named[port_name]:
                err("Deployment %s: %s=%s is not its `%s` container port %d"
                    % (name, key, listen, port_name, named[port_name]))
            svc = services.get(name)
            if svc is not None and not any(p.get("name") == port_name and
                                           p.get("targetPort", p["port"]) in (port_name, named[port_name])
                                           for p in svc["spec"]["ports"]):
                err("Service %s: no port %s targeting the container port %s" % (name, port_name, port_name))
        if named.get("http") is not None and named.get("http") == named.get("callback"):
            err("Deployment %s: internal and callback ports are the same" % name)

    # Which port of an adapter's Service a URL uses: rpc-edge dials the internal one; everything
    # else naming an adapter (public URLs, the sandbox's notify URLs) is a callback, which only
    # the callback port serves.
    for cm in configmaps.values():
        for key, value in (cm.get("data") or {}).items():
            m = re.match(r"^https?://([a-z0-9-]+):(\d+)(/|$)", str(value))
            if not m or not is_adapter(m.group(1)) or m.group(1) not in deployments:
                continue
            host, port = m.group(1), int(m.group(2))
            named = deployments[host]["_named"]
            svc_port = {p["port"]: p.get("targetPort", p["port"])
                        for p in services.get(host, {}).get("spec", {}).get("ports", [])}.get(port)
            target = named.get(svc_port, svc_port)
            want = "http" if key.startswith("PAYSYS__EDGE__PROVIDERS__") else "callback"
            if svc_port is not None and target != named.get(want):
                err("ConfigMap %s: %s=%s must use %s's %s port (%s)"
                    % (cm["metadata"]["name"], key, value, host, want, named.get(want)))

    # The internal token and the data key come from a Secret, for the services that need them.
    dev_values = {}
    dev_secret = os.path.join(os.path.dirname(os.path.abspath(__file__)), "overlays", "dev", "patches", "secret.yaml")
    if os.path.isfile(dev_secret):
        with open(dev_secret) as f:
            for d in yaml.safe_load_all(f):
                for k in ("PAYSYS__INTERNAL__TOKEN", "PAYSYS__SECRETS__DATA_KEY"):
                    v = ((d or {}).get("stringData") or {}).get(k)
                    if v:
                        dev_values[k] = str(v)
    for name, dep in deployments.items():
        needs = []
        if name != "provider-sandbox":
            needs.append("PAYSYS__INTERNAL__TOKEN")
        if name in ("rpc-edge", "notifier"):
            needs.append("PAYSYS__SECRETS__DATA_KEY")
        for c in dep["spec"]["template"]["spec"]["containers"]:
            env = container_env(c, configmaps, secrets)
            where = "Deployment %s container %s" % (name, c["name"])
            for k in needs:
                if k not in env:
                    err("%s: no %s (from a Secret)" % (where, k))
                    continue
                kind, value = env[k]
                if kind != "Secret":
                    err("%s: %s comes from %s, not a Secret" % (where, k, kind))
                if value is None or "REPLACE" in value:
                    continue  # a placeholder: validate.sh reports it
                problem = secret_problem(k, value)
                if problem:
                    err("%s: %s %s" % (where, k, problem))
                if overlay != "dev" and dev_values.get(k) == value:
                    err("%s: %s is the dev overlay's public value" % (where, k))
    for k in ("PAYSYS__INTERNAL__TOKEN", "PAYSYS__SECRETS__DATA_KEY"):
        if k in config:
            err("ConfigMap: %s is a secret; it belongs in the Secret" % k)

    # Merchant notifications outside dev: public destinations over HTTPS only.
    if overlay != "dev" and "notifier" in deployments:
        for key, want in (("PAYSYS__NOTIFIER__ALLOW_PRIVATE_DESTINATIONS", "false"),
                          ("PAYSYS__NOTIFIER__REQUIRE_HTTPS", "true")):
            if config.get(key, "").lower() != want:
                err("ConfigMap: %s must be %r outside dev (it is %r)" % (key, want, config.get(key)))

    check_least_privilege(overlay, deployments, secrets)
    check_jobs(overlay, by_kind, deployments, secrets, configmaps)
    check_migrations(overlay, by_kind, deployments, secrets, configmaps)
    check_keda(overlay, by_kind, deployments, secrets, configmaps, namespaces, consumers)
    check_network_policies(by_kind, deployments, namespaces)

    for e in errors:
        print("ERROR %s: %s" % (overlay, e))
    if not errors:
        print("OK    %s: policy checks passed (%d Deployments, %d Services, %d PDBs, %d HPAs, %d ScaledObjects, "
              "%d NetworkPolicies, %d Secrets, %d Jobs)" % (
            overlay, len(deployments), len(services), len(by_kind.get("PodDisruptionBudget", {})),
            len(by_kind.get("HorizontalPodAutoscaler", {})), len(by_kind.get("ScaledObject", {})),
            len(by_kind.get("NetworkPolicy", {})), len(secrets), len(by_kind.get("Job", {}))))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: check.py OVERLAY RENDERED.yaml | check.py --placeholders RENDERED.yaml\n")
        sys.exit(2)
    if sys.argv[1] == "--placeholders":
        with open(sys.argv[2]) as f:
            for line in placeholders([d for d in yaml.safe_load_all(f) if d]):
                print(line)
        sys.exit(0)
    sys.exit(main(sys.argv[1], sys.argv[2]))
