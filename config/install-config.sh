#!/bin/sh
# meson install step: put the example config in place as brugd.conf unless
# there is one already, so that reinstalling never overwrites an admin's
# settings.
# usage (from meson): install-config.sh EXAMPLE DEST   (DEST absolute; DESTDIR honoured)
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ]; then
	echo "Keeping the existing $dest"
	exit 0
fi
install -d -m 0755 "$(dirname -- "$dest")"
install -m 0644 "$src" "$dest"
echo "Installing $src to $dest"
