#!/usr/bin/env bash
# Builds Brug and runs it on this machine for trying it out: installs what is
# missing, builds build/, makes a development certificate, gives the demo
# staff accounts fresh passwords and TOTP secrets, prints them and starts
# brugd.
#
# usage: scripts/run.sh
# environment: BRUG_STATE_DIR  state directory (default: the repository's
#                              state/, as config/brugd.conf says)
#              BRUG_PORT       port instead of the config's
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
conf=$repo/config/brugd.conf
brugd=$repo/build/daemon/brugd

# The value of KEY in config/brugd.conf (first match, without a " ;"
# comment), or DEFAULT.
conf_value() {
	local v
	v=$(sed -n "s/^[[:space:]]*$1[[:space:]]*[=:][[:space:]]*//p" "$conf" | head -n 1)
	v=${v%%[[:space:]];*}
	v=${v%"${v##*[![:space:]]}"}
	echo "${v:-$2}"
}

state=${BRUG_STATE_DIR:-$repo/state}
[[ $state == /* ]] || state=$PWD/$state
host=$(conf_value hostname localhost)
port=${BRUG_PORT:-$(conf_value port 8443)}
if [[ ! $port =~ ^[0-9]+$ ]]; then
	echo "run: BRUG_PORT must be a port number" >&2
	exit 2
fi

bash "$repo/scripts/setup.sh"

cd -- "$repo"
if [[ -f build/meson-private/coredata.dat ]]; then
	meson setup --reconfigure build >/dev/null
else
	meson setup build
fi
ninja -C build

bash "$repo/config/dev-cert.sh" "$state" "$host"

# Run a brugd command; its log lines are shown only if it fails.
run_brugd() {
	local log rc=0
	log=$(mktemp)
	"$brugd" -f "$conf" --state-dir "$state" "$@" 2>"$log" || rc=$?
	if ((rc != 0)); then
		echo "run: brugd $* failed:" >&2
		cat "$log" >&2
	fi
	rm -f -- "$log"
	return "$rc"
}

# Demo accounts: user, alias, roles, languages.
langs_all=$(conf_value languages "nl ar ti tr en")
langs_all=$(tr -s ' \t,' ',' <<<"$langs_all")
accounts=(
	"coordinator|Coordinator|coordinator,volunteer|$langs_all"
	"vol-nl|Anna|volunteer|nl,en"
	"vol-ar|Samira|volunteer|ar,en"
	"vol-ti|Yonas|volunteer|ti,en"
	"vol-tr|Elif|volunteer|tr,en"
	"vol-en|Sam|volunteer|en"
	"pro-nl|Dr. de Vries|professional|nl,en"
)

row() {
	printf '  %-12s %-18s %-14s %-22s %s' "$@"
}

existing=$(run_brugd staff list)
rows=()
uris=()
for account in "${accounts[@]}"; do
	IFS='|' read -r user alias roles langs <<<"$account"
	# Letters and digits only, so the password is easy to copy from a terminal.
	password=$(openssl rand -base64 24 | tr -dc 'A-Za-z0-9')
	password=${password:0:16}
	# printf is a shell builtin: the password never shows up in a process list.
	# Every account has a TOTP second factor: add prints its otpauth://
	# URI; an account from an earlier run gets a new secret (staff totp).
	if grep -Eq "^[[:space:]]*${user}([[:space:]]|$)" <<<"$existing"; then
		printf '%s\n' "$password" | run_brugd staff passwd "$user" >/dev/null
		uri=$(run_brugd staff totp "$user")
	else
		uri=$(printf '%s\n' "$password" | run_brugd staff add "$user" --alias "$alias" \
			--roles "$roles" --langs "$langs")
	fi
	rows+=("$(row "$user" "$password" "$alias" "$roles" "$langs")")
	uris+=("  $user: $uri")
done
unset password

if [[ $port == 443 ]]; then
	base=https://$host/
else
	base=https://$host:$port/
fi
cat <<EOF

Brug is starting.
  Visitors:  $base
  Staff:     ${base}staff/
  Your browser must trust the development CA: $state/ca.pem
  (Firefox: Settings > Certificates > Import; Chromium: Settings > Privacy
  and security > Security > Manage certificates > Authorities > Import.)

Demo accounts (passwords and TOTP secrets are new on every run):
EOF
row user password alias roles languages
echo
printf '%s\n' "${rows[@]}"
cat <<EOF

Logging in also needs the 6-digit code of an authenticator app. Add an
account to the app with its otpauth:// URI below (most apps take the secret
typed in; a coordinator's console shows QR codes for accounts it makes):
EOF
printf '%s\n' "${uris[@]}"
cat <<EOF
Or, for this local demo only, print an account's current code with
  build/daemon/brugd -f config/brugd.conf --state-dir $state staff code USER
A code works once; the next one comes every 30 seconds.
EOF
echo
echo "Stop with Ctrl-C."
echo

args=(-f "$conf" --state-dir "$state")
[[ -z ${BRUG_PORT:-} ]] || args+=(--port "$BRUG_PORT")
exec "$brugd" "${args[@]}"
