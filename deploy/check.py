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
Topology: one namespace, an HPA on rpc-edge and on every provider adapter, never an HPA and
a KEDA ScaledObject on one Deployment, provider-sandbox in dev only (and nothing outside dev
pointing at it; a provider's own test environment, e.g. mobilPay's sandboxsecure, is fine).
"""
import re
import sys

import yaml

errors = []


def err(msg):
    errors.append(msg)


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


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
        for c in pod["containers"]:
            where = "Deployment %s container %s" % (name, c["name"])
            for p in c.get("ports", []):
                ports[p.get("name")] = p["containerPort"]
                ports[p["containerPort"]] = p["containerPort"]
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(kind, {}):
                        err("%s: no %s.%s" % (where, kind, r))
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

    # Autoscaling: CPU HPAs on rpc-edge and every provider adapter; one autoscaler per target.
    scaled = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for name, obj in by_kind.get(kind, {}).items():
            ref = obj["spec"]["scaleTargetRef"]
            target = ref["name"]
            if ref.get("kind", "Deployment") != "Deployment" or target not in deployments:
                err("%s %s: scaleTargetRef %s is not a rendered Deployment" % (kind, name, target))
            scaled.setdefault(target, []).append("%s/%s" % (kind, name))
            if kind == "HorizontalPodAutoscaler":
                if obj["spec"].get("minReplicas", 1) > obj["spec"]["maxReplicas"]:
                    err("HorizontalPodAutoscaler %s: minReplicas > maxReplicas" % name)
                if target in deployments and "replicas" in deployments[target]["spec"]:
                    err("Deployment %s: sets replicas although %s owns the count" % (target, name))
    for target, owners in scaled.items():
        if len(owners) > 1:
            err("Deployment %s: scaled by more than one autoscaler: %s" % (target, ", ".join(owners)))
    for name in deployments:
        if (name == "rpc-edge" or name.startswith("provider-")) and name != "provider-sandbox" \
                and not any(o.startswith("HorizontalPodAutoscaler/") for o in scaled.get(name, [])):
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
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        # The innermost mount holding the path, in any container of the pod.
        mounts = [vm for c in pod["containers"] for vm in c.get("volumeMounts", [])
                  if value.startswith(vm["mountPath"].rstrip("/") + "/")]
        if not mounts:
            err("Deployment %s: %s=%s is on no volume mounted into it" % (dep_name, key, value))
            continue
        vm = max(mounts, key=lambda m: len(m["mountPath"]))
        rel = value[len(vm["mountPath"].rstrip("/")) + 1:]
        v = volumes.get(vm["name"], {})
        src = v.get("secret") or v.get("configMap")
        if vm.get("subPath") or src is None:
            continue  # not a projected Secret/ConfigMap: nothing more to check
        if src.get("items"):
            files = {i["path"] for i in src["items"]}
        else:
            obj = secrets.get(src.get("secretName")) if "secret" in v else configmaps.get(src.get("name"))
            files = set((obj or {}).get("data") or {}) | set((obj or {}).get("stringData") or {})
        if rel not in files:
            err("Deployment %s: %s=%s: volume %s provides no file %s" % (dep_name, key, value, vm["name"], rel))

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

    for e in errors:
        print("ERROR %s: %s" % (overlay, e))
    if not errors:
        print("OK    %s: policy checks passed (%d Deployments, %d Services, %d PDBs, %d HPAs)" % (
            overlay, len(deployments), len(services), len(by_kind.get("PodDisruptionBudget", {})),
            len(by_kind.get("HorizontalPodAutoscaler", {}))))
        placeholders = [k if s["metadata"]["name"] == "paysys-secrets" else "%s/%s" % (s["metadata"]["name"], k)
                        for s in secrets.values() for k, v in (s.get("stringData") or {}).items()
                        if "REPLACE" in str(v)]
        if placeholders:
            print("NOTE  %s: Secret placeholders to replace before applying: %s" % (overlay, ", ".join(sorted(placeholders))))
        placeholders = sorted(k for k, v in config.items() if "REPLACE" in v)
        if placeholders:
            print("NOTE  %s: ConfigMap placeholders to replace before applying: %s" % (overlay, ", ".join(placeholders)))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: check.py OVERLAY RENDERED.yaml\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
