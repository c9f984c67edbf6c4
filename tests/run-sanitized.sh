#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite against an AddressSanitizer + UBSan build (build-asan/).
set -eu
cd "$(dirname "$0")/.."
tests/install-test-deps.sh
[ -f build-asan/build.ninja ] ||
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan
# UBSan reports are fatal; the tests' output checker fails on ASan reports.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-asan --print-errorlogs
UTSFS_BIN="$PWD/build-asan/fs/utsfs" exec /usr/bin/python3 -m pytest -ra tests "$@"
