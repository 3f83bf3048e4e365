#!/usr/bin/env bash
# Make a development CA and certificates for a TLS mosquitto: NOT for production.
#
#   deploy/mosquitto/make-dev-certs.sh [OUT_DIR] [EXTRA_HOST_NAME...]
#
# Writes to OUT_DIR (default: deploy/mosquitto/certs):
#   ca.crt, ca.key          the development CA (give ca.crt to clients: MODAX_MQTT_CA_FILE)
#   server.crt, server.key  the broker's certificate for localhost, 127.0.0.1, ::1, mosquitto
#                           and every EXTRA_HOST_NAME
#   client.crt, client.key  a client certificate (CN=ingester) for require_certificate true
set -euo pipefail

out="${1:-$(dirname "$0")/certs}"
shift || true
days=825
san="DNS:localhost,DNS:mosquitto,IP:127.0.0.1,IP:::1"
for name in "$@"; do
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then
        san="$san,IP:$name"
    else
        san="$san,DNS:$name"
    fi
done

mkdir -p "$out"
cd "$out"
umask 077

openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -sha256 \
    -subj "/CN=modax development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.crt 2>/dev/null

sign() {  # sign NAME CN EXTENSIONS
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%b' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -days "$days" -sha256 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

common="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
common="${common}subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
sign server localhost "${common}extendedKeyUsage=serverAuth\nsubjectAltName=$san\n"
sign client ingester "${common}extendedKeyUsage=clientAuth\n"
rm -f ca.srl
chmod 644 ca.crt server.crt client.crt
# mosquitto may run as its own user: let it read its key.
chmod 644 server.key

echo "wrote ca.crt, server.crt/.key, client.crt/.key to $(pwd) (SAN: $san)"
