#!/usr/bin/env bash
# Creates a local certificate authority and a server certificate signed by it
# in STATE_DIR, for running brugd on a development machine or in tests.
# Never use these files in production: see docs/operations.md.
#
# usage: config/dev-cert.sh STATE_DIR [HOSTNAME]
#
# Files (keys mode 0600, STATE_DIR mode 0700):
#   ca.pem, ca-key.pem            the CA (EC P-256, 10 years); trust ca.pem
#   server.pem, server-key.pem    leaf + CA chain (825 days); SAN HOSTNAME,
#                                 localhost, 127.0.0.1 and ::1
# Idempotent: when server.pem is signed by ca.pem, matches its key and
# HOSTNAME, and is valid for more than 30 more days, nothing happens. The CA
# is kept as long as it is valid, so a browser that trusts it keeps working.
# Prints nothing unless it creates something.
set -euo pipefail

usage() {
	echo "usage: $0 STATE_DIR [HOSTNAME]" >&2
	exit 2
}

[[ $# -ge 1 && $# -le 2 && -n $1 ]] || usage
state_dir=$1
host=${2:-localhost}
if [[ ! $host =~ ^[A-Za-z0-9.:-]+$ ]]; then
	echo "dev-cert: '$host' is not a host name or IP address" >&2
	exit 2
fi
command -v openssl >/dev/null || { echo "dev-cert: openssl is not installed" >&2; exit 1; }

umask 077
mkdir -p -- "$state_dir"
chmod 0700 -- "$state_dir"
cd -- "$state_dir"

ca=ca.pem
ca_key=ca-key.pem
cert=server.pem
key=server-key.pem
min_valid=$((30 * 24 * 3600)) # seconds of validity left before renewing

# Scratch files live next to the results, so the final mv is atomic, and
# go away however the script ends.
tmp=$(mktemp -d ./.dev-cert.XXXXXX)
trap 'rm -rf -- "$tmp"' EXIT

# Run an openssl command that creates something; show its errors if it fails.
ossl() {
	if ! openssl "$@" 2>"$tmp/errors"; then
		echo "dev-cert: openssl $1 failed:" >&2
		cat "$tmp/errors" >&2
		exit 1
	fi
}

# True if the certificate in $1 and the private key in $2 belong together.
key_matches() {
	local a b
	a=$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null) || return 1
	b=$(openssl pkey -in "$2" -pubout 2>/dev/null) || return 1
	[[ -n $a && $a == "$b" ]]
}

# True if the certificate in $1 stays valid for more than 30 more days.
valid_long_enough() {
	openssl x509 -in "$1" -noout -checkend "$min_valid" >/dev/null 2>&1
}

ca_ok() {
	[[ -s $ca && -s $ca_key ]] && valid_long_enough "$ca" && key_matches "$ca" "$ca_key"
}

server_ok() {
	[[ -s $cert && -s $key ]] || return 1
	valid_long_enough "$cert" || return 1
	key_matches "$cert" "$key" || return 1
	openssl verify -CAfile "$ca" -purpose sslserver "$cert" >/dev/null 2>&1 || return 1
	if [[ $host == *:* || $host =~ ^[0-9.]+$ ]]; then
		openssl x509 -in "$cert" -noout -checkip "$host" 2>/dev/null | grep -q ' does match'
	else
		openssl x509 -in "$cert" -noout -checkhost "$host" 2>/dev/null | grep -q ' does match'
	fi
}

new_key() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
	chmod 0600 -- "$1"
}

serial() {
	echo "0x$(openssl rand -hex 16)"
}

made_ca=0
if ! ca_ok; then
	new_key "$tmp/ca-key.pem"
	cat >"$tmp/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = ca_ext
prompt = no
[dn]
CN = Brug local development CA
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
	ossl req -new -x509 -config "$tmp/ca.cnf" -key "$tmp/ca-key.pem" \
		-days 3650 -set_serial "$(serial)" -sha256 -out "$tmp/ca.pem"
	mv -f -- "$tmp/ca-key.pem" "$ca_key"
	mv -f -- "$tmp/ca.pem" "$ca"
	chmod 0644 -- "$ca"
	made_ca=1
	echo "dev-cert: created a local CA in $PWD/$ca"
fi

if [[ $made_ca == 1 ]] || ! server_ok; then
	# SAN entries: HOSTNAME first, then the loopback names, without repeats.
	san=()
	for name in "$host" localhost 127.0.0.1 ::1; do
		if [[ $name == *:* || $name =~ ^[0-9.]+$ ]]; then
			entry="IP:$name"
		else
			entry="DNS:$name"
		fi
		[[ " ${san[*]} " == *" $entry "* ]] || san+=("$entry")
	done
	san_list=$(IFS=,; echo "${san[*]}")

	new_key "$tmp/server-key.pem"
	ossl req -new -key "$tmp/server-key.pem" -subj "/CN=$host" -out "$tmp/server.csr"
	cat >"$tmp/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san_list
EOF
	ossl x509 -req -in "$tmp/server.csr" -CA "$ca" -CAkey "$ca_key" -set_serial "$(serial)" \
		-days 825 -sha256 -extfile "$tmp/server.ext" -out "$tmp/leaf.pem"
	cat "$tmp/leaf.pem" "$ca" >"$tmp/server.pem"
	chmod 0644 -- "$tmp/server.pem"
	mv -f -- "$tmp/server-key.pem" "$key"
	mv -f -- "$tmp/server.pem" "$cert"
	echo "dev-cert: created a certificate for ${san_list} in $PWD/$cert"
fi
