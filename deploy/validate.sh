#!/usr/bin/env bash
# Renders every overlay under deploy/overlays and validates it strictly, offline:
#   1. render with kustomize (`kustomize build`, else `kubectl kustomize` when its kustomize is
#      v4 or later, else the fallback deploy/render.py);
#   2. custom resources (KEDA's ScaledObject, TriggerAuthentication) against the CRD schemas
#      vendored under deploy/schemas/ with jsonschema (deploy/crd_validate.py), strictly;
#      everything else with kubernetes-validate --strict against the bundled API schemas of
#      each version in K8S_VERSIONS (unknown fields, wrong types, missing required fields and
#      kinds without a schema fail, in both);
#   3. deploy/check.py: cross references and PaySystem's rules (probes, resources,
#      securityContext, PDBs, autoscalers and the queues they watch, the migration Job, no
#      sandbox outside dev, service URLs resolve);
#   4. with a real kustomize, deploy/render.py must render the same resources, so the
#      fallback stays faithful (and the kustomizations stay within its subset);
#   5. placeholders: every rendered value still holding REPLACE is listed. The dev overlay must
#      hold none (it runs as is). An overlay whose name starts with `prod` fails with the list,
#      unless ALLOW_PLACEHOLDERS=1, which prints it as a warning: the committed prod overlay is
#      a template, so CI validates it with ALLOW_PLACEHOLDERS=1, and a real deployment's copy
#      (with its values filled in) without. Other overlays just list them;
#   6. deploy/breakages.py: deliberate breakages of the rendered overlay (a misspelt field in a
#      ScaledObject, a queue no adapter consumes, a password in a trigger, ...) must each fail
#      steps 2 and 3, so the checks above cannot silently stop checking.
# Before rendering an overlay it runs the overlay's own *.sh scripts, which make its git-ignored
# inputs (dev: the sandbox's Netopia keys). Exits non-zero on the first overlay that fails any step.
#
# Environment: RENDERER=auto|kustomize|kubectl|python (default auto),
#              K8S_VERSIONS="1.28.0 latest" (oldest supported and newest bundled schemas),
#              OVERLAYS="dev prod" (default: every directory under deploy/overlays),
#              ALLOW_PLACEHOLDERS=1 (REPLACE placeholders in prod* overlays warn instead of fail).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RENDERER=${RENDERER:-auto}
ALLOW_PLACEHOLDERS=${ALLOW_PLACEHOLDERS:-0}
K8S_VERSIONS=${K8S_VERSIONS:-"1.28.0 latest"}
PYTHON=${PYTHON:-python3}

say() { printf '%s\n' "$*"; }
die() { printf 'validate.sh: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "python3 is required"

# --- tools: PyYAML, jsonschema and kubernetes-validate (bundled schemas, no network when
# validating) -------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import yaml, jsonschema, kubernetes_validate' 2>/dev/null; then
    say "installing kubernetes-validate, jsonschema and PyYAML with pip"
    pkgs=(kubernetes-validate jsonschema PyYAML)
    "$PYTHON" -m pip install --quiet "${pkgs[@]}" 2>/dev/null \
        || "$PYTHON" -m pip install --quiet --user "${pkgs[@]}" 2>/dev/null \
        || "$PYTHON" -m pip install --quiet --break-system-packages "${pkgs[@]}" \
        || die "cannot install ${pkgs[*]}"
    "$PYTHON" -c 'import yaml, jsonschema, kubernetes_validate' || die "kubernetes-validate or jsonschema is not importable after install"
fi
validator=("$PYTHON" -m kubernetes_validate)
kv_version=$("${validator[@]}" --version)
versions=()
for v in $K8S_VERSIONS; do
    if [ "$v" = latest ]; then
        v=$("$PYTHON" -c 'import kubernetes_validate as k; print(k.latest_version())')
    fi
    versions+=("$v")
done

# --- renderer ---------------------------------------------------------------------------------
kustomize_major() { sed -n 's/.*Kustomize Version: v\{0,1\}\([0-9]*\).*/\1/p; s/^v\{0,1\}\([0-9][0-9]*\)\..*/\1/p' | head -n1; }
if [ "$RENDERER" = auto ]; then
    if command -v kustomize >/dev/null && [ "$(kustomize version 2>/dev/null | kustomize_major)" -ge 4 ] 2>/dev/null; then
        RENDERER=kustomize
    elif command -v kubectl >/dev/null && [ "$(kubectl version --client 2>/dev/null | kustomize_major)" -ge 4 ] 2>/dev/null; then
        RENDERER=kubectl    # kubectl 1.21+ embeds kustomize v4+; older ones cannot build these files
    else
        RENDERER=python
    fi
fi
case "$RENDERER" in
    kustomize) render() { kustomize build "$1"; }
               renderer_desc="kustomize $(kustomize version 2>/dev/null | head -n1)" ;;
    kubectl)   render() { kubectl kustomize "$1"; }
               renderer_desc="kubectl kustomize ($(kubectl version --client 2>/dev/null | tr '\n' ' '))" ;;
    python)    render() { "$PYTHON" "$here/render.py" "$1"; }
               renderer_desc="deploy/render.py (fallback renderer)" ;;
    *) die "RENDERER must be auto, kustomize, kubectl or python" ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${OVERLAYS:-}" ]; then
    overlays=($OVERLAYS)
else
    overlays=()
    for d in "$here"/overlays/*/; do overlays+=("$(basename "$d")"); done
fi
[ "${#overlays[@]}" -gt 0 ] || die "no overlays under $here/overlays"

say "renderer:   $renderer_desc"
say "validator:  kubernetes-validate $kv_version --strict, Kubernetes ${versions[*]}"
say "overlays:   ${overlays[*]}"

for o in "${overlays[@]}"; do
    dir="$here/overlays/$o"
    out="$tmp/$o.yaml"
    [ -d "$dir" ] || die "no overlay $dir"
    say ""
    say "== overlay $o"
    # An overlay's own scripts first make its git-ignored inputs (dev: the sandbox's throwaway
    # Netopia keys, overlays/dev/netopia-keys.sh); each keeps what already exists.
    for g in "$dir"/*.sh; do
        [ -e "$g" ] || continue
        bash "$g" || die "$o: $(basename "$g") failed"
    done
    render "$dir" >"$out" || die "$o: rendering failed"
    [ -s "$out" ] || die "$o: rendered nothing"

    # Custom resources against the vendored CRD schemas (strict); the rest goes on to
    # kubernetes-validate.
    "$PYTHON" "$here/crd_validate.py" "$out" "$tmp/$o.core.yaml" || die "$o: custom resource validation failed"

    # Strict schema validation; a WARN (unknown kind, no schema) fails too.
    kargs=()
    for v in "${versions[@]}"; do kargs+=(-k "$v"); done
    set +e
    "${validator[@]}" --strict "${kargs[@]}" "$tmp/$o.core.yaml" >"$tmp/$o.kv" 2>&1
    rc=$?
    set -e
    sed -e "s#$tmp/$o.core.yaml#$o#" "$tmp/$o.kv" | grep -v '^INFO' || true
    if [ "$rc" -ne 0 ] || grep -qE '^(ERROR|WARN|FATAL)' "$tmp/$o.kv" || ! grep -q '^INFO' "$tmp/$o.kv"; then
        die "$o: schema validation failed (kubernetes-validate rc=$rc)"
    fi
    for v in "${versions[@]}"; do
        n=$(grep -c "^INFO .* against version ${v%.*}" "$tmp/$o.kv" || true)
        say "schema     $n resources valid against Kubernetes ${v%.*} (strict)"
    done
    grep '^INFO' "$tmp/$o.kv" | sed -n "s#.* for resource \([^ ]*\) against version ${versions[0]%.*}.*#           \1#p"

    "$PYTHON" "$here/check.py" "$o" "$out" || die "$o: policy checks failed"

    # The fallback renderer must agree with kustomize wherever kustomize exists.
    if [ "$RENDERER" != python ]; then
        "$PYTHON" "$here/render.py" "$dir" >"$tmp/$o.fallback.yaml" || die "$o: deploy/render.py failed"
        "$PYTHON" - "$out" "$tmp/$o.fallback.yaml" <<'EOF' || die "$o: deploy/render.py disagrees with kustomize; fix render.py"
import sys, yaml
a, b = ([d for d in yaml.safe_load_all(open(p)) if d] for p in sys.argv[1:3])
key = lambda d: (d["kind"], d["metadata"].get("namespace") or "", d["metadata"]["name"])
a.sort(key=key); b.sort(key=key)
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("first difference in %s/%s" % key(x)[::2], file=sys.stderr)
            break
    else:
        print("resource lists differ: %s vs %s" % ([key(d) for d in a], [key(d) for d in b]), file=sys.stderr)
    sys.exit(1)
print("fallback   deploy/render.py renders the same %d resources" % len(a))
EOF
    fi

    # REPLACE placeholders left in rendered values (Secret data decoded).
    "$PYTHON" "$here/check.py" --placeholders "$out" >"$tmp/$o.placeholders" || die "$o: listing placeholders failed"
    n=$(grep -c . "$tmp/$o.placeholders" || true)
    if [ "$n" -eq 0 ]; then
        say "placeholders none"
    else
        case "$o" in
            dev)
                sed 's/^/           /' "$tmp/$o.placeholders" >&2
                die "$o: $n value(s) above still hold REPLACE; the dev overlay must run as is (give them dev values in overlays/dev/patches)" ;;
            prod*)
                if [ "$ALLOW_PLACEHOLDERS" = 1 ]; then
                    say "WARNING    $o: $n value(s) still hold REPLACE placeholders (allowed: ALLOW_PLACEHOLDERS=1, a template):"
                    sed 's/^/           /' "$tmp/$o.placeholders"
                else
                    printf '%s\n' "validate.sh: $o: $n value(s) still hold REPLACE placeholders:" >&2
                    sed 's/^/           /' "$tmp/$o.placeholders" >&2
                    die "$o: replace them before applying (deploy/README.md); to validate the committed template, set ALLOW_PLACEHOLDERS=1"
                fi ;;
            *)
                say "NOTE       $o: $n value(s) still hold REPLACE placeholders:"
                sed 's/^/           /' "$tmp/$o.placeholders" ;;
        esac
    fi

    # The checks must still catch what they are for: each deliberate breakage fails.
    "$PYTHON" "$here/breakages.py" "$o" "$out" || die "$o: a deliberate breakage passed the checks (deploy/breakages.py)"
done

say ""
say "all overlays valid: ${overlays[*]}"
