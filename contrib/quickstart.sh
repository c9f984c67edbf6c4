#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build utsfs and run it mounted at /ns in the foreground; Ctrl-C unmounts.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "quickstart: run as root: utsfs creates namespaces and mounts" >&2
	exit 1
fi
contrib/build.sh
mkdir -p /ns
cat <<'TRY'

utsfs is mounted at /ns (state in /run/utsfs). In another shell, try:

  mkdir /ns/web                      # a new UTS namespace, hostname "web"
  echo web01 > /ns/web/hostname      # sethostname inside it
  cat /ns/web/hostname /ns/web/id    # its hostname and its nsfs inode number
  nsenter --uts=/ns/web/ns hostname  # the same, seen from inside
  ls -l /ns /ns/web
  mv /ns/web /ns/www; rmdir /ns/www

Namespaces outlive this process: start it again and they are back.
Press Ctrl-C here to unmount.

TRY
exec build/fs/utsfs -f /ns
