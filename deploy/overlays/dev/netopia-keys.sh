#!/usr/bin/env bash
# The sandbox's throwaway Netopia keys for the dev overlay, like `make up` makes them into
# .run/netopia (never committed, never production's): mobilPay's key pair (the sandbox opens
# orders with its private key, provider-netopia seals for its certificate) and the seller's
# (provider-netopia opens IPNs with its private key, the sandbox seals for its certificate).
# Writes them as a patch of the Secret paysys-netopia-keys into patches/netopia-keys.yaml
# (git-ignored), which the dev kustomization applies. Idempotent: an existing file is kept;
# delete it for new keys (then `kubectl -n paysys-dev rollout restart deployment`).
# deploy/validate.sh runs it too, so the dev overlay renders on a fresh clone.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/patches/netopia-keys.yaml"
[ -s "$out" ] && exit 0
command -v openssl >/dev/null || { echo "netopia-keys.sh: openssl is required" >&2; exit 1; }

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
identity() { # name common-name
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" \
    -keyout "$tmp/$1-private-key.pem" -out "$tmp/$1-certificate.pem" 2>"$tmp/openssl.err" \
    || { cat "$tmp/openssl.err" >&2; exit 1; }
}
identity netopia "mobilPay sandbox"
identity seller "PaySystem seller (sandbox)"

{
  echo "# Written by netopia-keys.sh: the sandbox's throwaway Netopia keys. Not committed, not production's."
  echo "apiVersion: v1"
  echo "kind: Secret"
  echo "metadata:"
  echo "  name: paysys-netopia-keys"
  echo "stringData:"
  for f in netopia-certificate netopia-private-key seller-certificate seller-private-key; do
    echo "  $f.pem: |"
    sed 's/^/    /' "$tmp/$f.pem"
  done
} >"$tmp/netopia-keys.yaml"
mv "$tmp/netopia-keys.yaml" "$out"
echo "netopia-keys.sh: wrote the sandbox's Netopia keys to $out"
