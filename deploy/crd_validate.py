#!/usr/bin/env python3
"""Validates the custom resources of a rendered overlay against the CRD schemas vendored under
deploy/schemas/ (KEDA's ScaledObject and TriggerAuthentication; see deploy/schemas/README.md),
strictly: an unknown or misspelt field, a wrong type, a missing required field or a kind the
vendored CRDs do not define all fail. kubernetes-validate --strict knows no custom kinds, so
validate.sh gives it everything else: this script writes the other resources to OTHERS.yaml.

Usage: crd_validate.py RENDERED.yaml OTHERS.yaml
(exit 1 and one line per violation when a custom resource is invalid)
"""
import glob
import json
import os
import sys

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "schemas")


def load_schemas():
    """(apiVersion, kind) -> (schema, file name), and the API groups vendored."""
    out, groups = {}, set()
    for path in sorted(glob.glob(os.path.join(SCHEMAS, "*", "*.json"))):
        with open(path) as f:
            schema = json.load(f)
        jsonschema.validators.validator_for(schema).check_schema(schema)
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            out[("%s/%s" % (gvk["group"], gvk["version"]), gvk["kind"])] = (schema, os.path.relpath(path, HERE))
            groups.add(gvk["group"])
    return out, groups


def where(error):
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def main(rendered, others_path):
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    schemas, groups = load_schemas()
    errors, valid, others = [], [], []
    for d in docs:
        api_version, kind = d.get("apiVersion", ""), d.get("kind", "")
        group = api_version.split("/")[0] if "/" in api_version else ""
        if group not in groups:
            others.append(d)
            continue
        name = "%s/%s" % (kind, (d.get("metadata") or {}).get("name"))
        entry = schemas.get((api_version, kind))
        if entry is None:
            errors.append("%s: no vendored schema for %s %s (deploy/schemas/ has %s)" % (
                name, api_version, kind, ", ".join(sorted("%s %s" % k for k in schemas if k[0].startswith(group + "/")))))
            continue
        schema, source = entry
        validator = jsonschema.validators.validator_for(schema)(schema)
        found = sorted(validator.iter_errors(d), key=lambda e: list(e.absolute_path))
        for e in found:
            errors.append("%s: %s: %s" % (name, where(e), e.message))
        if not found:
            valid.append("%s (%s)" % (name, source))
    with open(others_path, "w") as f:
        yaml.safe_dump_all(others, f, sort_keys=False)
    for e in errors:
        print("ERROR %s" % e)
    if errors:
        return 1
    print("crd        %d custom resources valid against the vendored CRD schemas (strict)" % len(valid))
    for v in valid:
        print("           %s" % v)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: crd_validate.py RENDERED.yaml OTHERS.yaml\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
