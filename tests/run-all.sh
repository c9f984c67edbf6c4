#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build utsfs and run every test: the C unit tests, then the pytest suites (as root).
set -eu
cd "$(dirname "$0")/.."
tests/install-test-deps.sh
contrib/build.sh
meson test -C build --print-errorlogs
# Debian's pytest: the python3 first on PATH may be another one without it.
exec /usr/bin/python3 -m pytest -ra tests "$@"
