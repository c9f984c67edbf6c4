#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what utsfs needs plus what only its tests use (editors driven as
# people use them, strace to hold the daemon mid-operation); the quick start
# installs none of these.
set -eu
cd "$(dirname "$0")/.."
exec contrib/install-deps.sh nano vim strace "$@"
