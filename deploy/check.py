#!/usr/bin/env python3
"""PaySystem's rules for a rendered overlay, beyond what the API schemas check.

Usage: check.py OVERLAY_NAME RENDERED.yaml   (exit 1 and one line per violation when broken)

Cross references: every Service, PodDisruptionBudget and HorizontalPodAutoscaler finds its
Deployment; every ConfigMap/Secret (and Secret key) a pod uses exists; service URLs in the
ConfigMap name a rendered Service and port (a namePrefix would break them silently), and
every provider adapter has its PAYSYS__EDGE__PROVIDERS__<NAME> URL.
Hardening: every container has requests and limits, probes on a declared port, a restricted
securityContext; every pod a termination grace period; Prometheus annotations on a real port.
Topology: one namespace, an HPA on rpc-edge and on every provider adapter, never an HPA and
a KEDA ScaledObject on one Deployment, provider-sandbox in dev only.
"""
import re
import sys

import yaml

errors = []


def err(msg):
    errors.append(msg)


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


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
        text = yaml.safe_dump_all(docs)
        if "sandbox" in text:
            err("%s: mentions the sandbox; it never runs outside dev" % overlay)

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
        placeholders = [k for s in secrets.values() for k, v in (s.get("stringData") or {}).items()
                        if "REPLACE" in str(v)]
        if placeholders:
            print("NOTE  %s: Secret placeholders to replace before applying: %s" % (overlay, ", ".join(sorted(placeholders))))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: check.py OVERLAY RENDERED.yaml\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
