#!/usr/bin/env bash
# Installs the off-the-shelf peers that interop tests talk to. Idempotent and quiet: run it
# before `cargo test` on a fresh machine. One line (or guard) per peer; add yours below.
set -euo pipefail

# provider-netopia tests/php_interop.rs: PHP's openssl_seal/openssl_open and DOM, as mobilPay's
# PHP SDK uses them (Debian bookworm: php-cli brings openssl, php-xml brings dom).
if ! command -v php >/dev/null 2>&1 || ! php -r 'exit(extension_loaded("dom") ? 0 : 1);' 2>/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq php-cli php-xml >/dev/null
fi

# provider-netopia tests/soap_zeep.rs: Python zeep loads our WSDL and calls the SOAP operations.
python3 -c 'import zeep' >/dev/null 2>&1 ||
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore zeep

# paysys-tests tests/netopia_browser.rs: the card journey in headless Chromium over WebDriver
# (Debian's chromium and chromium-driver; no browser download).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# paysys-tests tests/grpc_typed.rs: a Python gRPC client generated from proto/ with grpc_tools.protoc
# calls the typed PaySystem RPCs and lists the services through server reflection, with and
# without the internal token (gRPC health answers without it).
python3 -c 'import grpc, grpc_tools.protoc, grpc_reflection.v1alpha.proto_reflection_descriptor_database, grpc_health.v1.health_pb2' >/dev/null 2>&1 ||
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore grpcio grpcio-tools grpcio-reflection grpcio-health-checking

# make test: deploy/alerts/paysys-alerts.yml is checked by a real promtool (Debian's prometheus
# package). Its postinst would start a Prometheus on :9090 (the sandbox's port): a policy-rc.d
# forbids starting services during the install, unless the machine already has one.
if ! command -v promtool >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
