#!/usr/bin/env python3
"""Fallback kustomize renderer for PaySystem's deploy/ tree, used by validate.sh only when no
real kustomize (`kustomize`, or `kubectl kustomize` with kustomize v4+) is installed.

It implements exactly the subset of kustomize the kustomization files here use, with
kustomize's semantics, and refuses anything else rather than render it differently:
  resources   files (multi-document) and directories holding a kustomization
  namespace   set on every namespaced resource; a Namespace object is renamed to it
  patches     strategic-merge patches by `path` or inline `patch` (no `target`), each
              applied to the one resource with its API group, kind and metadata.name
  images      name -> newName / newTag / digest on containers and initContainers
  configMapGenerator  `files` (key = file name, or `key=path`) and `options.labels` /
              `options.annotations`, with `options.disableNameSuffixHash: true` only (the
              content hash kustomize appends otherwise is not reproduced here)
When a real kustomize is present, validate.sh renders with both and fails if they disagree,
so this file cannot silently drift from kustomize.

Usage: render.py DIR  (prints the rendered multi-document YAML on stdout)
"""
import copy
import os
import sys

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "namespace", "patches", "images", "configMapGenerator"}

CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "StorageClass", "CustomResourceDefinition",
    "ClusterRole", "ClusterRoleBinding", "PriorityClass", "IngressClass", "RuntimeClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
    "CSIDriver", "CSINode", "VolumeAttachment", "PodSecurityPolicy",
}

# kustomize's "legacy" output order (api/resid/gvk.go).
ORDER_FIRST = [
    "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
    "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
    "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
    "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

# patchMergeKey of the Kubernetes list fields a strategic merge merges item by item; every
# other list is replaced whole, as the API's own strategic merge does.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
}


class RenderError(Exception):
    pass


def fail(msg):
    raise RenderError(msg)


class StrictLoader(yaml.SafeLoader):
    """Refuses duplicate keys (kustomize keeps the first, PyYAML the last: never guess)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_all(text):
    return [d for d in yaml.load_all(text, Loader=StrictLoader) if d is not None]


def load_docs(path):
    with open(path) as f:
        return load_all(f.read())


def gvk_group(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


# ---- strategic merge --------------------------------------------------------------------

def strip_directives(v):
    if isinstance(v, dict):
        if v.get("$patch") not in (None, "replace"):
            fail("unsupported $patch directive %r" % v.get("$patch"))
        return {k: strip_directives(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [strip_directives(x) for x in v]
    return v


def merge_map(base, patch):
    if patch.get("$patch") == "replace":
        return strip_directives(patch)
    for k in patch:
        if k.startswith("$") and k != "$patch":
            fail("unsupported strategic-merge directive %s" % k)
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_map(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = merge_list(k, out[k], v)
        else:
            out[k] = strip_directives(v)
    return out


def merge_list(field, base, patch):
    key = MERGE_KEYS.get(field)
    if field == "ports":  # container ports merge on containerPort, Service ports on port
        items = [i for i in base + patch if isinstance(i, dict)]
        key = "containerPort" if any("containerPort" in i for i in items) else "port"
    if key is None or not all(isinstance(i, dict) for i in base + patch):
        return strip_directives(patch)
    out = copy.deepcopy(base)
    for item in patch:
        if key not in item:
            fail("list %s: patch item without its merge key %s" % (field, key))
        idx = next((n for n, b in enumerate(out) if b.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
        elif idx is None:
            out.append(strip_directives(item))
        else:
            out[idx] = merge_map(out[idx], item)
    return out


# ---- transformers -----------------------------------------------------------------------

def apply_patch(resources, patch, where):
    meta = patch.get("metadata") or {}
    if "name" not in meta or "kind" not in patch:
        fail("%s: a patch needs kind and metadata.name" % where)
    matches = [r for r in resources
               if r.get("kind") == patch["kind"]
               and r["metadata"]["name"] == meta["name"]
               and gvk_group(r.get("apiVersion", "")) == gvk_group(patch.get("apiVersion", ""))
               and meta.get("namespace", r["metadata"].get("namespace")) == r["metadata"].get("namespace")]
    if len(matches) != 1:
        fail("%s: %d resources match patch %s/%s" % (where, len(matches), patch["kind"], meta["name"]))
    merged = merge_map(matches[0], patch)
    matches[0].clear()
    matches[0].update(merged)


def split_image(image):
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1:]
    return image, tag, digest


def apply_images(node, images):
    if isinstance(node, dict):
        for field in ("containers", "initContainers"):
            for c in node.get(field) or []:
                if isinstance(c, dict) and isinstance(c.get("image"), str):
                    name, tag, digest = split_image(c["image"])
                    for im in images:
                        if im.get("name") != name:
                            continue
                        new = im.get("newName", name)
                        if "digest" in im:
                            c["image"] = "%s@%s" % (new, im["digest"])
                        elif "newTag" in im:
                            c["image"] = "%s:%s" % (new, im["newTag"])
                        else:
                            c["image"] = new + (":" + tag if tag else "") + ("@" + digest if digest else "")
                        break
        for v in node.values():
            apply_images(v, images)
    elif isinstance(node, list):
        for v in node:
            apply_images(v, images)


# ---- the build --------------------------------------------------------------------------

def generate_configmap(d, g, where):
    """A ConfigMap from files, as kustomize's configMapGenerator makes it (hash disabled)."""
    if set(g) - {"name", "files", "options"}:
        fail("%s: unsupported fields %s (the fallback renderer generates from `files` only)"
             % (where, sorted(set(g) - {"name", "files", "options"})))
    opts = g.get("options") or {}
    if set(opts) - {"disableNameSuffixHash", "labels", "annotations"}:
        fail("%s: unsupported options %s" % (where, sorted(set(opts) - {"disableNameSuffixHash", "labels", "annotations"})))
    if opts.get("disableNameSuffixHash") is not True:
        fail("%s: needs options.disableNameSuffixHash: true (the fallback renderer does not "
             "compute kustomize's name hash)" % where)
    data = {}
    for entry in g.get("files") or []:
        key, _, rel = entry.rpartition("=") if "=" in entry else (os.path.basename(entry), "", entry)
        path = os.path.normpath(os.path.join(d, rel))
        if os.path.relpath(path, d).startswith(".."):
            fail("%s: %s is outside the kustomization directory" % (where, rel))
        with open(path, encoding="utf-8") as f:
            data[key] = f.read()
    meta = {"name": g["name"]}
    for field in ("labels", "annotations"):
        if opts.get(field):
            meta[field] = dict(opts[field])
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def find_kustomization(d):
    for name in KUSTOMIZATION_FILES:
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    fail("%s: no kustomization file" % d)


def build(d):
    kpath = find_kustomization(d)
    with open(kpath) as f:
        k = (load_all(f.read()) or [{}])[0]
    unknown = set(k) - SUPPORTED_KEYS
    if unknown:
        fail("%s: kustomization fields %s are beyond this fallback renderer; install kustomize"
             % (kpath, sorted(unknown)))

    resources = []
    for entry in k.get("resources") or []:
        p = os.path.normpath(os.path.join(d, entry))
        if "://" in entry or entry.startswith("git@"):
            fail("%s: remote resource %s not supported" % (kpath, entry))
        docs = build(p) if os.path.isdir(p) else load_docs(p)
        for doc in docs:
            if not isinstance(doc, dict) or "kind" not in doc or "name" not in (doc.get("metadata") or {}):
                fail("%s: a resource without kind or metadata.name" % p)
        resources.extend(docs)
    for n, g in enumerate(k.get("configMapGenerator") or []):
        resources.append(generate_configmap(d, g, "%s configMapGenerator[%d]" % (kpath, n)))
    ids = [(gvk_group(r.get("apiVersion", "")), r["kind"], r["metadata"].get("namespace"),
            r["metadata"]["name"]) for r in resources]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        fail("%s: duplicate resources %s" % (kpath, sorted(dup, key=str)))

    for n, p in enumerate(k.get("patches") or []):
        where = "%s patches[%d]" % (kpath, n)
        if "path" in p:
            docs = load_docs(os.path.join(d, p["path"]))
        elif "patch" in p:
            docs = load_all(p["patch"])
        else:
            fail("%s: neither path nor patch" % where)
        if set(p) - {"path", "patch"}:
            fail("%s: unsupported fields %s (the fallback renderer has no patch targets)"
                 % (where, sorted(set(p) - {"path", "patch"})))
        for doc in docs:
            if isinstance(doc, list):
                fail("%s: JSON 6902 patches are not supported by the fallback renderer" % where)
            apply_patch(resources, doc, where)

    ns = k.get("namespace")
    if ns:
        for r in resources:
            if r["kind"] == "Namespace":
                r["metadata"]["name"] = ns
            elif r["kind"] not in CLUSTER_SCOPED:
                r["metadata"]["namespace"] = ns

    if k.get("images"):
        apply_images(resources, k["images"])

    return resources


def order_key(r):
    kind = r["kind"]
    if kind in ORDER_FIRST:
        rank = ORDER_FIRST.index(kind)
    elif kind in ORDER_LAST:
        rank = len(ORDER_FIRST) + 1 + ORDER_LAST.index(kind)
    else:
        rank = len(ORDER_FIRST)
    return (rank, r.get("apiVersion", ""), kind, r["metadata"].get("namespace") or "",
            r["metadata"]["name"])


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: render.py DIR\n")
        return 2
    try:
        resources = build(argv[1])
    except (RenderError, OSError, yaml.YAMLError) as e:
        sys.stderr.write("render.py: %s\n" % e)
        return 1
    resources.sort(key=order_key)
    sys.stdout.write(yaml.safe_dump_all(resources, sort_keys=True, default_flow_style=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
