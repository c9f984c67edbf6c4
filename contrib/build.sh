#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what is missing and (re)build utsfs into ./build.
set -eu
cd "$(dirname "$0")/.."
contrib/install-deps.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
