#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian packages utsfs needs to build, run and test, and any named
# as arguments; a no-op when all are there.
set -eu

PACKAGES="build-essential pkg-config meson ninja-build libfuse3-dev fuse3 \
libglib2.0-dev libglib2.0-bin python3-pytest util-linux mount procps tree \
systemd mandoc man-db mc tmux $*"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $missing
