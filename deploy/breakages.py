#!/usr/bin/env python3
"""Deliberate breakages of a rendered overlay, each of which crd_validate.py or check.py must
refuse with a message naming it: proof that the checks still check what they are for (a
misspelt KEDA field, a queue no adapter consumes, a password in a trigger, a migration Job that
skips a service, ...). validate.sh runs it on every overlay after the overlay passed.

Usage: breakages.py OVERLAY_NAME RENDERED.yaml
(exit 1, naming each breakage that passed or failed for another reason)
"""
import contextlib
import copy
import importlib.util
import io
import os
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = load("paysys_check", "check.py")
crd_validate = load("paysys_crd_validate", "crd_validate.py")


def find(docs, kind, name=None):
    for d in docs:
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name):
            return d
    return None


def scaled(docs):
    return find(docs, "ScaledObject")


def trigger(docs, kind):
    so = scaled(docs)
    return next((t for t in so["spec"]["triggers"] if t["type"] == kind), None) if so else None


def container(docs, name):
    job = find(docs, "Job", "paysys-migrate")
    if job is None:
        return None
    return next((c for c in job["spec"]["template"]["spec"]["containers"] if c["name"] == name), None)


def keda_host(docs):
    auth = find(docs, "TriggerAuthentication")
    if auth is None:
        return None
    ref = auth["spec"]["secretTargetRef"][0]
    sec = find(docs, "Secret", ref["name"])
    return (sec.get("stringData") or {}).get(ref["key"]) if sec else None


# ---- the breakages: (what, needs, break it, the message that must name it) ------------------

def misspelt_field(d):
    spec = scaled(d)["spec"]
    spec["minReplicaCont"] = spec.pop("minReplicaCount")


def wrong_type(d):
    scaled(d)["spec"]["maxReplicaCount"] = "six"


def misspelt_trigger_key(d):
    meta = trigger(d, "rabbitmq")["metadata"]
    meta["queuName"] = meta.pop("queueName")


def misspelt_optional_key(d):
    trigger(d, "rabbitmq")["metadata"]["activatonValue"] = "5"


def unconsumed_queue(d):
    trigger(d, "rabbitmq")["metadata"]["queueName"] = "provider.mobiltek.commands"


def missing_target(d):
    scaled(d)["spec"]["scaleTargetRef"]["name"] = "provider-telaudio"


def password_in_metadata(d):
    trigger(d, "rabbitmq")["metadata"]["host"] = "amqp://guest:s3cret@rabbitmq:5672/%2f"


def hpa_beside_scaledobject(d):
    hpa = copy.deepcopy(find(d, "HorizontalPodAutoscaler", "provider-mobiltek"))
    hpa["metadata"]["name"] = "provider-teleaudio"
    hpa["spec"]["scaleTargetRef"]["name"] = "provider-teleaudio"
    d.append(hpa)


def missing_trigger_auth(d):
    trigger(d, "rabbitmq")["authenticationRef"]["name"] = "paysys-rabbit"


def no_trigger_auth(d):
    del trigger(d, "rabbitmq")["authenticationRef"]


def scale_to_zero(d):
    del scaled(d)["spec"]["minReplicaCount"]


def misspelt_auth_field(d):
    ref = find(d, "TriggerAuthentication")["spec"]["secretTargetRef"][0]
    ref["paramter"] = ref.pop("parameter")


def unknown_keda_kind(d):
    scaled(d)["kind"] = "ScaledObjects"


def unknown_keda_version(d):
    scaled(d)["apiVersion"] = "keda.sh/v1beta1"


def bare_broker_name(d):
    """rabbitmq.<namespace>.svc -> rabbitmq (which KEDA would look up in its own namespace)."""
    auth = find(d, "TriggerAuthentication")["spec"]["secretTargetRef"][0]
    sec = find(d, "Secret", auth["name"])
    url = sec["stringData"][auth["key"]]
    userinfo, rest = url.split("@", 1)
    hostport, path = rest.split("/", 1)
    host, port = hostport.split(":")
    sec["stringData"][auth["key"]] = "%s@%s:%s/%s" % (userinfo, host.split(".")[0], port, path)


def keda_as_adapter_user(d):
    auth = find(d, "TriggerAuthentication")["spec"]["secretTargetRef"][0]
    sec = find(d, "Secret", auth["name"])
    host = sec["stringData"][auth["key"]]
    sec["stringData"][auth["key"]] = "amqp://paysys-teleaudio:pw@" + host.split("@", 1)[1]


def queue_adapter_on_hpa(d):
    so = scaled(d)
    d.remove(so)
    hpa = copy.deepcopy(find(d, "HorizontalPodAutoscaler", "provider-mobiltek"))
    hpa["metadata"]["name"] = hpa["spec"]["scaleTargetRef"]["name"] = so["spec"]["scaleTargetRef"]["name"]
    d.append(hpa)
    d.remove(find(d, "TriggerAuthentication"))


def job_skips_a_service(d):
    pod = find(d, "Job", "paysys-migrate")["spec"]["template"]["spec"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] != "ledger"]


def job_takes_another_secret(d):
    container(d, "ledger")["envFrom"][2]["secretRef"]["name"] = "paysys-rpc-edge"


def job_without_migrate_only(d):
    container(d, "notifier")["command"] = ["notifier"]


def job_other_image(d):
    container(d, "rpc-edge")["image"] = "paysys:old"


def job_without_keys(d):
    c = container(d, "provider-netopia")
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "netopia-keys"]


def services_migrate_at_start(d):
    find(d, "ConfigMap", "paysys-config")["data"]["PAYSYS__DATABASE__MIGRATE"] = "true"


def has_keda(d):
    return scaled(d) is not None and trigger(d, "rabbitmq") is not None


def has_real_keda_host(d):
    host = keda_host(d)
    return has_keda(d) and host is not None and "REPLACE" not in host


CASES = [
    ("ScaledObject: misspelt field minReplicaCont", has_keda, misspelt_field,
     "'minReplicaCont' was unexpected"),
    ("ScaledObject: maxReplicaCount of the wrong type", has_keda, wrong_type,
     "'six' is not of type 'integer'"),
    ("ScaledObject: misspelt trigger key queuName", has_keda, misspelt_trigger_key,
     "metadata.queuName is not a rabbitmq setting"),
    ("ScaledObject: misspelt optional trigger key activatonValue", has_keda, misspelt_optional_key,
     "metadata.activatonValue is not a rabbitmq setting"),
    ("ScaledObject: a queue no adapter consumes", has_keda, unconsumed_queue,
     "no adapter consumes queue 'provider.mobiltek.commands'"),
    ("ScaledObject: scaleTargetRef names a missing Deployment", has_keda, missing_target,
     "scaleTargetRef provider-telaudio is not a rendered Deployment"),
    ("ScaledObject: a password literal in trigger metadata", has_keda, password_in_metadata,
     "metadata.host holds a broker address or credentials"),
    ("ScaledObject: an HPA on the same Deployment", has_keda, hpa_beside_scaledobject,
     "scaled by more than one autoscaler"),
    ("ScaledObject: authenticationRef to a missing TriggerAuthentication", has_keda, missing_trigger_auth,
     "authenticationRef TriggerAuthentication paysys-rabbit is not a rendered TriggerAuthentication"),
    ("ScaledObject: no authenticationRef", has_keda, no_trigger_auth, "no authenticationRef"),
    ("ScaledObject: no minReplicaCount (KEDA scales to zero)", has_keda, scale_to_zero,
     "never scale an adapter to zero"),
    ("ScaledObject: a kind the vendored CRDs do not define", has_keda, unknown_keda_kind,
     "no vendored schema for keda.sh/v1alpha1 ScaledObjects"),
    ("ScaledObject: an API version the vendored CRDs do not define", has_keda, unknown_keda_version,
     "no vendored schema for keda.sh/v1beta1 ScaledObject"),
    ("TriggerAuthentication: misspelt field paramter", has_keda, misspelt_auth_field,
     "'paramter' was unexpected"),
    ("KEDA's Secret: a bare broker Service name",
     lambda d: has_real_keda_host(d) and ".svc:" in keda_host(d), bare_broker_name,
     "is a bare Service name, which resolves in KEDA's namespace"),
    ("KEDA's Secret: an adapter's broker user", has_real_keda_host, keda_as_adapter_user,
     "KEDA reads queues as 'paysys-teleaudio', a service's broker user"),
    ("the queue-consuming adapter back on a CPU HPA", has_keda, queue_adapter_on_hpa,
     "consumes the command queue provider.teleaudio.commands but no KEDA ScaledObject"),
    ("migration Job: a service left out", lambda d: container(d, "ledger") is not None, job_skips_a_service,
     "no container ledger: schema ledger is never migrated"),
    ("migration Job: a container with another service's Secret", lambda d: container(d, "ledger") is not None,
     job_takes_another_secret, "takes secret paysys-rpc-edge (rpc-edge's)"),
    ("migration Job: a container without --migrate-only", lambda d: container(d, "notifier") is not None,
     job_without_migrate_only, "no --migrate-only"),
    ("migration Job: another image than the Deployment's", lambda d: container(d, "rpc-edge") is not None,
     job_other_image, "image paysys:old is not the Deployment's"),
    ("migration Job: Netopia's keys not mounted", lambda d: container(d, "provider-netopia") is not None,
     job_without_keys, "PAYSYS__NETOPIA__NETOPIA_CERTIFICATE_PEM_FILE=/etc/paysys/netopia/netopia-certificate.pem is on no volume"),
]
# Outside dev the services must not migrate at start.
NON_DEV_CASES = [
    ("services migrating at start outside dev", lambda d: True, services_migrate_at_start,
     "PAYSYS__DATABASE__MIGRATE is 'true'; outside dev no service changes its schema at start"),
]


def run_checks(overlay, docs):
    """(exit status, output) of crd_validate.py and then check.py on `docs`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rendered.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(docs, f)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = crd_validate.main(path, os.path.join(tmp, "others.yaml"))
            if rc == 0:
                check.errors.clear()
                rc = check.main(overlay, path)
        return rc, out.getvalue()


def main(overlay, rendered):
    with open(rendered) as f:
        original = [d for d in yaml.safe_load_all(f) if d]
    rc, out = run_checks(overlay, original)
    if rc != 0:
        print("breakages: the unbroken overlay %s does not pass:\n%s" % (overlay, out))
        return 1
    cases = CASES + (NON_DEV_CASES if overlay != "dev" else [])
    failed, ran, skipped = [], 0, []
    for what, needs, breaks, expected in cases:
        docs = copy.deepcopy(original)
        if not needs(docs):
            skipped.append(what)
            continue
        breaks(docs)
        ran += 1
        rc, out = run_checks(overlay, docs)
        if rc == 0:
            failed.append("%s: passed the checks" % what)
        elif expected not in out:
            failed.append("%s: refused, but not with %r:\n%s" % (what, expected, out))
    for f in failed:
        print("ERROR %s: breakage %s" % (overlay, f))
    if failed:
        return 1
    print("breakages  %d deliberate breakages refused, each with its message%s" % (
        ran, " (not applicable here: %s)" % "; ".join(skipped) if skipped else ""))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: breakages.py OVERLAY RENDERED.yaml\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
