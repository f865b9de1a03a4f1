#!/usr/bin/env bash
# Makes the certificates of the secure example (examples/secure/cloudgate.toml)
# with openssl: a CA for the gateway's certificate, a CA for client
# certificates, the gateway's certificate (localhost, 127.0.0.1) and two
# client certificates: billing (SAN URI spiffe://example.org/billing) and ops
# (subject CN=ops-console). Throwaway keys for trying cloudgate out: use your
# own PKI in production.
#
# Usage: bash examples/secure/make-pki.sh [DIR]   (default: examples/secure/pki)
set -euo pipefail
dir="${1:-$(dirname "$0")/pki}"
mkdir -p "$dir"
cd "$dir"
command -v openssl >/dev/null || { echo "make-pki.sh: openssl is required" >&2; exit 1; }

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name, subject
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
}

leaf() { # name, subject, CA name, extensions
    key "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
        -days 30 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=cloudgate example server CA"
ca clients-ca "/CN=cloudgate example clients CA"
leaf server "/CN=localhost" ca \
    "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
leaf billing "/CN=billing" clients-ca \
    "subjectAltName=URI:spiffe://example.org/billing
extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
leaf ops "/CN=ops-console" clients-ca \
    "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
chmod 600 ./*.key
echo "certificates in $(pwd): ca.pem server.pem clients-ca.pem billing.pem ops.pem (+ keys)"
