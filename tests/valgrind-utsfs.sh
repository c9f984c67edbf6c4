#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# utsfs under valgrind, for UTSFS_BIN: any invalid access or definite/indirect
# leak prints a ==PID== report (which the tests' output checker fails on) and
# makes the daemon exit 99 instead of 0.
here=$(dirname "$0")
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--suppressions="$here/valgrind-libfuse.supp" \
	"${UTSFS_VALGRIND_BIN:-$here/../build/fs/utsfs}" "$@"
